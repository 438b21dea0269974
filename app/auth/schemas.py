import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.agencies.schemas import AgencyCode
from app.auth.roles import KEY_ROLES, Role


def _key_role(role: Role) -> Role:
    if role not in KEY_ROLES:
        raise ValueError("candidates sign in with a portal token; no key holds this role")
    return role


KeyRole = Annotated[Role, AfterValidator(_key_role)]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"role": "agency", "agency": "DOH", "name": "DOH HRIS sync"},
                {"role": "reader", "name": "Job standards integrator"},
            ]
        },
    )

    role: KeyRole
    agency: AgencyCode | None = Field(
        default=None, description="Required for, and only for, role `agency`."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(description="Who or what holds the key, for people reading the key list.")
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)

    id: uuid.UUID
    name: str
    role: Role
    agency: str | None = Field(validation_alias="agency_code")
    prefix: str = Field(
        description="The first characters of the key, to tell keys apart.", examples=["cpro_Ab3dE9"]
    )
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    expires_at: datetime | None = Field(
        default=None, description="Set by rotation: the key stops working at this time."
    )


class RotationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 86400}]}
    )

    overlap_seconds: int = Field(
        default=86_400,
        ge=0,
        le=604_800,
        description="How long the old key keeps working, 0 to 604800 (7 days); default 1 day.",
    )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        description="The secret. Shown only in this response; store it now.",
        examples=["cpro_3q2-Z0eJr0kQbq9s6z3b0mX7cQ1w2V4yT8uP5nR6aL0"],
    )
