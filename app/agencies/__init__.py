"""Government agencies: the tenants whose HRIS systems sync their candidates."""
