"""One JSON line per request: method, route template, status, duration and the request id."""

import io
import json

from httpx import AsyncClient


async def test_each_request_logs_one_json_line_with_its_request_id(
    client: AsyncClient, access_log: io.StringIO
) -> None:
    honoured = await client.get(
        "/v1/frameworks/csc-leadership-competencies?q=private-search-words",
        headers={"X-Request-ID": "hris-sync-7"},
    )
    generated = await client.get("/v1/frameworks/no-such-framework")

    lines = [json.loads(line) for line in access_log.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert honoured.headers["x-request-id"] == "hris-sync-7" == first["request_id"]
    assert first["message"] == "request" and first["level"] == "INFO"
    assert first["method"] == "GET" and first["status"] == 200
    assert first["route"] == "/v1/frameworks/{slug}"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert second["request_id"] == generated.headers["x-request-id"]
    assert second["status"] == 404
    # Paths and query strings may carry what people typed: only the template is logged.
    assert "private-search-words" not in access_log.getvalue()
    assert "no-such-framework" not in access_log.getvalue()
