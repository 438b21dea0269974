from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.candidates.models import Candidate
from tests.factories import auth_headers, make_agency

HEADER = "external_id,given_name,family_name,email,position_title,salary_grade,priority,track\n"


async def _import(client: AsyncClient, headers: dict[str, str], text: str, agency: str = "DOH"):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/v1/agencies/{agency}/candidates:import",
        content=text.encode(),
        headers=headers | {"Content-Type": "text/csv"},
    )


async def test_csv_import_reports_each_row(client: AsyncClient, session: AsyncSession) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    sheet = HEADER + (
        "E1,Maria,Santos,maria@doh.example,Officer,22,2,\n"
        "E2,Jose,Cruz,not-an-email,Officer,22,2,\n"
        "E3,Ana,Reyes,,,,5,\n"
        "E4,Lito,Lim,,,,,training\n"
    )
    response = await _import(client, hris, sheet)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [(r["row"], r["outcome"]) for r in rows] == [
        (2, "created"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "created"),
    ]
    assert rows[1]["errors"][0]["field"].endswith("email")
    assert rows[2]["errors"][0]["field"].endswith("priority")
    again = (await _import(client, hris, sheet)).json()["rows"]
    assert [r["outcome"] for r in again] == ["unchanged", "rejected", "rejected", "unchanged"]


async def test_csv_header_problems_are_422_and_write_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    response = await _import(client, hris, "employee,given_name,colour\nE1,Maria,blue\n")
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {
        "csv.header.external_id",
        "csv.header.family_name",
        "csv.header.employee",
        "csv.header.colour",
    } <= fields
    assert (
        await session.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.agency_code == "DOH")
        )
        == 0
    )


async def test_non_utf8_csv_is_400(client: AsyncClient, session: AsyncSession) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    response = await client.post(
        "/v1/agencies/DOH/candidates:import",
        content=HEADER.encode() + b"E1,Mar\xeda,Santos,,,,,\n",
        headers=hris,
    )
    assert response.status_code == 400


async def test_csv_import_is_for_the_keys_own_agency(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DBM")
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    assert (
        await _import(client, hris, HEADER + "E1,Maria,Santos,,,,,\n", agency="DBM")
    ).status_code == 403
