"""Tests of cases: objections, repair, corrections, reviews, the working-day calendar."""
