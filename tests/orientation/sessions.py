"""Scheduling orientation sessions and registering candidates through the API."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

URL = "/v1/orientation-sessions"


def far_future() -> datetime:
    """A start time no other test uses (concurrency tests commit their sessions for real)."""
    return datetime(2031, 1, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(24 * 365 * 5))


def session_body(start: datetime, capacity: int = 3, **overrides: Any) -> dict[str, Any]:
    return {
        "title": "CPro General Orientation",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=4)).isoformat(),
        "mode": "in_person",
        "venue": "CSI Training Room A",
        "capacity": capacity,
    } | overrides


async def schedule(
    client: AsyncClient, headers: dict[str, str], starts_at: datetime, capacity: int = 3, **kw: Any
) -> dict[str, Any]:
    created = await client.post(URL, json=session_body(starts_at, capacity, **kw), headers=headers)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def register_candidate(
    client: AsyncClient, headers: dict[str, str], agency: str, n: int, prefix: str = "O"
) -> str:
    created = await client.post(
        "/v1/candidates",
        json={
            "agency": agency,
            "external_id": f"{prefix}{n}",
            "given_name": f"Given{n}",
            "family_name": f"Family{n}",
            "email": f"o{n}@agency.example",
            "position_title": "Supervising Administrative Officer",
            "salary_grade": 22,
            "priority": 2,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
