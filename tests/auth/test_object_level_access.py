"""Object-level authorization (OWASP API1): another agency's key can neither see nor touch agency
A's candidates, assessments, certificates, webhook subscriptions or API keys.

The routes are every one in ``app.main.api_routes()`` with a path parameter naming such an
object, so a route added later is walked too; a route this test cannot call (an object parameter
it has no object for, a body it cannot make valid) fails it rather than being passed over.
"""

import json
import uuid
from typing import Any

from fastapi.routing import APIRoute
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.access import RouteAccess, access_of
from app.auth.roles import Role
from app.main import api_routes, create_app
from app.models import Base
from tests.assessments.rounds import TO_ASSESSMENT_BY_RPL, move, open_round, score_all
from tests.factories import auth_headers, make_agency, person
from tests.orientation.sessions import far_future, session_body
from tests.portfolios.building import add_entry, upload
from tests.portfolios.files import pdf_bytes

OBJECT_PARAMETERS = {"candidate_id", "assessment_id", "serial", "subscription_id", "key_id"}
# Tables written on purpose by any request, whoever makes it.
NOT_OBJECTS = ("idempotency_record", "rate_limit_window", "audit")


def object_routes() -> list[tuple[APIRoute, RouteAccess]]:
    """Routes naming one of agency A's objects. Public ones (certificate verification) are
    meant to answer anyone and are left out."""
    return [
        (route, access)
        for route in api_routes()
        if OBJECT_PARAMETERS & {p.alias for p in route.dependant.path_params}
        for access in access_of(route)
        if not access.anonymous
    ]


async def snapshot(session: AsyncSession) -> dict[str, str]:
    """A digest of every row of every table: any write anywhere changes it."""
    digests = {}
    for table in Base.metadata.sorted_tables:
        if table.name.startswith(NOT_OBJECTS):
            continue
        # Table names come from our own metadata, not from input.
        rows = f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table.name} t"  # noqa: S608
        digests[table.name] = await session.scalar(text(rows))
    return digests


