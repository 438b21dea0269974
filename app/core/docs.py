"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with their scripts and styles served from
``app/static`` rather than a CDN: the pages work on a closed network, and nothing a reader
does on them is reported to a third party.

The files come unmodified from the npm registry (``swagger-ui-dist`` 5.35.0 and ``redoc``
2.5.4; their licences sit beside them). PyPI's ``swagger-ui-bundle`` ships Swagger UI 4,
which cannot render an OpenAPI 3.1 document such as ours.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_PATH = "/static/docs"

# Belt and braces: whatever the bundles try to load from elsewhere (ReDoc's footer logo, say),
# the browser refuses. Both UIs need inline script (their bootstrap) and inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def install_docs(app: FastAPI) -> None:
    """Serve the two documentation pages and their static files."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=request.scope.get("root_path", "") + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/swagger-ui/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=request.scope.get("root_path", "") + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_PATH}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page
