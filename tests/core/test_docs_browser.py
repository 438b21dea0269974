"""``/docs`` in a real browser: Swagger UI loads from the service itself, and "Try it out"
calls the live service. Every request the page makes is checked to stay on 127.0.0.1."""

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Route, sync_playwright

from tests.served import clean_env, served

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


def test_swagger_ui_tries_an_operation_against_the_live_service(tmp_path: Path) -> None:
    env = clean_env(CPRO_DATA_DIR=str(tmp_path / "data"))
    requested: list[str] = []
    refused: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    with served(env, tmp_path) as base, sync_playwright() as playwright:
        for page_path in ("/docs", "/redoc"):
            assert "cdn" not in httpx.get(base + page_path).text
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=LAUNCH_FLAGS,
        )
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            page.goto(f"{base}/docs")
            operation = page.locator("#operations-Frameworks-get_current_framework")
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.locator("input[placeholder='slug']").fill("csc-leadership-competencies")
            operation.get_by_role("button", name="Execute").click()
            response_body = operation.locator(".live-responses-table .response-col_description pre")
            response_body.first.wait_for(timeout=30_000)
            text = response_body.first.inner_text()
            assert '"slug": "csc-leadership-competencies"' in text
            assert (
                operation.locator(".live-responses-table tbody .response-col_status")
                .first.inner_text()
                .strip()
                == "200"
            )

            page.goto(f"{base}/redoc")
            page.locator("h2", has_text="Get a framework's current version").first.wait_for(
                timeout=30_000
            )
        finally:
            browser.close()

    assert refused == []
    assert f"{base}/static/docs/swagger-ui/swagger-ui-bundle.js" in requested
    assert f"{base}/static/docs/redoc/redoc.standalone.js" in requested
    assert f"{base}/v1/frameworks/csc-leadership-competencies" in requested
