from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
        json_schema_extra={"examples": [{"reason": "Issued in error: scores were re-entered"}]},
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


StatusListId = Annotated[
    str,
    StringConstraints(pattern=r"^[1-9][0-9]{0,8}-[A-Za-z0-9_-]{43}$", max_length=53),
    Field(examples=["1-kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"]),
]
AchievementSlug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100),
    Field(examples=["certificate-in-leadership-and-management"]),
]


class _JsonLd(BaseModel):
    """A JSON-LD document; only the members every consumer relies on are described."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str] = Field(
        alias="@context",
        examples=[
            [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            ]
        ],
    )
    id: str
    type: list[str]


class VerificationMethodOut(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(
        examples=["https://cpro.csc.gov.ph/v1/issuer#kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"]
    )
    type: Literal["Multikey"]
    controller: str
    public_key_multibase: str = Field(
        alias="publicKeyMultibase", examples=["z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"]
    )
    status: Literal["current", "retired"] = Field(
        description="`current`: signs new credentials. `retired`: verifies the credentials it "
        "signed before a rotation, signs no new one."
    )
    retired_at: datetime | None = Field(default=None, alias="retiredAt")


class IssuerProfileOut(_JsonLd):
    """The issuer, an Open Badges 3.0 `Profile`, with the public keys that sign credentials."""

    name: str = Field(examples=["Civil Service Commission"])
    url: str = Field(examples=["https://csc.gov.ph"])
    description: str
    verification_method: list[VerificationMethodOut] = Field(alias="verificationMethod")
    assertion_method: list[str] = Field(alias="assertionMethod")
    jwks_uri: str = Field(examples=["https://cpro.csc.gov.ph/.well-known/jwks.json"])


class AlignmentOut(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: list[str] = Field(examples=[["Alignment"]])
    target_type: Literal["CFItem"] = Field(alias="targetType")
    target_name: str = Field(alias="targetName", examples=["Leading Change"])
    target_url: str = Field(
        alias="targetUrl", description="The competency's CASE `CFItem` on this service."
    )
    target_code: str = Field(alias="targetCode")
    target_framework: str = Field(alias="targetFramework")


class AchievementOut(_JsonLd):
    """The Open Badges 3.0 `Achievement` that every certificate's credential names."""

    achievement_type: str = Field(alias="achievementType", examples=["Certificate"])
    name: str = Field(examples=["Certificate in Leadership and Management"])
    description: str
    criteria: dict[str, str]
    image: dict[str, str]
    alignment: list[AlignmentOut]


class JwkOut(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]
    status: Literal["current", "retired"]
    retired_at: datetime | None = Field(default=None, alias="retiredAt")


class JwksOut(BaseModel):
    keys: list[JwkOut]
