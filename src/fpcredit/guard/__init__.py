"""Guarding personal data: encryption at rest and blind indexes (more controls come later)."""
