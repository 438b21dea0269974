from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AgencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$", max_length=32),
    Field(
        description="The agency's short code: upper-case letters, digits and dashes.",
        examples=["DOH"],
    ),
]


class AgencyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Department of Health"}]}
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class AgencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["DOH"])
    name: str = Field(examples=["Department of Health"])
    created_at: datetime
    updated_at: datetime
