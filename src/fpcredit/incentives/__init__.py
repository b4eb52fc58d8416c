"""Application services of the grade: incentives and the points ledger (R19–R21)."""
