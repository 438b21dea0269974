"""The bulk worker process that ``cpro serve`` starts beside each API process
(``app.core.bulk_process``): ``python -m app.bulk_worker SOCKET``. Not for people to run."""

import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from app.core.bulk_process import WORKER_KEEP_ALIVE_SECONDS


def _exit_with_parent(socket_path: str) -> None:
    # The API process holds the other end of standard input: end of file means it is gone,
    # however it went. SIGTERM lets uvicorn finish the requests it has; the socket's directory
    # goes first, since uvicorn ends by raising the signal again (nothing after it runs), and a
    # parent killed outright cannot remove it.
    while os.read(0, 4096):
        pass
    shutil.rmtree(Path(socket_path).parent, ignore_errors=True)
    os.kill(os.getpid(), signal.SIGTERM)


def main(socket_path: str) -> None:
    import uvicorn

    threading.Thread(
        target=_exit_with_parent, args=(socket_path,), name="parent-watch", daemon=True
    ).start()
    uvicorn.run(
        "app.main:create_bulk_worker_app",
        factory=True,
        uds=socket_path,
        log_config=None,
        access_log=False,
        timeout_keep_alive=WORKER_KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=30,
    )
    # Its socket's directory, when uvicorn stopped without a signal.
    shutil.rmtree(Path(socket_path).parent, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
