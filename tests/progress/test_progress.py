"""`GET /v1/candidates/{id}/progress`: the track's steps done and pending in order, what
happens next and who acts, and the deadlines, all derived from the records."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.candidates.state import Status, Track
from app.progress.rules import Facts, Round, next_steps_of, steps_of
from tests.assessments.rounds import CSC, move, open_round, ready_candidate, score_all
from tests.factories import auth_headers, make_agency

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _codes_and_states(facts: Facts) -> list[tuple[str, str]]:
    return [(s.code, s.state.value) for s in steps_of(facts)]


def test_a_training_candidate_in_the_lmdc_sees_the_modules_left_and_the_briefs_to_approve() -> None:
    facts = Facts(
        status=Status.in_training,
        track=Track.training,
        reached={s: T0 for s in (Status.oriented, Status.enrolled, Status.in_training)},
        self_assessed_at=T0,
        lmdc_attended=3,
        briefs_proposed=2,
    )
    assert _codes_and_states(facts) == [
        ("orientation", "done"),
        ("self_assessment", "done"),
        ("enrollment", "done"),
        ("lmdc", "in_progress"),
        ("project_briefs", "in_progress"),
        ("alp", "pending"),
        ("assessment", "pending"),
        ("result", "pending"),
    ]
    lmdc = steps_of(facts)[3]
    assert (lmdc.count, lmdc.total) == (3, 5)
    assert [(n.action, n.actor.value) for n in next_steps_of(facts)] == [
        ("Attend the remaining 2 LMDC module(s)", "candidate"),
        ("Record LMDC attendance", "staff"),
        ("Approve one of the two project briefs", "staff"),
    ]


def test_the_alp_window_and_the_supplemental_deadline_are_due_dates() -> None:
    alp = Facts(
        status=Status.alp_in_progress,
        track=Track.training,
        reached={s: T0 for s in (Status.oriented, Status.enrolled, Status.alp_in_progress)},
        lmdc_attended=5,
        briefs_proposed=2,
        brief_approved=True,
        alp_planned=True,
        sponsor_accepted=True,
        alp_starts_on=date(2026, 3, 1),
        alp_ends_on=date(2026, 5, 30),
    )
    assert steps_of(alp)[5].due_on == date(2026, 5, 30)
    assert next_steps_of(alp)[0].due_on == date(2026, 5, 30)
    supplemental = Facts(
        status=Status.supplemental_eligible,
        track=Track.rpl,
        reached={Status.oriented: T0},
        latest_round=Round("regular", T0, "supplemental", 3, 0),
        supplemental_deadline=date(2027, 3, 1),
    )
    (step,) = next_steps_of(supplemental)
    assert (step.action, step.actor.value, step.due_on) == (
        "Open a supplemental assessment round",
        "staff",
        date(2027, 3, 1),
    )
    scoring = Facts(
        status=Status.supplemental_eligible,
        track=Track.rpl,
        reached={},
        latest_round=Round("supplemental", None, None, None, 4),
        supplemental_deadline=date(2027, 3, 1),
    )
    assert [(n.action, n.actor.value) for n in next_steps_of(scoring)] == [
        ("Record the 4 missing score(s)", "assessor")
    ]


def test_a_registered_candidate_is_told_to_register_for_orientation_and_self_assess() -> None:
    facts = Facts(status=Status.registered, track=None, reached={})
    assert [s.code for s in steps_of(facts)] == [
        "orientation",
        "self_assessment",
        "enrollment",
        "assessment",
        "result",
    ]
    assert [n.actor.value for n in next_steps_of(facts)] == ["candidate", "candidate"]


async def test_progress_through_the_api_follows_the_records(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    cid, staff = await ready_candidate(token_client, session, track="training")
    await move(token_client, staff, cid, [("in_training", {})])
    modules = [
        c["code"] for c in (await token_client.get(f"/v1/frameworks/{CSC}")).json()["competencies"]
    ]
    for module in modules[:3]:
        recorded = await token_client.put(
            f"/v1/candidates/{cid}/lmdc-attendance/{module}",
            json={"attended_on": "2026-10-12"},
            headers=staff,
        )
        assert recorded.status_code in (200, 201), recorded.text
    brief = await token_client.post(
        f"/v1/candidates/{cid}/project-briefs",
        json={"title": "Digitising leave", "summary": "Replace paper forms."},
        headers=staff,
    )
    assert brief.status_code == 201, brief.text

    me = sign(cpro_role="candidate", cpro_candidate_id=cid)
    progress = await token_client.get(f"/v1/candidates/{cid}/progress", headers=me)
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert (body["status"], body["track"]) == ("in_training", "training")
    steps = {s["code"]: s for s in body["steps"]}
    assert [s["code"] for s in body["steps"]] == [
        "orientation",
        "self_assessment",
        "enrollment",
        "lmdc",
        "project_briefs",
        "alp",
        "assessment",
        "result",
    ]
    assert (steps["lmdc"]["count"], steps["lmdc"]["total"], steps["lmdc"]["state"]) == (
        3,
        5,
        "in_progress",
    )
    assert steps["orientation"]["state"] == "done" and steps["orientation"]["done_at"]
    assert steps["self_assessment"]["state"] == "pending"
    assert steps["project_briefs"]["count"] == 1
    assert [n["action"] for n in body["next_steps"]] == [
        "Attend the remaining 2 LMDC module(s)",
        "Record LMDC attendance",
        "Propose 1 more project brief(s)",
    ]

    await make_agency(session, "DOF", "Department of Finance")
    dof = await auth_headers(session, Role.agency, "DOF")
    assert (
        await token_client.get(f"/v1/candidates/{cid}/progress", headers=dof)
    ).status_code == 404
    other = sign(cpro_role="candidate", cpro_candidate_id=staff["Authorization"][-36:])
    assert (
        await token_client.get(f"/v1/candidates/{cid}/progress", headers=other)
    ).status_code in (
        401,
        404,
    )
    reader = await auth_headers(session, Role.reader)
    assert (
        await token_client.get(f"/v1/candidates/{cid}/progress", headers=reader)
    ).status_code == 403


async def test_a_released_round_completes_the_steps_and_says_what_follows(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(token_client, session)
    round_ = await open_round(token_client, staff, cid)
    await score_all(token_client, staff, round_, dict.fromkeys(round_["competencies"], 60))
    scoring = (await token_client.get(f"/v1/candidates/{cid}/progress", headers=staff)).json()
    assert {s["code"]: s["state"] for s in scoring["steps"]}["assessment"] == "in_progress"
    assert scoring["next_steps"] == [
        {"action": "Release the result", "actor": "staff", "due_on": None}
    ]
    released = await token_client.post(f"/v1/assessments/{round_['id']}/release", headers=staff)
    assert released.status_code == 200
    body = (await token_client.get(f"/v1/candidates/{cid}/progress", headers=staff)).json()
    steps = {s["code"]: s for s in body["steps"]}
    assert list(steps) == [
        "orientation",
        "self_assessment",
        "enrollment",
        "prequalifying_test",
        "assessment",
        "result",
    ]
    assert steps["prequalifying_test"]["detail"] == "score 80"
    assert steps["result"]["state"] == "done"
    assert steps["result"]["detail"] == "reenrollment: 0 of 5 competencies passed"
    assert body["status"] == "reenrollment_required"
    assert body["next_steps"] == [
        {"action": "Re-enroll the candidate (training)", "actor": "staff", "due_on": None}
    ]
    assert body["deadlines"] == {"alp_ends_on": None, "supplemental_deadline": None}
