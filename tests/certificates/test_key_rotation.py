"""``cpro signing-key rotate``: new credentials get the new key; those signed before still verify
(openbadgeslib, with the keys the service publishes), their status lists included."""

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from httpx import ASGITransport, AsyncClient
from openbadgeslib import OB3Verifier
from openbadgeslib.ob3 import OB3VerificationError
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.database import create_sessionmaker, get_session
from app.core.settings import Settings
from app.main import create_app
from tests.certificates.issued import (
    certify,
    downloader,
    jwk_public_key,
    profile_key,
    published_jwk,
    revoke,
)
from tests.served import clean_env

VC_LD = "application/vc+ld+json"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "credentials-ed25519.pem"


@pytest.fixture
async def rotating_client(
    engine: AsyncEngine, session: AsyncSession, settings: Settings, key_file: Path
) -> AsyncIterator[AsyncClient]:
    """The app as the ``client`` fixture makes it, signing with its own key file."""
    app = create_app(settings.model_copy(update={"signing_key_file": key_file}))
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()

    app.dependency_overrides[get_session] = test_session
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def rotate(key_file: Path, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "signing-key", "rotate"],
        env=clean_env(CPRO_SIGNING_KEY_FILE=str(key_file), CPRO_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PRIVATE" not in done.stdout + done.stderr
    return done.stdout


async def jwks(client: AsyncClient) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = (await client.get("/.well-known/jwks.json")).json()["keys"]
    return keys


async def test_credentials_signed_before_a_rotation_still_verify(
    rotating_client: AsyncClient, session: AsyncSession, key_file: Path, tmp_path: Path
) -> None:
    client = rotating_client
    serial, _ = await certify(client, session)
    old_token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    old_document = (
        await client.get(f"/v1/certificates/{serial}/credential", headers={"Accept": VC_LD})
    ).json()
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    assert [(k["kid"], k["status"]) for k in await jwks(client)] == [(old_kid, "current")]

    output = rotate(key_file, tmp_path)

    assert f"retired {old_kid}" in output
    keys = await jwks(client)
    assert [k["status"] for k in keys] == ["current", "retired"]
    new_kid = keys[0]["kid"]
    assert keys[1]["kid"] == old_kid and keys[1]["retiredAt"]
    assert f"current {new_kid}" in output
    profile = (await client.get("/v1/issuer")).json()
    assert [(m["status"], m["id"].split("#")[1]) for m in profile["verificationMethod"]] == [
        ("current", new_kid.split("#")[1]),
        ("retired", old_kid.split("#")[1]),
    ]

    # New credentials: the new key.
    new_token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    new_key = jwk_public_key(await published_jwk(client, new_kid))
    OB3Verifier(new_key).verify(new_token)

    # The credential signed before: its key is still published, and its status list (signed by
    # the key that signed it, as openbadgeslib requires) still answers.
    old_key = jwk_public_key(await published_jwk(client, old_kid))
    with pytest.raises(OB3VerificationError):
        OB3Verifier(new_key).verify(old_token)
    download = downloader(client)
    await asyncio.to_thread(
        OB3Verifier(old_key).verify, old_token, check_status=True, download=download
    )
    (proof,) = old_document["proof"]
    ld_key = await profile_key(client, proof["verificationMethod"])
    await asyncio.to_thread(
        OB3LdpVerifier(ld_key).verify,
        json.dumps(old_document),
        check_status=True,
        download=download,
    )

    # Revocation reaches the holders of old and new credentials alike.
    await revoke(client, session, serial, "Issued in error")
    for verifier, credential in (
        (OB3Verifier(old_key), old_token),
        (OB3Verifier(new_key), new_token),
    ):
        with pytest.raises(OB3VerificationError, match="status 'revocation' is set"):
            await asyncio.to_thread(
                verifier.verify, credential, check_status=True, download=download
            )


async def test_a_second_rotation_keeps_every_earlier_key(
    rotating_client: AsyncClient, key_file: Path, tmp_path: Path
) -> None:
    first = (await jwks(rotating_client))[0]["kid"]
    rotate(key_file, tmp_path)
    second = (await jwks(rotating_client))[0]["kid"]
    rotate(key_file, tmp_path)

    keys = await jwks(rotating_client)
    assert [k["status"] for k in keys] == ["current", "retired", "retired"]
    assert [k["kid"] for k in keys[1:]] == [second, first]
    assert len({k["kid"] for k in keys}) == 3
    assert all(
        path.stat().st_mode & 0o077 == 0 for path in key_file.parent.rglob("*") if path.is_file()
    )
