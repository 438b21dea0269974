"""The benchmark: ``.venv/bin/python -m bench`` (see README, "Benchmark"). Not a test."""
