"""The bench's database: a fresh embedded PostgreSQL, and bulk rows loaded with COPY."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from app.bootstrap import migrate, prepare
from app.core.embedded import start_embedded_postgres, stop_embedded_postgres
from app.core.settings import Settings

CANDIDATE_COLUMNS = (
    "id",
    "agency_code",
    "external_id",
    "given_name",
    "family_name",
    "email",
    "position_title",
    "salary_grade",
    "priority",
    "track",
    "status",
    "version",
    "updated_at",
    "created_at",
)
STATUSES = ("registered", "oriented", "enrolled", "in_training", "for_assessment", "certified")
FAMILY_NAMES = ("Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Torres")
AGENCIES = tuple(f"BA{n:02d}" for n in range(20))


def fresh_database(data_dir: Path) -> str:
    """Start an embedded server under ``data_dir``, migrate it and load the reference data."""
    url = start_embedded_postgres(data_dir)
    migrate(url)
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=None)  # type: ignore[call-arg]
    asyncio.run(prepare(url, settings))
    return url


def stop_database() -> None:
    stop_embedded_postgres()


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


def candidate_record(n: int, agency: str, external_prefix: str, at: datetime) -> tuple[Any, ...]:
    """One candidate row as COPY wants it; deterministic in ``n`` so runs compare."""
    rng = random.Random(n)  # noqa: S311 - test data, not secrets
    return (
        uuid.uuid4(),
        agency,
        f"{external_prefix}{n:08d}",
        f"Given{n}",
        f"{FAMILY_NAMES[n % len(FAMILY_NAMES)]}{n}",
        f"person{n}@{agency.lower()}.example",
        "Supervising Administrative Officer",
        rng.randint(18, 30),
        rng.randint(1, 4),
        rng.choice(("rpl", "training", None)),
        rng.choice(STATUSES),
        1,
        at,
        at,
    )


async def ensure_agencies(connection: asyncpg.Connection) -> None:
    await connection.executemany(
        "INSERT INTO agency (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(code, f"Bench agency {code}") for code in AGENCIES],
    )


async def copy_candidates(url: str, count: int, *, prefix: str, start: int = 0) -> float:
    """COPY ``count`` candidates (spread over agencies and two years); seconds taken by COPY."""
    connection = await connect(url)
    try:
        await ensure_agencies(connection)
        base = datetime(2024, 1, 1, tzinfo=UTC)
        step = timedelta(days=730) / max(count, 1)
        chunk = 100_000
        spent = 0.0
        for first in range(start, start + count, chunk):
            records = [
                candidate_record(n, AGENCIES[n % len(AGENCIES)], prefix, base + step * (n - start))
                for n in range(first, min(first + chunk, start + count))
            ]
            began = asyncio.get_running_loop().time()
            await connection.copy_records_to_table(
                "candidate", records=records, columns=CANDIDATE_COLUMNS
            )
            spent += asyncio.get_running_loop().time() - began
        # As autovacuum would leave it, and so that autovacuum does not run during the measurement.
        await connection.execute("VACUUM (ANALYZE) candidate")
        return spent
    finally:
        await connection.close()


async def clone_complete_rounds(
    url: str, template_id: str, count: int, *, external_prefix: str = "REL-"
) -> list[str]:
    """``count`` copies of the complete round ``template_id``, each with its own candidate
    (ready for assessment, RPL track) and the same required scores, varied per copy so that
    certified, supplemental and re-enrollment results all occur. Returns the new round ids.

    The candidates' external ids start with ``external_prefix``: every caller in one bench run
    needs its own, since they all land in agency REL."""
    connection = await connect(url)
    try:
        template = await connection.fetchrow(
            "SELECT framework_version_id, policy_id, competencies::text AS competencies"
            " FROM assessment WHERE id = $1",
            uuid.UUID(template_id),
        )
        required = await connection.fetch(
            "SELECT competency, instrument FROM assessment_score WHERE assessment_id = $1"
            " ORDER BY id",
            uuid.UUID(template_id),
        )
        codes = sorted({r["competency"] for r in required})
        now = datetime.now(UTC)
        people, rounds, scores = [], [], []
        for n in range(count):
            rng = random.Random(n)  # noqa: S311 - test data, not secrets
            candidate_id, round_id = uuid.uuid4(), uuid.uuid4()
            people.append(
                (
                    candidate_id,
                    "REL",
                    f"{external_prefix}{n:08d}",
                    f"Given{n}",
                    f"Release{n}",
                    f"rel{n}@rel.example",
                    "Division Chief",
                    24,
                    1,
                    "rpl",
                    "for_assessment",
                    5,
                    now,
                    now,
                )
            )
            rounds.append(
                (
                    round_id,
                    candidate_id,
                    "regular",
                    template["framework_version_id"],
                    template["policy_id"],
                    template["competencies"],
                    "[]",
                    now,
                )
            )
            # Most pass everything; some fail one or two (supplemental), a few fail three.
            failing = set(rng.sample(codes, rng.choice((0, 0, 0, 1, 2, 3))))
            for r in required:
                value = rng.randint(40, 65) if r["competency"] in failing else rng.randint(70, 100)
                scores.append((round_id, r["competency"], r["instrument"], value, now, "bench"))
        await connection.copy_records_to_table(
            "candidate", records=people, columns=CANDIDATE_COLUMNS
        )
        await connection.copy_records_to_table(
            "assessment",
            records=rounds,
            columns=(
                "id",
                "candidate_id",
                "kind",
                "framework_version_id",
                "policy_id",
                "competencies",
                "failed_before",
                "created_at",
            ),
        )
        await connection.copy_records_to_table(
            "assessment_score",
            records=scores,
            columns=(
                "assessment_id",
                "competency",
                "instrument",
                "score",
                "updated_at",
                "updated_by",
            ),
        )
        await connection.execute("ANALYZE candidate; ANALYZE assessment; ANALYZE assessment_score")
        return [str(r[0]) for r in rounds]
    finally:
        await connection.close()
