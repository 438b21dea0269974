"""The yardsticks: the same bytes and headers as the service from (a) a bare FastAPI route
and (b) a raw ASGI callable, under the same uvicorn settings as ``cpro serve``.

    python -m bench.baselines fastapi|asgi PORT RESPONSE.json       (the framework read)
    python -m bench.baselines fastapi-map|asgi-map PORT ANSWERS.json (any path; answers by
        query string: {"path": "/v1/indicators", "answers": {"q=x&limit=20": {...}}})
"""

import json
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

PATH = "/v1/frameworks/csc-leadership-competencies"


def _load(path: str) -> tuple[bytes, dict[str, str]]:
    saved = json.loads(Path(path).read_text())
    return bytes.fromhex(saved["body_hex"]), saved["headers"]


def fastapi_app(path: str) -> FastAPI:
    body, headers = _load(path)
    app = FastAPI()
    etag = headers["etag"]
    plain = {k: v for k, v in headers.items() if k != "content-type"}

    @app.get(PATH)
    async def framework(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=plain)
        return Response(content=body, media_type="application/json", headers=plain)

    return app


def asgi_app(path: str) -> Any:
    body, headers = _load(path)
    etag = headers["etag"].encode()
    common = [(k.encode(), v.encode()) for k, v in headers.items() if k != "content-type"]
    full = [
        *common,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != PATH:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if dict(scope["headers"]).get(b"if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": full})
        await send({"type": "http.response.body", "body": body})

    return app


def _load_answers(path: str) -> tuple[str, dict[bytes, tuple[bytes, list[tuple[bytes, bytes]]]]]:
    saved = json.loads(Path(path).read_text())
    answers = {
        query.encode(): (
            bytes.fromhex(answer["body_hex"]),
            [(k.encode(), v.encode()) for k, v in answer["headers"].items()],
        )
        for query, answer in saved["answers"].items()
    }
    return saved["path"], answers


def fastapi_map_app(path: str) -> FastAPI:
    """One FastAPI route at the saved path answering each query string with its saved bytes."""
    route, answers = _load_answers(path)
    app = FastAPI()
    plain = {
        query: (body, {k.decode(): v.decode() for k, v in headers if k != b"content-type"})
        for query, (body, headers) in answers.items()
    }

    @app.get(route)
    async def answer(request: Request) -> Response:
        body, headers = plain[request.scope["query_string"]]
        return Response(content=body, media_type="application/json", headers=headers)

    return app


def asgi_map_app(path: str) -> Any:
    route, answers = _load_answers(path)
    full = {
        query: (
            body,
            [
                *(h for h in headers if h[0] not in (b"content-type", b"content-length")),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        )
        for query, (body, headers) in answers.items()
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        found = full.get(scope["query_string"]) if scope["path"] == route else None
        if found is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": found[1]})
        await send({"type": "http.response.body", "body": found[0]})

    return app


def main() -> None:
    kind, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    makers = {
        "fastapi": fastapi_app,
        "asgi": asgi_app,
        "fastapi-map": fastapi_map_app,
        "asgi-map": asgi_map_app,
    }
    app = makers[kind](path)
    # As `cpro serve` runs uvicorn: one process, default loop and HTTP implementation.
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=True)


if __name__ == "__main__":
    main()