def _example_bodies() -> dict[tuple[str, str], Any]:
    """A valid body per operation: the first example its contract gives."""
    contract = create_app().openapi()
    schemas = contract["components"]["schemas"]
    bodies = {}
    for path, operations in contract["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            for option in [schema, *schema.get("anyOf", [])]:
                if "$ref" in option:
                    examples = schemas[option["$ref"].rsplit("/", 1)[1]].get("examples", [])
                    bodies[(method.upper(), path)] = examples[0] if examples else {}
    return bodies


async def _agency_a_objects(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    """Agency A (DOH): a certified candidate with its assessment and certificate, a submitted
    portfolio with a document, a webhook subscription of A's, and A's API key."""
    await make_agency(session, "DOH")
    doh = await auth_headers(session, Role.agency, "DOH")
    staff = await auth_headers(session, Role.staff)
    created = await client.put(
        "/v1/agencies/DOH/candidates/EMP-1", json=person(1, given_name="Maria"), headers=doh
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await move(client, staff, cid, TO_ASSESSMENT_BY_RPL)
    assessment = await open_round(client, staff, cid)
    await score_all(client, staff, assessment, dict.fromkeys(assessment["competencies"], 90))
    released = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    subscription = await client.post(
        "/v1/webhook-subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "events": ["candidate.transitioned"]},
        headers=doh,
    )
    assert subscription.status_code == 201, subscription.text
    orientation = await client.post(
        "/v1/orientation-sessions",
        json=session_body(far_future()),
        headers=staff,
    )
    assert orientation.status_code == 201, orientation.text
    entries = [
        await add_entry(client, session, staff, cid, code) for code in assessment["competencies"]
    ]
    document = await upload(client, staff, cid, entries[0]["id"], pdf_bytes())
    assert document.status_code == 201, document.text
    submitted = await client.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)
    assert submitted.status_code == 201, submitted.text
    admin = await auth_headers(session, Role.admin)
    keys = (await client.get("/v1/api-keys", params={"limit": 200}, headers=admin)).json()
    doh_key = next(k for k in keys["items"] if k["agency"] == "DOH")
    return {
        "candidate_id": cid,
        "assessment_id": assessment["id"],
        "serial": released.json()["certificate"]["serial"],
        "subscription_id": subscription.json()["id"],
        "key_id": doh_key["id"],
        # Briefs belong to Training Track candidates and only staff touch them: any id will do
        # until a route lets an agency key near one.
        "brief_id": str(uuid.uuid4()),
        "module": "leading-change",
        # Sessions are the CSI's, not an agency's; a delivery is reached through its
        # subscription, so any id will do.
        "session_id": orientation.json()["id"],
        "delivery_id": "1",
        "evidence_id": entries[0]["id"],
        "document_id": document.json()["id"],
        "submission_id": submitted.json()["id"],
        "doh": doh["Authorization"],
    }


async def test_another_agencys_key_finds_nothing_of_agency_a_and_changes_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    objects = await _agency_a_objects(client, session)
    await make_agency(session, "DBM")
    dbm = await auth_headers(session, Role.agency, "DBM")
    # The key's first use stamps its last_used_at: do that before the snapshot.
    assert (await client.get("/v1/candidates", headers=dbm)).json()["items"] == []
    bodies = _example_bodies()
    routes = object_routes()
    assert {"get_candidate", "patch_candidate", "revoke_certificate", "revoke_key"} <= {
        route.name for route, _ in routes
    }

    before = await snapshot(session)
    failures = []
    answers = {}
    for route, access in routes:
        missing = {p.alias for p in route.dependant.path_params} - objects.keys()
        assert not missing, f"{access.method} {access.path}: no object for {missing}; add one"
        path = route.path_format.format(**objects)
        kwargs: dict[str, Any] = {"headers": dbm}
        if route.body_field is not None:
            kwargs["json"] = bodies.get((access.method, access.path), {})
        response = await client.request(access.method, path, **kwargs)
        answers[(access.method, access.path)] = response.text
        # Routes agency keys may use: the object is simply not there. Others: the role table.
        expected = 404 if Role.agency in access.roles else 403
        if response.status_code != expected:
            failures.append(
                f"{access.method} {access.path}: {response.status_code}, expected {expected} "
                f"({response.text[:200]})"
            )
        if response.status_code == 404:
            assert response.json()["type"] == "urn:cpro:problem:not-found"
    assert not failures, "\n".join(failures)
    assert await snapshot(session) == before

    # The same reads with agency A's own key get somewhere else (the object, or a 404 about
    # something further in, such as an ALP not yet planned): the 404s above were about the owner.
    doh = {"Authorization": objects["doh"]}
    for route, access in routes:
        if access.method == "GET" and Role.agency in access.roles:
            own = await client.get(route.path_format.format(**objects), headers=doh)
            other = answers[("GET", access.path)]
            assert own.status_code == 200 or (
                own.status_code == 404 and own.json()["detail"] != json.loads(other)["detail"]
            ), f"{access.path}: {own.status_code} {own.text[:200]}"


async def test_an_agency_key_cannot_reach_another_agencys_candidates_by_its_own_path(
    client: AsyncClient, session: AsyncSession
) -> None:
    """The HRIS routes name the agency in the path: another agency's is refused whether or not
    the employee exists, so the answer tells nothing."""
    await make_agency(session, "DOH")
    doh = await auth_headers(session, Role.agency, "DOH")
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM"))
    await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(1), headers=doh)
    await client.get("/v1/candidates", headers=dbm)  # stamps the key's last_used_at
    before = await snapshot(session)
    for external_id in ("EMP-1", "EMP-404"):
        response = await client.put(
            f"/v1/agencies/DOH/candidates/{external_id}", json=person(2), headers=dbm
        )
        assert response.status_code == 403
    batch = await client.post(
        "/v1/agencies/DOH/candidates:batch",
        json={"items": [{"external_id": "EMP-1", **person(3)}]},
        headers=dbm,
    )
    assert batch.status_code == 403
    listed = await client.get("/v1/candidates", params={"agency": "DOH"}, headers=dbm)
    assert listed.status_code in (200, 403)
    assert listed.status_code == 403 or listed.json()["items"] == []
    assert await snapshot(session) == before
