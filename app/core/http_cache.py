"""Strong ETags and conditional GETs for immutable or slowly changing representations."""

import hashlib

from fastapi import Request, Response


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def matches_if_none_match(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header value names ``etag`` (or is ``*``)."""
    return _matches(header, etag)


def cached_response(
    request: Request,
    body: bytes,
    etag: str,
    *,
    cache_control: str,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` with its ETag, or 304 with no body when the client already has it."""
    all_headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization"}
    all_headers |= headers or {}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=all_headers)
    return Response(content=body, media_type=media_type, headers=all_headers)
