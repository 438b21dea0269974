"""The written notice of acceptance, as a printable page or as JSON."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import acceptance
from app.candidates.service import read_candidate
from app.candidates.state import Track
from app.core.database import Session
from app.core.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["Candidates"])

NoticeReader = Annotated[
    Caller, Depends(Allow(Role.admin, Role.staff, Role.agency, Role.candidate))
]


class AcceptanceNoticeOut(BaseModel):
    reference: str = Field(examples=["CPRO-ACC-20261202-4211"])
    candidate_id: uuid.UUID
    candidate_name: str = Field(examples=["Maria Santos"])
    position_title: str | None = Field(examples=["Supervising Administrative Officer"])
    agency: str | None = Field(examples=["DOH"])
    agency_name: str | None = Field(examples=["Department of Health"])
    priority: int | None = Field(examples=[2])
    priority_reason: str | None
    track: Track
    track_name: str = Field(examples=["Training Track"])
    accepted_at: datetime = Field(description="When the candidate was enrolled.")
    next_step: str
    issuer: str = Field(examples=[acceptance.ISSUER])


def _wants_json(accept: str | None) -> bool:
    """True when ``Accept`` prefers JSON to HTML (HTML is the default: the notice is a
    letter)."""
    if not accept:
        return False
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))

    def q_of(media: str) -> float:
        kind = media.split("/")[0]
        return quality.get(media, quality.get(f"{kind}/*", quality.get("*/*", 0.0)))

    return q_of("application/json") > q_of("text/html")


@router.get(
    "/candidates/{candidate_id}/acceptance-notice",
    response_model=None,
    responses={
        200: {
            "model": AcceptanceNoticeOut,
            "description": "The notice: a printable HTML page (the default), or JSON with "
            "`Accept: application/json`.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 404, 409),
    },
    summary="The written notice of acceptance",
)
async def get_acceptance_notice(
    candidate_id: uuid.UUID,
    session: Session,
    caller: NoticeReader,
    accept: Annotated[str | None, Header(max_length=1000, include_in_schema=False)] = None,
) -> Response:
    """Accepted enrollees are informed of their acceptance in writing (CPro FAQ): from the
    candidate's move to `enrolled`, this is that notice: candidate, position, agency,
    priority, track, date of acceptance and the next step. A printable, self-contained HTML
    page by default (no scripts, images or external assets); JSON with
    `Accept: application/json`. 409 before enrollment. Agency keys: their own agency's
    candidates; a portal token: its own notice."""
    candidate = await read_candidate(session, caller, candidate_id)
    notice = await acceptance.notice_for(session, candidate)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}
    if _wants_json(accept):
        body = AcceptanceNoticeOut(
            reference=notice.reference,
            candidate_id=notice.candidate_id,
            candidate_name=notice.candidate_name,
            position_title=notice.position_title,
            agency=notice.agency_code,
            agency_name=notice.agency_name,
            priority=notice.priority,
            priority_reason=notice.priority_reason,
            track=notice.track,
            track_name=notice.track_name,
            accepted_at=notice.accepted_at,
            next_step=notice.next_step,
            issuer=notice.issuer,
        )
        return JSONResponse(body.model_dump(mode="json"), headers=headers)
    return HTMLResponse(
        acceptance.render_html(notice),
        headers=headers | {"Content-Security-Policy": acceptance.CONTENT_SECURITY_POLICY},
    )
