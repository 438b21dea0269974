"""An app that accepts portal tokens (signed here with a key made for the test), whose
document downloads stream from the test's own transaction."""

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.database import create_sessionmaker, get_session
from app.core.settings import Settings
from app.main import create_app
from app.portfolios.documents import document_reader

ISSUER = "https://id.portal.example/realms/csi"
AUDIENCE = "cpro-api"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def portal_settings(settings: Settings, tmp_path: Path, idp_key: rsa.RSAPrivateKey) -> Settings:
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        idp_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return settings.model_copy(
        update={"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_public_key_file": pem}
    )


@pytest.fixture
async def portal_app(
    engine: AsyncEngine, session: AsyncSession, portal_settings: Settings
) -> FastAPI:
    app = create_app(portal_settings)
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

    async def test_reader() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[get_session] = test_session
    app.dependency_overrides[document_reader] = test_reader
    return app


@pytest.fixture
async def portal(portal_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=portal_app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def candidate_token(idp_key: rsa.RSAPrivateKey) -> Callable[[str], dict[str, str]]:
    """The Authorization header of a candidate signed in to the portal."""

    def sign(candidate_id: str, **claims: Any) -> dict[str, str]:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"portal-{candidate_id[:8]}",
            "iat": now,
            "exp": now + 600,
            "cpro_role": "candidate",
            "cpro_candidate_id": candidate_id,
        } | claims
        return {"Authorization": f"Bearer {jwt.encode(body, idp_key, algorithm='RS256')}"}

    return sign
