"""Assessments: instruments, scores, the CPro assessment policy and computed results."""
