"""Submission: refused without coverage, frozen once made, named by the round that reviews
it; a supplemental round needs only the failed competencies."""

import hashlib
import json
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.portfolios.models import PortfolioSubmission
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.portfolios import files
from tests.portfolios.building import add_entry, cover, indicators_of, portfolio, upload


def _digest(entries: list[dict[str, Any]]) -> str:
    """SHA-256 of the entries as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def _submissions(session: AsyncSession, cid: str) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(PortfolioSubmission)
            .where(PortfolioSubmission.candidate_id == cid)
        )
        or 0
    )


async def test_submit_is_refused_listing_the_uncovered_competencies(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    codes = [c["code"] for c in (await portfolio(portal, staff, cid))["competencies"]]
    assert len(codes) == 5
    await cover(portal, session, staff, cid, codes[:3])
    refused = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert refused.status_code == 422, refused.text
    assert refused.json()["uncovered"] == codes[3:]
    assert [e["field"] for e in refused.json()["errors"]] == [
        f"portfolio.competencies.{c}" for c in codes[3:]
    ]
    assert await _submissions(session, cid) == 0
    assert (await portfolio(portal, staff, cid))["uncovered"] == codes[3:]

    await cover(portal, session, staff, cid, codes[3:])
    submitted = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["number"] == 1 and submitted.json()["evidence_count"] == 5


async def test_the_snapshot_is_what_the_round_reviews_whatever_is_edited_later(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    codes = [c["code"] for c in (await portfolio(portal, staff, cid))["competencies"]]
    entries = await cover(portal, session, staff, cid, codes)
    pdf = files.pdf_bytes()
    document = (await upload(portal, staff, cid, entries[0]["id"], pdf)).json()
    submitted = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert submitted.status_code == 201, submitted.text
    snapshot = submitted.json()
    assert snapshot["digest"] == _digest(snapshot["entries"])
    first = next(e for e in snapshot["entries"] if e["id"] == entries[0]["id"])
    assert first["documents"][0]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert (await portfolio(portal, staff, cid))["status"] == "submitted"

    # Edits make a new draft; the snapshot stays as it was, documents of removed entries too.
    patched = await portal.patch(
        f"/v1/candidates/{cid}/portfolio/evidence/{entries[1]['id']}",
        json={"title": "Renamed after submission", "description": None},
        headers=staff,
    )
    assert patched.status_code == 200, patched.text
    removed = await portal.delete(
        f"/v1/candidates/{cid}/portfolio/evidence/{entries[0]['id']}", headers=staff
    )
    assert removed.status_code == 204
    draft = await portfolio(portal, staff, cid)
    assert draft["status"] == "draft" and draft["uncovered"] == [entries[0]["competency"]]
    path = f"/v1/candidates/{cid}/portfolio/submissions/{snapshot['id']}"
    again = (await portal.get(path, headers=staff)).json()
    assert again["entries"] == snapshot["entries"] and again["digest"] == snapshot["digest"]
    kept = await portal.get(document["href"], headers=staff)
    assert kept.status_code == 200 and kept.content == pdf

    # A round opened now reviews that snapshot, and says so in the round and its result.
    assessment = await open_round(portal, staff, cid)
    assert assessment["portfolio_submission"]["id"] == snapshot["id"]
    assert assessment["portfolio_submission"]["digest"] == snapshot["digest"]
    reviewed = await portal.get(f"/v1/assessments/{assessment['id']}/evidence", headers=staff)
    assert [e["title"] for e in reviewed.json()] == [e["title"] for e in snapshot["entries"]]
    # While it is under review the draft is locked, and the old evidence route refuses too.
    locked = await portal.patch(
        f"/v1/candidates/{cid}/portfolio/evidence/{entries[1]['id']}",
        json={"title": "During review"},
        headers=staff,
    )
    assert locked.status_code == 409
    assert (await portfolio(portal, staff, cid))["editable"] is False
    legacy = await portal.post(
        f"/v1/assessments/{assessment['id']}/evidence",
        json={"competency": codes[0], "title": "x", "indicators": entries[0]["indicators"]},
        headers=staff,
    )
    assert legacy.status_code == 409
    await score_all(portal, staff, assessment, dict.fromkeys(codes, 90))
    released = await portal.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    assert released.json()["portfolio_submission"]["id"] == snapshot["id"]
    assert (await portal.get(path, headers=staff)).json()["reviewed_in"] == [assessment["id"]]


async def test_a_round_opened_before_the_submission_reviews_it(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    assessment = await open_round(portal, staff, cid)
    assert assessment["portfolio_submission"] is None
    await cover(portal, session, staff, cid, assessment["competencies"])
    submitted = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert submitted.status_code == 201, submitted.text
    got = (await portal.get(f"/v1/assessments/{assessment['id']}", headers=staff)).json()
    assert got["portfolio_submission"]["id"] == submitted.json()["id"]


async def test_a_supplemental_round_needs_evidence_only_for_the_failed_competencies(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    regular = await open_round(portal, staff, cid)
    codes = regular["competencies"]
    failed = codes[3:]
    await score_all(portal, staff, regular, {c: 50 if c in failed else 90 for c in codes})
    released = await portal.post(f"/v1/assessments/{regular['id']}/release", headers=staff)
    assert released.json()["outcome"] == "supplemental", released.text

    draft = await portfolio(portal, staff, cid)
    assert draft["supplemental"] is True
    assert draft["required_competencies"] == failed
    assert [c["code"] for c in draft["competencies"] if c["required"]] == failed
    await add_entry(portal, session, staff, cid, failed[0])
    refused = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert refused.status_code == 422 and refused.json()["uncovered"] == failed[1:]
    await add_entry(portal, session, staff, cid, failed[1])
    submitted = await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["required_competencies"] == failed

    supplemental = await open_round(portal, staff, cid, kind="supplemental")
    assert supplemental["portfolio_submission"]["id"] == submitted.json()["id"]
    reviewed = {
        r["competency"]
        for r in supplemental["required_scores"]
        if r["instrument"] == "portfolio_review"
    }
    assert reviewed == set(failed)


async def test_the_old_evidence_route_still_works_and_says_it_is_deprecated(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    assessment = await open_round(portal, staff, cid)
    await portfolio(portal, staff, cid)
    indicators = await indicators_of(session, cid, assessment["competencies"][0])
    old = await portal.post(
        f"/v1/assessments/{assessment['id']}/evidence",
        json={
            "competency": assessment["competencies"][0],
            "title": "Old client",
            "indicators": indicators,
        },
        headers=staff,
    )
    assert old.status_code == 201, old.text
    assert old.headers["deprecation"] == "@1796169600"
    assert old.headers["sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert f"/v1/candidates/{cid}/portfolio/evidence" in old.headers["link"]
    assert 'rel="successor-version"' in old.headers["link"]
    listed = await portal.get(f"/v1/assessments/{assessment['id']}/evidence", headers=staff)
    assert [e["title"] for e in listed.json()] == ["Old client"]
    contract = (await portal.get("/openapi.json")).json()
    assert (
        contract["paths"]["/v1/assessments/{assessment_id}/evidence"]["post"]["deprecated"] is True
    )
