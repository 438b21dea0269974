"""CPro candidates: records synced from agency HRIS systems and their path through the program."""
