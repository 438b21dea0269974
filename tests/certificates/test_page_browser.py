"""The verification page in a real browser (Debian's Chromium, driven by Playwright) against the
app served by uvicorn on 127.0.0.1: what a person sees, on a phone and on paper, valid and
revoked; the QR code is read back from the screenshot by OpenCV's detector; nothing is fetched
but the page itself."""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import jwt
import numpy as np
import pytest
import uvicorn
from httpx import ASGITransport, AsyncClient
from openbadgeslib import OB3Verifier
from playwright.async_api import Page, Route, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.database import create_sessionmaker, get_session
from app.core.settings import Settings
from app.main import create_app
from tests.certificates.issued import certify, jwk_public_key, revoke
from tests.served import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
FIVE_COMPETENCIES = [
    "Thinking Strategically and Creatively",
    "Building Collaborative, Inclusive Working Relationships",
    "Leading Change",
    "Managing Performance and Coaching for Results",
    "Creating and Nurturing a High Performing Organization",
]


@dataclass
class Served:
    base: str
    client: AsyncClient


@pytest.fixture
async def served_app(
    engine: AsyncEngine, session: AsyncSession, settings: Settings
) -> AsyncIterator[Served]:
    """The app (with the test's transaction) behind uvicorn; its public URL is where it listens,
    so the page's own address, its QR code and its links lead back to it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"public_base_url": base}))
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
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        assert not task.done(), "uvicorn stopped"
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Served(base, client)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


def decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    detector = cv2.QRCodeDetector()
    found = False
    # OpenCV finds every code but misreads a few (the serial, hence the pattern, is random) at
    # screen size: those read at two or three times the size, with a white quiet zone.
    for scale in (1, 2, 3):
        larger = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        margin = 8 * scale
        framed = cv2.copyMakeBorder(
            larger, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(255, 255, 255)
        )
        text, points, _ = detector.detectAndDecode(framed)
        found = found or points is not None
        if text:
            return str(text)
    assert found, "no QR code found in the screenshot"
    return ""


def distinct_colours(png: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return len(np.unique(image.reshape(-1, 3), axis=0))


async def open_page(page: Page, url: str) -> int:
    response = await page.goto(url)
    assert response is not None
    await page.wait_for_load_state("load")
    return response.status


async def test_the_verification_page_in_chromium_valid_then_revoked(
    served_app: Served, session: AsyncSession, tmp_path: Path
) -> None:
    serial, _ = await certify(served_app.client, session)
    url = f"{served_app.base}/v1/certificates/{serial}"
    requested: list[str] = []
    refused: list[str] = []
    console: list[str] = []

    async def only_the_service(route: Route) -> None:
        requested.append(route.request.url)
        if urlsplit(route.request.url).path == "/favicon.ico":
            await route.fulfill(status=204)  # the browser's own habit, not the page's
        elif route.request.url.startswith(served_app.base + "/"):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS
        )
        try:
            context = await browser.new_context(viewport=PHONE, accept_downloads=True)
            page = await context.new_page()
            page.on("console", lambda message: console.append(message.text))
            await page.route("**/*", only_the_service)

            assert await open_page(page, url) == 200
            text = await page.inner_text("main")
            for expected in (
                "Maria Santos",
                "Certificate in Leadership and Management",
                "Civil Service Commission (Philippines)",
                "Valid",
                serial,
                *FIVE_COMPETENCIES,
            ):
                assert expected in text, expected
            assert await page.locator("script").count() == 0
            assert await page.locator("time").get_attribute("datetime")
            # A phone: nothing wider than the screen.
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            shot = await page.screenshot(full_page=True, path=str(tmp_path / "valid.png"))
            assert distinct_colours(shot) > 20  # text, seal and QR code drawn, not a blank page
            # The QR code, as the browser drew it, read by an independent decoder.
            assert decode_qr(await page.locator(".qr svg").screenshot()) == url

            # The download link gives the credential, which verifies with the published key.
            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="Download the signed credential").click()
            saved = await (await download_info.value).path()
            token = await asyncio.to_thread(Path(saved).read_text)
            keys = (await served_app.client.get("/.well-known/jwks.json")).json()["keys"]
            (jwk,) = [k for k in keys if k["kid"] == jwt.get_unverified_header(token)["kid"]]
            assert OB3Verifier(jwk_public_key(jwk)).verify(token)

            # On paper: one A4 page, without the download links.
            await page.emulate_media(media="print")
            assert not await page.locator(".downloads").is_visible()
            pdf = await page.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and re.findall(rb"/Type\s*/Page\b", pdf) == [
                b"/Type /Page"
            ]
            await page.emulate_media(media="screen")

            await revoke(served_app.client, session, serial, "Issued in error: scores re-entered")
            assert await open_page(page, url) == 200
            text = await page.inner_text("main")
            assert "Revoked on" in text and "Issued in error: scores re-entered" in text
            assert "Valid:" not in text
            assert await page.locator(".downloads").count() == 0
            revoked_shot = await page.screenshot(full_page=True, path=str(tmp_path / "revoked.png"))
            assert distinct_colours(revoked_shot) > 20
            assert revoked_shot != shot

            missing = f"{served_app.base}/v1/certificates/CPRO-0000-0000-0000-0000"
            assert await open_page(page, missing) == 404
            assert "No such certificate" in await page.inner_text("main")
        finally:
            await browser.close()

    assert refused == []
    assert {urlsplit(u).path for u in requested} <= {
        f"/v1/certificates/{serial}",
        f"/v1/certificates/{serial}/credential",
        "/v1/certificates/CPRO-0000-0000-0000-0000",
        "/favicon.ico",
    }
    assert not [m for m in console if "Content Security Policy" in m], console


async def test_json_callers_still_get_json_and_browsers_html(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    for accept in (None, "application/json", "*/*"):
        headers = {"Accept": accept} if accept else {}
        response = await client.get(f"/v1/certificates/{serial}", headers=headers)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["serial"] == serial
    page = await client.get(f"/v1/certificates/{serial}", headers={"Accept": browser_accept})
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["vary"] == "Accept"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    missing = await client.get(
        "/v1/certificates/CPRO-0000-0000-0000-0000", headers={"Accept": browser_accept}
    )
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    json_missing = await client.get("/v1/certificates/CPRO-0000-0000-0000-0000")
    assert json_missing.headers["content-type"].startswith("application/problem+json")
