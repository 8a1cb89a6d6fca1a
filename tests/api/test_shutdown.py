"""SIGTERM lets in-flight requests finish and loses none of what they acknowledged."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.adapters.embedded_postgres import start_embedded_postgres
from tests.conftest import run_sql


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The service on its embedded Postgres in ``data_dir``, once it is ready; its URL."""
    port = free_port()
    env = {**os.environ, "MEMORY_DATA_DIR": str(data_dir), "MEMORY_LOG_FORMAT": "json"}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            if httpx.get(f"{base_url}/readyz").status_code == 200:
                return server, base_url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_sigterm_under_load_fails_no_in_flight_request(tmp_path: Path) -> None:
    server, base_url = _serve(tmp_path)
    key = (tmp_path / "dev-api-key").read_text().strip()

    def add_batch(batch: int) -> int:
        items = [{"text": f"batch {batch} fact {n}", "user_id": "load"} for n in range(100)]
        response = httpx.post(
            f"{base_url}/v1/memories/batch",
            json={"items": items},
            headers={"X-API-Key": key},
            timeout=60,
        )
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(add_batch, batch) for batch in range(6)]
        time.sleep(0.3)  # the requests are on the wire and being processed
        server.send_signal(signal.SIGTERM)
        statuses = [future.result() for future in futures]
    exit_code = server.wait(timeout=60)

    assert statuses == [201] * 6
    assert exit_code == 0
    dsn = start_embedded_postgres(tmp_path / "pgdata")
    [row] = run_sql(dsn, "SELECT count(*) AS n FROM memories WHERE user_id = 'load'")
    assert row["n"] == 600


def test_a_killed_service_does_not_keep_the_next_from_stopping_its_postgres(
    tmp_path: Path,
) -> None:
    """Killed (SIGKILL, the OOM killer), a service cannot take itself off the embedded server's
    list of users; the next one on the data directory must still stop the server on exit."""
    killed, _ = _serve(tmp_path)
    killed.kill()
    killed.wait(timeout=30)
    postmaster = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
    try:
        assert _running(postmaster)  # a killed service leaves its server running: expected
        server, _ = _serve(tmp_path)  # joins that server
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while _running(postmaster):
            assert time.monotonic() < deadline, "the embedded Postgres outlived the service"
            time.sleep(0.2)
    finally:
        if _running(postmaster):
            os.kill(postmaster, signal.SIGQUIT)  # do not leave it to the next test run


def _running(pid: int) -> bool:
    """Whether the process runs (an exited one its parent has not reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # the state follows the command's name


def test_the_service_starts_its_embedded_postgres_again_after_a_crash(tmp_path: Path) -> None:
    """The embedded server killed (a crash, the OOM killer): the service starts it again and
    serves what it had acknowledged, instead of answering 503 for good."""
    server, base_url = _serve(tmp_path)
    try:
        key = (tmp_path / "dev-api-key").read_text().strip()
        headers = {"X-API-Key": key}
        added = httpx.post(
            f"{base_url}/v1/memories",
            json={"text": "The spare key is under the blue pot", "user_id": "crash"},
            headers=headers,
            timeout=30,
        )
        assert added.status_code == 201
        memory_id = added.json()["results"][0]["memory"]["id"]
        postmaster = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _running(postmaster):
            assert time.monotonic() < deadline
            time.sleep(0.1)

        statuses = []
        deadline = time.monotonic() + 60
        while True:
            got = httpx.get(f"{base_url}/v1/memories/{memory_id}", headers=headers, timeout=30)
            statuses.append(got.status_code)
            if got.status_code == 200:
                break
            assert got.headers["content-type"] == "application/problem+json"
            assert time.monotonic() < deadline, statuses
            time.sleep(0.5)
        assert got.json()["text"] == "The spare key is under the blue pot"
        assert set(statuses) <= {503, 200}, statuses
        assert httpx.get(f"{base_url}/readyz").status_code == 200
        restarted = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
        assert restarted != postmaster
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while _running(restarted):  # the restarted server is stopped with the service
        assert time.monotonic() < deadline, "the restarted Postgres outlived the service"
        time.sleep(0.2)


def test_a_lock_file_left_by_a_postmaster_killed_while_starting_is_cleared(
    tmp_path: Path,
) -> None:
    """A postmaster killed while it started leaves postmaster.pid without its last line (the
    status): the embedded Postgres package cannot read it, and every later start failed."""
    server, _ = _serve(tmp_path)
    lock_file = tmp_path / "pgdata" / "postmaster.pid"
    written = lock_file.read_text().splitlines()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    lock_file.write_text("\n".join([str(gone.pid), *written[1:7]]) + "\n")

    server, base_url = _serve(tmp_path)
    try:
        assert httpx.get(f"{base_url}/readyz").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
