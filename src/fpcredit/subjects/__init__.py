"""Data-subject rights (PIPL arts. 44–48): the citizen's export of their file, and feedback."""
