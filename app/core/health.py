"""Liveness and readiness, outside ``/v1`` so that load balancers need no version."""

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import ServiceUnavailable, problem_responses
from app.core.schema_version import expected_heads

router = APIRouter(tags=["Health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Health:
    """Answers 200 while the process runs; touches nothing else."""
    return Health()


@router.get("/readyz", responses=problem_responses(503), summary="Readiness: database and schema")
async def readyz(request: Request) -> Health:
    """200 when the database answers and its schema is at the migration head this code expects;
    otherwise a 503 problem saying which."""
    try:
        async with request.app.state.engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            heads = frozenset(row[0] for row in rows)
    except Exception as exc:
        raise ServiceUnavailable(
            "The database is unreachable or not migrated.", headers={"Retry-After": "5"}
        ) from exc
    if heads != expected_heads():
        raise ServiceUnavailable(
            "The database schema is not at the expected migration head; run `cpro migrate`.",
            headers={"Retry-After": "30"},
        )
    return Health()
