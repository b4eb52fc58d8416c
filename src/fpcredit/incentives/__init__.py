"""What the grade is worth (R19–R21): the incentive catalogue, eligibility, department
verification with pseudonyms, and the points ledger."""
