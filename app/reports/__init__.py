"""Reports across candidates and results (cohorts)."""
