"""Incentives (R19) and department verification (R20): catalogue, eligibility, pseudonyms."""
