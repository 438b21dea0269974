"""The written notice of acceptance (CPro FAQ: accepted enrollees "shall be informed of their
acceptance in writing"), derived from the candidate's record and its latest move to
``enrolled``: nothing is stored twice, and a re-enrollment gives a new notice.

Rendered as one self-contained, printable HTML page (inline styles, no scripts, no images, no
links to anything else) or as JSON for the portal to lay out itself.
"""

import html
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agencies.models import Agency
from app.candidates.models import Candidate, CandidateTransition
from app.candidates.schemas import PRIORITY_REASONS
from app.candidates.service import effective_status
from app.candidates.state import Status, Track
from app.core.errors import Conflict

TRACK_NAMES = {
    Track.rpl: "Recognition of Prior Learning (RPL) Track",
    Track.training: "Training Track",
}
NEXT_STEPS = {
    Track.rpl: "Take the Pre-Qualifying Written Test. Once you pass it, build your portfolio "
    "for the assessment (written test, portfolio review and behavioral event interview).",
    Track.training: "Attend the 10-day Leadership and Management Development Course (LMDC): "
    "five modules, one per competency. You will then propose two project briefs for your "
    "90-day Action Learning Project.",
}
ISSUER = "Civil Service Institute, Civil Service Commission (Philippines)"
PROGRAM = "Leadership and Management Certification Program (CPro)"
# The page may load nothing at all: only its own inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class AcceptanceNotice:
    reference: str
    candidate_id: uuid.UUID
    candidate_name: str
    position_title: str | None
    agency_code: str | None
    agency_name: str | None
    priority: int | None
    priority_reason: str | None
    track: Track
    track_name: str
    accepted_at: datetime
    next_step: str
    issuer: str = ISSUER


async def notice_for(session: AsyncSession, candidate: Candidate) -> AcceptanceNotice:
    """The notice of the candidate's latest enrollment; 409 before they are enrolled."""
    enrollment = await session.scalar(
        select(CandidateTransition)
        .where(
            CandidateTransition.candidate_id == candidate.id,
            CandidateTransition.to_status == Status.enrolled.value,
        )
        .order_by(CandidateTransition.id.desc())
        .limit(1)
    )
    if enrollment is None or candidate.track is None:
        status = effective_status(candidate)
        raise Conflict(
            f"The candidate is {status.value}: the notice of acceptance is written on enrollment.",
            current_status=status.value,
        )
    agency = await session.get(Agency, candidate.agency_code) if candidate.agency_code else None
    track = Track(enrollment.data.get("track") or candidate.track)
    return AcceptanceNotice(
        reference=f"CPRO-ACC-{enrollment.at:%Y%m%d}-{enrollment.id}",
        candidate_id=candidate.id,
        candidate_name=f"{candidate.given_name} {candidate.family_name}",
        position_title=candidate.position_title,
        agency_code=candidate.agency_code,
        agency_name=agency.name if agency else None,
        priority=candidate.priority,
        priority_reason=PRIORITY_REASONS.get(candidate.priority) if candidate.priority else None,
        track=track,
        track_name=TRACK_NAMES[track],
        accepted_at=enrollment.at,
        next_step=NEXT_STEPS[track],
    )


_STYLE = """
body { font-family: Georgia, "Times New Roman", serif; color: #111; margin: 0; background: #eee; }
main { max-width: 46rem; margin: 2rem auto; background: #fff; padding: 3rem 3.5rem; }
header { border-bottom: 2px solid #111; margin-bottom: 2rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
.issuer { margin: 0 0 1rem; font-size: 1rem; }
dl { display: grid; grid-template-columns: 11rem 1fr; gap: .4rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; }
.next { border: 1px solid #111; padding: 1rem; margin-top: 1.5rem; }
footer { margin-top: 3rem; font-size: .85rem; color: #444; }
@media print {
  body { background: #fff; }
  main { margin: 0; padding: 0; max-width: none; }
  @page { size: A4; margin: 2cm; }
}
@media (max-width: 40rem) {
  main { margin: 0; padding: 1.5rem; }
  dl { grid-template-columns: 1fr; }
}
"""


def render_html(notice: AcceptanceNotice) -> str:
    """The notice as one printable page; every value is escaped."""

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    agency = (
        f"{e(notice.agency_name)} ({e(notice.agency_code)})" if notice.agency_code else "not stated"
    )
    priority = (
        f"{e(notice.priority)}: {e(notice.priority_reason)}" if notice.priority else "not stated"
    )
    position = e(notice.position_title) if notice.position_title else "not stated"
    accepted_on = notice.accepted_at.date().isoformat()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Notice of Acceptance: {e(notice.candidate_name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<header>
<p class="issuer">{e(notice.issuer)}</p>
<h1>Notice of Acceptance</h1>
<p>{e(PROGRAM)}</p>
</header>
<p>Reference <strong>{e(notice.reference)}</strong>, dated <time datetime="{accepted_on}">{accepted_on}</time></p>
<p>Dear {e(notice.candidate_name)},</p>
<p>We are pleased to inform you that you are accepted as an enrollee of the {e(PROGRAM)}.</p>
<dl>
<dt>Candidate</dt><dd>{e(notice.candidate_name)}</dd>
<dt>Position</dt><dd>{position}</dd>
<dt>Agency</dt><dd>{agency}</dd>
<dt>Priority</dt><dd>{priority}</dd>
<dt>Track</dt><dd>{e(notice.track_name)}</dd>
<dt>Date of acceptance</dt><dd>{accepted_on}</dd>
</dl>
<section class="next">
<h2>Your next step</h2>
<p>{e(notice.next_step)}</p>
</section>
<footer>
<p>{e(notice.issuer)}. Candidate id {e(notice.candidate_id)}.</p>
</footer>
</main>
</body>
</html>
"""
