"""Data-privacy requests (Philippine Data Privacy Act of 2012): access, erasure, retention."""
