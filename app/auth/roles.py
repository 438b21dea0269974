from enum import StrEnum


class Role(StrEnum):
    """What a caller may do. Each route names the roles it admits in its signature."""

    admin = "admin"
    """Runs the service: keys, agencies, policies, everything."""
    staff = "staff"
    """CPro program staff at the CSI: candidates, transitions, frameworks authoring."""
    assessor = "assessor"
    """Scores the assessments assigned to them."""
    agency = "agency"
    """An agency's HRIS: its own agency's candidates only."""
    reader = "reader"
    """Integrators: read frameworks, indicators and qualification standards."""
