import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 412,
                    "at": "2026-11-23T02:40:11.204Z",
                    "actor_key_id": "8a3c0f7e-9d55-4c1c-9a47-3f7e9b1c2d10",
                    "actor_subject": None,
                    "actor_name": "CSI portal",
                    "operation": "candidate.update",
                    "entity_type": "candidate",
                    "entity_id": "0b9e2f8c-6f51-4a8d-9a3e-6f1d2c3b4a59",
                    "before": {"position_title": "Administrative Officer V"},
                    "after": {"position_title": "Supervising Administrative Officer"},
                    "request_id": "5f1c9a0e2b7d4c3a8e6f0d1b2a3c4e5f",
                }
            ]
        },
    )

    id: int = Field(description="Increases with every entry; the list's order.")
    at: datetime = Field(description="When the transaction that wrote the entry began.")
    actor_key_id: uuid.UUID | None = Field(description="The API key used; null for the service.")
    actor_subject: str | None = Field(description="The token subject, for portal tokens.")
    actor_name: str = Field(description="The key's name, or `system` for the service itself.")
    operation: str = Field(
        description="What was done: `read`, or `<entity>.<change>` such as `candidate.update`."
    )
    entity_type: str = Field(examples=["candidate"])
    entity_id: str
    before: dict[str, Any] | None = Field(
        description="For changes: the changed fields' previous values. Null for reads."
    )
    after: dict[str, Any] | None = Field(
        description="For changes: the changed fields' new values. Null for reads."
    )
    request_id: str | None = Field(description="The request's `X-Request-ID`, to match logs.")
