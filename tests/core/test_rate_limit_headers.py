"""Every rate-limited response says where its caller stands, in the fields of the IETF httpapi
rate-limit headers draft: ``RateLimit-Policy`` (the quota and window) and ``RateLimit`` (what is
left, and when the window resets), parsed here as the draft's structured fields; a 429 carries
``Retry-After`` too. Health probes are not limited and carry neither."""

import re

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from tests.core.test_rate_limits import PUBLIC, _address, _app, _clear_of_a_minute_boundary, _client
from tests.factories import committed_agency_with_keys

# One list member: a quoted policy name and its parameters (RFC 9651 sf-string; key=integer).
_ITEM = re.compile(r'^"(?P<name>[^"]+)"(?P<params>(?:;[a-z]+=\d+)+)$')


def _parameters(value: str) -> tuple[str, dict[str, int]]:
    match = _ITEM.match(value)
    assert match is not None, value
    pairs = [p.split("=") for p in match["params"].strip(";").split(";")]
    return match["name"], {key: int(number) for key, number in pairs}


async def test_each_response_tells_the_quota_and_what_is_left_of_it(
    engine: AsyncEngine, settings: Settings
) -> None:
    app = _app(engine, settings, anonymous=3, key=0)
    await _clear_of_a_minute_boundary()
    async with _client(app, _address()) as client:
        answers = [await client.get(PUBLIC) for _ in range(3)]
        refused = await client.get(PUBLIC)
        missing = await client.get("/v1/frameworks/no-such-framework")
        probe = await client.get("/healthz")
    left = []
    for response in [*answers, refused]:
        name, policy = _parameters(response.headers["ratelimit-policy"])
        assert (name, policy) == ("default", {"q": 3, "w": 60})
        current_name, current = _parameters(response.headers["ratelimit"])
        assert current_name == "default" and set(current) == {"r", "t"}
        assert 0 <= current["t"] <= 60
        left.append(current["r"])
    assert left == [2, 1, 0, 0]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert missing.status_code == 429 and "ratelimit" in missing.headers
    assert probe.status_code == 200 and "ratelimit" not in probe.headers


async def test_a_keyed_caller_sees_its_key_quota_on_errors_too(
    engine: AsyncEngine, settings: Settings
) -> None:
    _, admin, _ = await committed_agency_with_keys(engine)
    app = _app(engine, settings, anonymous=0, key=50)
    await _clear_of_a_minute_boundary()
    async with _client(app, _address()) as client:
        not_found = await client.get(
            "/v1/candidates/00000000-0000-4000-8000-000000000000", headers=admin
        )
        anonymous = await client.get(PUBLIC)
    assert not_found.status_code == 404
    assert _parameters(not_found.headers["ratelimit-policy"])[1] == {"q": 50, "w": 60}
    assert _parameters(not_found.headers["ratelimit"])[1]["r"] < 50
    assert "ratelimit" not in anonymous.headers  # the anonymous limit is off


async def test_the_headers_are_readable_by_a_browser_when_cors_is_on(
    engine: AsyncEngine, settings: Settings
) -> None:
    portal = "https://portal.example"
    with_cors = settings.model_copy(update={"cors_origins": [portal]})
    async with _client(_app(engine, with_cors, anonymous=5, key=0), _address()) as client:
        response = await client.get(PUBLIC, headers={"Origin": portal})
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed
    assert isinstance(client, AsyncClient)
