"""Hostile input never reaches a 500, nor the database: NUL characters and unpaired surrogates
anywhere (body values and keys at any depth, query, path), lax types the contract does not
name, unbounded values, and bodies of a media type the operation does not take. Each is a 422
(415) naming the field, and writes nothing."""

import json
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.roles import Role
from app.candidates.models import Candidate
from app.core.limits import TEXT_MAX_LENGTH
from tests.factories import auth_headers, make_agency, person


async def _candidates(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Candidate)) or 0)


def _fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


async def _registered(client: AsyncClient, session: AsyncSession) -> tuple[str, dict[str, str]]:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post("/v1/candidates", json=person(agency="DOH"), headers=staff)
    assert created.status_code == 201, created.text
    return created.json()["id"], staff


async def test_a_nul_character_in_a_body_string_is_a_422_naming_it_and_stores_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    before = await _candidates(session)
    response = await client.post(
        "/v1/candidates", json=person(agency="DOH", given_name="Ma\x00ria"), headers=staff
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _fields(response) == ["body.given_name"]
    assert "NUL" in response.json()["errors"][0]["message"]
    assert await _candidates(session) == before


async def test_an_unpaired_surrogate_escaped_in_json_is_a_422(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    body = json.dumps(person(agency="DOH")).replace('"Family1"', '"Fam\\ud800ily"')
    response = await client.post(
        "/v1/candidates",
        content=body.encode(),
        headers=staff | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["body.family_name"]
    assert "surrogate" in response.json()["errors"][0]["message"]


async def test_a_nul_in_a_key_deep_inside_free_form_data_is_a_422_naming_its_object(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    response = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "oriented", "reason": "x", "data": {"notes": [{"by\x00": 1}]}},
        headers=staff,
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["body.data.notes[0]"]
    assert "key" in response.json()["errors"][0]["message"]
    history = (await client.get(f"/v1/candidates/{cid}/transitions", headers=staff)).json()
    assert history == []  # registration is no transition; nothing was added


async def test_a_nul_in_the_query_or_the_path_is_a_422_naming_the_parameter(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    query = await client.get("/v1/candidates", params={"q": "Ma\x00ria"}, headers=staff)
    assert query.status_code == 422, query.text
    assert _fields(query) == ["query.q"]
    undeclared = await client.get("/v1/candidates", params={"x\x00": "1"}, headers=staff)
    assert undeclared.status_code == 422
    assert _fields(undeclared) == ["query.x\x00"]
    path = await client.get("/v1/certificates/CPRO%00-1")
    assert path.status_code == 422, path.text
    assert _fields(path) == ["path.serial"]


async def test_a_bool_is_not_a_number_the_fuzzer_locked_itself_out_with(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    await make_agency(session, "DOH")
    key = (
        await client.post(
            "/v1/api-keys", json={"role": "agency", "agency": "DOH", "name": "HRIS"}, headers=admin
        )
    ).json()
    response = await client.post(
        f"/v1/api-keys/{key['id']}/rotate", json={"overlap_seconds": False}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["body.overlap_seconds"]
    assert response.json()["errors"][0]["message"] == "must be an integer, not a boolean"
    keys = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.name == "HRIS")
    )
    assert keys == 1


async def test_no_string_as_a_number_no_number_as_a_string_or_date(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    as_string = await client.post(
        "/v1/candidates", json=person(agency="DOH", salary_grade="22"), headers=staff
    )
    assert as_string.status_code == 422
    assert _fields(as_string) == ["body.salary_grade"]
    as_number = await client.post(
        "/v1/candidates", json=person(agency="DOH", position_title=5), headers=staff
    )
    assert as_number.status_code == 422
    assert _fields(as_number) == ["body.position_title"]
    admin = await auth_headers(session, Role.admin)
    as_date = await client.get("/v1/audit", params={"to": "0.5"}, headers=admin)
    assert as_date.status_code == 422, as_date.text
    assert _fields(as_date) == ["query.to"]
    a_date = await client.get("/v1/audit", params={"to": "2026-12-01T00:00:00Z"}, headers=admin)
    assert a_date.status_code == 200


async def test_decimal_strings_stay_accepted_where_the_contract_names_them(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    policy = {
        "code": "strict-types-check",
        "weights": {"written_test": 10, "portfolio_review": 50, "behavioral_event_interview": 40},
        "pass_mark": "75.00",
        "score_min": 0,
        "score_max": 100,
    }
    created = await client.post("/v1/assessment-policies", json=policy, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["pass_mark"] == "75.00"


async def test_nan_is_not_json_and_integers_keep_to_64_bits(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    nan = await client.post(
        f"/v1/candidates/{cid}/transitions",
        content=b'{"to": "oriented", "reason": "x", "data": {"score": NaN}}',
        headers=staff | {"Content-Type": "application/json"},
    )
    assert nan.status_code == 422, nan.text
    assert _fields(nan) == ["body.data.score"]
    huge = await client.post(
        "/v1/candidates", json=person(agency="DOH", salary_grade=2**70), headers=staff
    )
    assert huge.status_code == 422


async def test_a_string_past_the_default_bound_is_refused_where_the_route_named_none(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    response = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "oriented", "reason": "x", "data": {"note": "x" * (TEXT_MAX_LENGTH + 1)}},
        headers=staff,
    )
    assert response.status_code == 422
    assert _fields(response) == ["body.data.note"]


async def test_a_body_of_another_media_type_is_a_415(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(
        "/v1/candidates",
        content=json.dumps(person()).encode(),
        headers=staff | {"Content-Type": "text/plain"},
    )
    assert response.status_code == 415, response.text
    assert response.json()["type"] == "urn:cpro:problem:unsupported-media-type"


async def test_who_may_not_call_the_operation_hears_that_before_anything_about_input(
    client: AsyncClient, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    hostile = person(given_name="\x00")
    assert (await client.post("/v1/candidates", json=hostile)).status_code == 401
    assert (await client.post("/v1/candidates", json=hostile, headers=reader)).status_code == 403


async def test_a_header_parameter_over_its_bound_is_a_422_naming_it(
    client: AsyncClient, session: AsyncSession
) -> None:
    # Found by schemathesis: an `If-Match` longer than the contract allows was answered 412.
    candidate_id, staff = await _registered(client, session)
    response = await client.patch(
        f"/v1/candidates/{candidate_id}",
        json={"email": "maria.santos@example.gov.ph"},
        headers=staff | {"If-Match": '"' + "0" * 5000 + '"'},
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["header.if-match"]
