"""A candidate's progress through CPro, derived from the records of every area (read only)."""
