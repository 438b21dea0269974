import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.agencies.schemas import AgencyCode

EventType = Literal[
    "candidate.created",
    "candidate.updated",
    "candidate.transitioned",
    "assessment.released",
    "certificate.issued",
    "certificate.revoked",
    "orientation.registered",
]
EVENT_TYPES_DOC = (
    "`candidate.created`, `candidate.updated`, `candidate.transitioned` (`from`, `to`), "
    "`assessment.released` (`assessment_id`, `kind`, `outcome`, `passed_count`), "
    "`certificate.issued` (`serial`, `assessment_id`), `certificate.revoked` (`serial`, "
    "`assessment_id`, `reason_category`), `orientation.registered` (`session_id`)."
)
WebhookUrl = Annotated[str, StringConstraints(min_length=8, max_length=2000)]


class CandidateEventOut(BaseModel):
    cursor: str = Field(description="Resume after this event by passing it as `after`.")
    id: uuid.UUID = Field(description="Unique event id (also the webhook `webhook-id`).")
    type: str = Field(examples=["candidate.transitioned"], description=EVENT_TYPES_DOC)
    candidate_id: uuid.UUID
    agency: str | None
    data: dict[str, Any] = Field(
        description="Ids, status, version and the names of changed fields; never personal data.",
        examples=[{"external_id": "EMP-1", "version": 3, "from": "oriented", "to": "enrolled"}],
    )
    occurred_at: datetime


class CandidateEventPage(BaseModel):
    items: list[CandidateEventOut]
    next_cursor: str | None = Field(
        description="Pass as `after` to continue: the last item's cursor, or the `after` you sent "
        "when nothing new has happened yet (null only when the feed is empty)."
    )


class WebhookSubscriptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hris.doh.gov.ph/cpro/webhooks",
                    "events": ["candidate.transitioned"],
                }
            ]
        },
    )

    url: WebhookUrl
    events: list[EventType] = Field(min_length=1, max_length=10, description=EVENT_TYPES_DOC)
    agency: AgencyCode | None = Field(
        default=None,
        description="Admin only: receive one agency's events (default all). Agency keys always get their own.",
    )


class WebhookSubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)

    id: uuid.UUID
    url: str
    events: list[str]
    agency: str | None = Field(validation_alias="agency_code")
    active: bool
    created_at: datetime
    attempts: int = Field(description="Failed attempts at the event now being delivered.")
    next_attempt_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="After a secret rotation: until when the previous secret signs too.",
    )


class WebhookSubscriptionCreated(WebhookSubscriptionOut):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown only here. Verify `webhook-signature` with it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: uuid.UUID
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    succeeded: bool
    at: datetime


class WebhookSubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool | None = Field(
        default=None, description="false pauses deliveries; true resumes them where they stopped."
    )
    url: WebhookUrl | None = None
    events: list[EventType] | None = Field(
        default=None, min_length=1, max_length=10, description=EVENT_TYPES_DOC
    )


class SecretRotationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 86400}]}
    )

    overlap_seconds: int = Field(
        default=86400,
        ge=0,
        le=7 * 86400,
        description="How long the previous secret keeps signing as well (0: not at all; at "
        "most 7 days).",
    )
