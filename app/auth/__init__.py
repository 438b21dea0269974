"""Who is calling: API keys, roles, and the per-route declaration of who may call."""
