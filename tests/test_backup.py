"""``cpro backup`` and ``cpro restore`` as an operator runs them: a backup of a served database
(with its signing keys, current and retired) restored into a fresh embedded data dir serves the same candidates,
results and certificates, and a credential issued before the backup still verifies with PyJWT
against the restored service's published JWKS. A non-empty database is never restored into."""

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from sqlalchemy.engine import make_url

from tests.assessments.rounds import TO_ASSESSMENT_BY_RPL, move, open_round, score_all
from tests.database import fresh_database
from tests.factories import person
from tests.served import CPRO, clean_env, served

ADMIN_KEY = "cpro_" + secrets.token_urlsafe(32)


def _cpro(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CPRO, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


async def _certified_candidate(client: httpx.AsyncClient) -> dict[str, str]:
    """Maria Santos of DOH taken through an RPL round to a certificate, over HTTP."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await client.put("/v1/agencies/DOH", json={"name": "DOH"}, headers=admin)).is_success
    key = await client.post("/v1/api-keys", json={"role": "staff", "name": "CSI"}, headers=admin)
    assert key.status_code == 201, key.text
    staff = {"Authorization": f"Bearer {key.json()['key']}"}
    created = await client.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": "EMP-1", **person(1, given_name="Maria")},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await move(client, staff, cid, TO_ASSESSMENT_BY_RPL)
    assessment = await open_round(client, staff, cid)
    await score_all(client, staff, assessment, {c: 90 for c in assessment["competencies"]})
    released = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    return {
        "staff": staff["Authorization"],
        "candidate": cid,
        "assessment": assessment["id"],
        "serial": released.json()["certificate"]["serial"],
    }


async def _what_is_served(client: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    staff = {"Authorization": ids["staff"]}
    reads = {
        "candidate": f"/v1/candidates/{ids['candidate']}",
        "candidates": "/v1/candidates",
        "result": f"/v1/assessments/{ids['assessment']}/result",
        "certificate": f"/v1/certificates/{ids['serial']}",
        "jwks": "/.well-known/jwks.json",
    }
    served_now = {}
    for name, path in reads.items():
        response = await client.get(path, headers=staff)
        assert response.status_code == 200, (path, response.text)
        served_now[name] = response.json()
    return served_now


def _verifies(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key=key.key, algorithms=["EdDSA"], options={"verify_aud": False}
    )
    return claims


async def _certify_and_read(base: str) -> tuple[dict[str, str], dict[str, Any], str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        ids = await _certified_candidate(client)
        before = await _what_is_served(client, ids)
        token = (await client.get(f"/v1/certificates/{ids['serial']}/credential")).text
    return ids, before, token


async def _certify_and_read_again(
    base: str, ids: dict[str, str]
) -> tuple[None, dict[str, Any], str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        served_now = await _what_is_served(client, ids)
        token = (await client.get(f"/v1/certificates/{ids['serial']}/credential")).text
    return None, served_now, token


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def _read_again(base: str, ids: dict[str, str]) -> tuple[dict[str, Any], str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        after = await _what_is_served(client, ids)
        reissued = (await client.get(f"/v1/certificates/{ids['serial']}/credential")).text
    return after, reissued


async def _restored_rows(database_url: str, ids: dict[str, str]) -> tuple[object, ...]:
    connection = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        return (
            await connection.fetchval(
                "SELECT external_id FROM candidate WHERE id = $1", uuid.UUID(ids["candidate"])
            ),
            await connection.fetchval(
                "SELECT count(*) FROM certificate WHERE serial = $1", ids["serial"]
            ),
            await connection.fetchval("SELECT count(*) FROM audit_entry") > 0,
        )
    finally:
        await connection.close()


def _settings(data_dir: Path, **more: str) -> dict[str, str]:
    return clean_env(
        CPRO_DATA_DIR=str(data_dir),
        CPRO_RUN_WORKER="false",
        CPRO_RATE_LIMIT_ANONYMOUS="0",
        CPRO_RATE_LIMIT_KEY="0",
        **more,
    )


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder of its own outside pytest's base folder, which another pytest run on the machine
    may make unreadable (0700) to the embedded PostgreSQL's own system user at any moment."""
    folder = Path(tempfile.mkdtemp(prefix="cpro-backup-test-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Synchronous: the database helpers and the served processes run their own event loops.
def test_a_backup_restored_into_a_fresh_data_dir_serves_the_same_and_verifies(
    tmp_path: Path,
) -> None:
    backup = tmp_path / "nightly.cpro"
    source = _settings(tmp_path / "source", CPRO_ADMIN_API_KEY=ADMIN_KEY)
    with served(source, tmp_path) as base:
        ids, _, token = asyncio.run(_certify_and_read(base))
        # A rotation: the first key retires (kept under keys/retired/), a second signs now.
        rotated = _cpro(source, tmp_path, "signing-key", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        _, before, token_after_rotation = asyncio.run(_certify_and_read_again(base, ids))
        assert _kid(token) != _kid(token_after_rotation)
        # While the service runs, as a scheduled backup would.
        written = _cpro(source, tmp_path, "backup", str(backup))
        assert written.returncode == 0, written.stderr
    # Never into a database that holds anything: here, the source itself.
    refused = _cpro(source, tmp_path, "restore", str(backup))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "not empty" in refused.stderr

    assert os.stat(backup).st_mode & 0o777 == 0o600
    with tarfile.open(backup) as archive:
        names = archive.getnames()
        manifest_file = archive.extractfile("cpro-backup.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    assert names[:2] == ["cpro-backup.json", "database.dump"]
    assert names[2:] == manifest["keys"]
    assert "keys/credentials-ed25519.pem" in manifest["keys"]
    assert any(n.startswith("keys/retired/") and n.endswith(".pem") for n in manifest["keys"])

    # A fresh machine: an empty data dir, the embedded PostgreSQL, no key yet.
    fresh = _settings(tmp_path / "restored")
    restored = _cpro(fresh, tmp_path, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    for name in manifest["keys"]:
        key_file = tmp_path / "restored" / name
        assert key_file.read_bytes() == (tmp_path / "source" / name).read_bytes()
        assert os.stat(key_file).st_mode & 0o777 == 0o600

    with served(fresh, tmp_path) as base:
        after, reissued = asyncio.run(_read_again(base, ids))
    again = _cpro(fresh, tmp_path, "restore", str(backup))
    assert again.returncode == 2 and "not empty" in again.stderr

    assert after == before
    assert after["certificate"]["holder_name"].startswith("Maria")
    # The credentials issued before the backup, by the retired key and by the current one,
    # verify against the restored service's JWKS alone (PyJWT), as does the one it issues now.
    assert _kid(reissued) == _kid(token_after_rotation)
    for credential in (token, token_after_rotation, reissued):
        claims = _verifies(credential, after["jwks"])
        assert "OpenBadgeCredential" in claims["type"]

    # And into an empty database on the test server (Debian's PostgreSQL 15 in CI's second
    # run, older than the wheel's pg_dump: the settings it does not know are left out).
    with fresh_database("cpro_backup_target") as target_url:
        target = _settings(tmp_path / "elsewhere", CPRO_DATABASE_URL=target_url)
        loaded = _cpro(target, tmp_path, "restore", str(backup))
        assert loaded.returncode == 0, loaded.stderr
        assert asyncio.run(_restored_rows(target_url, ids)) == ("EMP-1", 1, True)
