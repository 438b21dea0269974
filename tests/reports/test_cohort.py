import csv
import io
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.factories import auth_headers, make_agency


async def test_cohort_report_counts_outcomes_and_pass_rates(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    codes = assessment["competencies"]
    await score_all(
        client, staff, assessment, {c: (80 if i < 3 else 60) for i, c in enumerate(codes)}
    )
    await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)

    report = (
        await client.get("/v1/reports/cohort", params={"agency": "DOH"}, headers=staff)
    ).json()
    assert report["results"] == 1
    assert report["outcomes"] == {"certified": 0, "supplemental": 1, "reenrollment": 0}
    rates = {c["code"]: Decimal(c["pass_rate"]) for c in report["competencies"]}
    assert [rates[c] for c in codes] == [1, 1, 1, 0, 0]
    # 3 competencies at 80 and 2 at 60 on every instrument: mean 72.00.
    assert {k: Decimal(v) for k, v in report["mean_score_by_instrument"].items()} == {
        "behavioral_event_interview": Decimal("72.00"),
        "portfolio_review": Decimal("72.00"),
        "written_test": Decimal("72.00"),
    }

    as_csv = await client.get("/v1/reports/cohort", params={"format": "csv"}, headers=staff)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["code"] for r in rows if r["kind"] == "competency"] == codes

    empty = (
        await client.get(
            "/v1/reports/cohort", params={"from": "2099-01-01T00:00:00Z"}, headers=staff
        )
    ).json()
    assert empty["results"] == 0


async def test_agency_keys_see_only_their_cohort(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DBM")
    dbm = await auth_headers(session, Role.agency, "DBM")
    assert (
        await client.get("/v1/reports/cohort", params={"agency": "DOH"}, headers=dbm)
    ).status_code == 403
    assert (await client.get("/v1/reports/cohort", headers=dbm)).json()["agency"] == "DBM"
