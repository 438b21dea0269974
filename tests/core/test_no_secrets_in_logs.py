"""Nothing secret or personal reaches the logs, even at DEBUG: keys, names, e-mails and
idempotency keys go through the app and none of them appears in any log line."""

import logging
import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.logging import JsonFormatter
from tests.factories import auth_headers, make_agency, person


async def test_debug_logs_carry_no_secret_name_or_email(
    client: AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await auth_headers(session, Role.admin)
    await make_agency(session, "DOH")
    caplog.set_level(logging.DEBUG)
    given, family, email = "Marisol", "Dimaculangan", "marisol.dimaculangan@doh.example"
    idempotency_key = f"idem-{uuid.uuid4()}"

    created = await client.post(
        "/v1/api-keys", json={"role": "agency", "agency": "DOH", "name": "hris"}, headers=admin
    )
    hris_secret = created.json()["key"]
    hris = {"Authorization": f"Bearer {hris_secret}"}
    body = person(1, given_name=given, family_name=family, email=email)
    put = await client.put(
        "/v1/agencies/DOH/candidates/E-77",
        json=body,
        headers=hris | {"Idempotency-Key": idempotency_key},
    )
    assert put.status_code == 201, put.text
    cid = put.json()["id"]
    replay = await client.put(
        "/v1/agencies/DOH/candidates/E-77",
        json=body,
        headers=hris | {"Idempotency-Key": idempotency_key},
    )
    assert replay.status_code == 200  # the same record again: unchanged
    await client.get("/v1/candidates", params={"q": email}, headers=hris)
    await client.get(f"/v1/candidates/{cid}", headers=hris)
    await client.patch(f"/v1/candidates/{cid}", json={"email": "x" + email}, headers=hris)
    await client.get(f"/v1/candidates/{cid}/personal-data", headers=admin)
    bad = await client.put(
        "/v1/agencies/DOH/candidates/E-78", json=body | {"email": given}, headers=hris
    )
    assert bad.status_code == 422
    rotated = await client.post(f"/v1/api-keys/{created.json()['id']}/rotate", headers=admin)
    await client.get("/v1/agencies", headers={"Authorization": "Bearer cpro_wrong-" + given})
    await client.post(f"/v1/candidates/{cid}/erasure", json={"reason": "request"}, headers=admin)

    secrets = [
        admin["Authorization"].removeprefix("Bearer "),
        hris_secret,
        rotated.json()["key"],
        idempotency_key,
        given,
        family,
        email,
    ]
    formatter = JsonFormatter()
    # The test's own HTTP client (httpx) logs its request lines, query strings included; those
    # are not the service's logs.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [formatter.format(record) for record in records]
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    assert (
        sum('"cpro.access"' in line for line in lines) == 11
    )  # one per request: the capture works
    leaks = [(s, line) for line in lines for s in secrets if s.lower() in line.lower()]
    assert leaks == []
