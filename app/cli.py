"""The ``cpro`` command: serve, migrate, openapi, api-keys, signing-key, backup, restore."""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from app.auth.roles import KEY_ROLES, Role
from app.core.settings import Settings, get_settings


def _database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from app.core.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir)


def _prepare_multiprocess_metrics(settings: Settings) -> None:
    """Several workers: each keeps its metrics in files under one fresh directory, and a scrape
    of any of them adds all up (prometheus_client's multiprocess mode). An operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` wins; it must be emptied before each start, as this one is."""
    import shutil

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        settings.data_dir.resolve() / "metrics"
    )
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.bootstrap import migrate, prepare
    from app.core.embedded import stop_embedded_postgres
    from app.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    url = _database_url(settings)
    try:
        migrate(url)
        asyncio.run(prepare(url, settings))
        # Worker processes read their settings afresh; hand them the server we just prepared.
        os.environ["CPRO_DATABASE_URL"] = url
        if args.workers > 1:
            _prepare_multiprocess_metrics(settings)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=30,
        )
    finally:
        stop_embedded_postgres()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from app.bootstrap import migrate, prepare
    from app.core.embedded import stop_embedded_postgres

    settings = get_settings()
    url = _database_url(settings)
    try:
        migrate(url)
        asyncio.run(prepare(url, settings))
    finally:
        stop_embedded_postgres()
    print("database at head")
    return 0


def _worker(args: argparse.Namespace) -> int:
    import signal

    from app.background import run_background
    from app.core.database import create_engine, create_sessionmaker
    from app.core.embedded import stop_embedded_postgres
    from app.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    url = _database_url(settings)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        engine = create_engine(url, settings)
        try:
            await run_background(
                create_sessionmaker(engine), settings, stop, concurrency=args.concurrency
            )
        finally:
            await engine.dispose()

    try:
        asyncio.run(work())
    finally:
        stop_embedded_postgres()
    return 0


def _privacy_sweep(args: argparse.Namespace) -> int:
    from app.core.database import create_engine, create_sessionmaker
    from app.core.embedded import stop_embedded_postgres
    from app.privacy.service import sweep_all

    settings = get_settings()
    url = _database_url(settings)

    async def sweep() -> int:
        engine = create_engine(url, settings)
        try:
            return await sweep_all(create_sessionmaker(engine), settings.retention_days)
        finally:
            await engine.dispose()

    try:
        erased = asyncio.run(sweep())
    finally:
        stop_embedded_postgres()
    days = settings.retention_days
    print(f"anonymized {erased} candidate(s)" + ("" if days else " (CPRO_RETENTION_DAYS is 0)"))
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from app.core.openapi import CONTRACT_PATH, write_contract
    from app.main import create_app

    path = write_contract(create_app(), args.output or CONTRACT_PATH)
    print(path)
    return 0


def _roles_table(args: argparse.Namespace) -> int:
    from app.auth.access import write_roles_table
    from app.core.schema_version import PROJECT_ROOT

    readme = PROJECT_ROOT / "README.md"
    changed = write_roles_table(readme)
    print(f"{readme}: {'role table rewritten' if changed else 'role table already current'}")
    return 0


