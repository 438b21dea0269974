"""The audit trail: who changed or read what, when; append-only, enforced by the database."""
