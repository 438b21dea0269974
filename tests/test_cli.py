"""``cpro`` end to end: a fresh data directory to a ready service, as the README promises."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CPRO = [sys.executable, "-m", "app.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPRO_")}
    env |= {
        "CPRO_DATA_DIR": str(tmp_path / "data"),
        "CPRO_ADMIN_API_KEY": "cpro_test-bootstrap-admin-key-0123456789abcdef",
    }
    return env


def test_serve_brings_a_fresh_data_dir_to_a_ready_service(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    created = subprocess.run(
        [*CPRO, "api-keys", "create", "--role", "reader", "--name", "cli reader"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr[-3000:]
    reader_key = created.stdout.strip().splitlines()[-1]
    assert reader_key.startswith("cpro_")

    port = _free_port()
    server = subprocess.Popen(
        [*CPRO, "serve", "--port", str(port)],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.3)

        admin = {"Authorization": f"Bearer {cli_env['CPRO_ADMIN_API_KEY']}"}
        assert (
            httpx.put(
                f"{base}/v1/agencies/CSC", json={"name": "Civil Service Commission"}, headers=admin
            ).status_code
            == 201
        )
        made = httpx.post(
            f"{base}/v1/api-keys", json={"role": "reader", "name": "api reader"}, headers=admin
        )
        assert made.status_code == 201
        for key in (reader_key, made.json()["key"]):
            listed = httpx.get(f"{base}/v1/agencies", headers={"Authorization": f"Bearer {key}"})
            assert listed.status_code == 200
            assert [a["code"] for a in listed.json()["items"]] == ["CSC"]
        assert (
            httpx.get(f"{base}/v1/agencies", headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode == 0, output
    assert reader_key not in output and cli_env["CPRO_ADMIN_API_KEY"] not in output
    # The embedded PostgreSQL was stopped with the service.
    assert not (Path(cli_env["CPRO_DATA_DIR"]) / "pgdata" / "postmaster.pid").exists()


def test_a_bad_setting_is_named_in_one_line_without_its_value(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env | {
        "CPRO_BULK_WORKERS": "0",
        "CPRO_BULK_CONCURRENCY_WHEN_BUSY": "s3cret-value",
    }
    refused = subprocess.run(
        [*CPRO, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.splitlines() == [
        "error: setting CPRO_BULK_CONCURRENCY_WHEN_BUSY: Input should be a valid integer, "
        "unable to parse string as an integer",
        "error: setting CPRO_BULK_WORKERS: Input should be greater than or equal to 1",
    ]
    assert "s3cret" not in refused.stderr