def _create_api_key(args: argparse.Namespace) -> int:
    from app.auth.service import create_api_key
    from app.bootstrap import migrate
    from app.core.database import create_engine, create_sessionmaker
    from app.core.embedded import stop_embedded_postgres

    settings = get_settings()
    url = _database_url(settings)

    async def create() -> tuple[str, str]:
        engine = create_engine(url, settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                key, secret = await create_api_key(
                    session, role=Role(args.role), name=args.name, agency_code=args.agency
                )
                return str(key.id), secret
        finally:
            await engine.dispose()

    try:
        migrate(url)
        key_id, secret = asyncio.run(create())
    finally:
        stop_embedded_postgres()
    print(f"created {args.role} key {key_id}; the secret is shown once:")
    print(secret)
    return 0


def _rotate_signing_key(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.certificates.keys import rotate_signing_key
    from app.certificates.service import signing_key_path

    settings = get_settings()
    path = signing_key_path(settings)
    retired, current = rotate_signing_key(
        path, base_url=settings.public_root, now=datetime.now(UTC)
    )
    # Public identifiers only: the private keys stay in their 0600 files.
    print(f"retired {retired.kid} (still published: it verifies what it signed)")
    print(f"current {current.kid} (signs every new credential from now on)")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.backup import write_backup
    from app.core.embedded import stop_embedded_postgres

    settings = get_settings()
    url = _database_url(settings)
    try:
        summary = write_backup(url, settings, Path(args.path))
    finally:
        stop_embedded_postgres()
    print(
        f"wrote {summary.path}: database (revision {summary.alembic_revision}) and "
        f"{len(summary.key_files)} key file(s); it holds the signing key: keep it secret"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.backup import restore_backup
    from app.core.embedded import stop_embedded_postgres

    settings = get_settings()
    url = _database_url(settings)
    try:
        summary = restore_backup(Path(args.path), url, settings)
    finally:
        stop_embedded_postgres()
    print(
        f"restored {summary.path}: database (revision {summary.alembic_revision}) and "
        f"{len(summary.key_files)} key file(s)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cpro", description="CPro Competency API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, load reference data and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="deliver webhooks (also run inside serve)")
    worker.add_argument(
        "--concurrency", type=int, default=4, help="subscriptions delivered at once"
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply migrations and load reference data")
    migrate.set_defaults(handler=_migrate)

    sweep = commands.add_parser(
        "privacy-sweep",
        help="anonymize inactive candidates older than CPRO_RETENTION_DAYS (0: none)",
    )
    sweep.set_defaults(handler=_privacy_sweep)

    openapi = commands.add_parser("openapi", help="write the OpenAPI contract under openapi/")
    openapi.add_argument("--output", default=None)
    openapi.set_defaults(handler=_openapi)

    roles = commands.add_parser(
        "roles-table", help="rewrite the README's route-to-roles table from the code"
    )
    roles.set_defaults(handler=_roles_table)

    backup = commands.add_parser(
        "backup",
        help="write the database (pg_dump) and the signing keys to one file; keep it secret",
    )
    backup.add_argument("path", help="the backup file to write (replaced if it exists)")
    backup.set_defaults(handler=_backup)

    restore = commands.add_parser(
        "restore",
        help="load a backup into a fresh data dir or an empty database (refuses a non-empty one)",
    )
    restore.add_argument("path", help="a file written by cpro backup")
    restore.set_defaults(handler=_restore)

    keys = commands.add_parser("api-keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="create a key; prints the secret last")
    create.add_argument("--role", required=True, choices=[r.value for r in Role if r in KEY_ROLES])
    create.add_argument("--agency", default=None, help="agency code (role agency only)")
    create.add_argument("--name", default="created from the command line")
    create.set_defaults(handler=_create_api_key)

    signing = commands.add_parser("signing-key", help="manage the credential signing key")
    signing_commands = signing.add_subparsers(dest="signing_command", required=True)
    rotate = signing_commands.add_parser(
        "rotate",
        help="make a new key sign new credentials; the old one stays published to verify the old",
    )
    rotate.set_defaults(handler=_rotate_signing_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except Exception as exc:  # the CLI's last resort: a message, not a traceback
        from pydantic import ValidationError

        from app.core.errors import ProblemError
        from app.core.settings import Settings

        if isinstance(exc, ProblemError):
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2
        if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
            # Names and reasons only: a value given may be a secret (a database password).
            for error in exc.errors():
                name = "CPRO_" + "_".join(str(part) for part in error["loc"]).upper()
                print(f"error: setting {name}: {error['msg']}", file=sys.stderr)
            return 2
        raise
    return result


if __name__ == "__main__":
    sys.exit(main())
