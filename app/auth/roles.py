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
    candidate = "candidate"
    """A candidate signed in to the CSI portal (bearer token only): their own record and
    self-assessment, nothing else."""


KEY_ROLES = frozenset({Role.admin, Role.staff, Role.assessor, Role.agency, Role.reader})
"""Roles an API key can hold. A candidate is a person signed in to the portal, never a machine
with a key: candidates come only from the identity provider's tokens."""

TOKEN_ROLES = frozenset({Role.staff, Role.assessor, Role.reader, Role.candidate})
"""Roles a portal token can grant. Not ``admin``: a compromised or misconfigured identity
provider must not be able to mint operators of this service (keys, agencies, policies), so
admin stays with the keys this service issues itself. Not ``agency``: an agency is a machine
(an HRIS) bound to one agency code that the token could not carry trustworthily, and its keys
are issued and revoked here."""
