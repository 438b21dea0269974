from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.certificates.events import RevocationCategory

Serial = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9-]{1,40}$"),
    Field(examples=["CPRO-7K3M-Q9XA-2H8D-W4PZ"]),
]


class CertificateOut(BaseModel):
    """What anyone may verify about a certificate."""

    serial: str = Field(examples=["CPRO-7K3M-Q9XA-2H8D-W4PZ"])
    status: Literal["valid", "revoked"]
    title: str = Field(examples=["Certificate in Leadership and Management"])
    holder_name: str = Field(examples=["Maria Santos"])
    issued_on: date
    issuer: str = Field(examples=["Civil Service Commission (Philippines)"])
    revoked_at: datetime | None
    revocation_reason: str | None
    credential_url: str = Field(
        description="The same certificate as a signed Open Badges 3.0 credential (VC-JWT)."
    )


class RevocationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "Issued in error: scores were re-entered", "category": "issued_in_error"}
            ]
        },
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    category: RevocationCategory = Field(
        default="other",
        description="What kind of reason: the change feed and webhooks carry this, never the "
        "free-text `reason`.",
    )
