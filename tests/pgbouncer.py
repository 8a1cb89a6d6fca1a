"""A real PgBouncer in transaction mode in front of a test Postgres (tests and benchmarks).

The binary comes from Debian's ``pgbouncer`` package: found on PATH (or in /usr/sbin), else
installed with apt-get when running as root (as CI does), else an error says how to install
it. PgBouncer refuses to run as root, so it runs as the system user that owns the
test clusters.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.postgres_tcp import SYSTEM_USER, TcpPostgres, free_port

DEBIAN_BINARY = Path("/usr/sbin/pgbouncer")


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (str(DEBIAN_BINARY) if DEBIAN_BINARY.exists() else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install("pgbouncer")
        found = str(DEBIAN_BINARY) if DEBIAN_BINARY.exists() else None
    if found is None:
        raise RuntimeError("PgBouncer is needed: apt-get install -y pgbouncer (Debian package)")
    return found


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(command, env=env, capture_output=True, timeout=600).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        subprocess.run(command, env=env, capture_output=True, timeout=600)


@dataclass
class PgBouncer:
    process: subprocess.Popen[bytes]
    root: Path
    port: int
    postgres: TcpPostgres

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://postgres:{self.postgres.password}@127.0.0.1:{self.port}/"
            f"{self.postgres.database}"
        )

    @property
    def log(self) -> str:
        return (self.root / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_pgbouncer(postgres: TcpPostgres, *, pool_size: int) -> PgBouncer:
    """Transaction pooling with ``pool_size`` server connections for all clients together."""
    root = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (root / "userlist.txt").write_text(f'"postgres" "{postgres.password}"\n')
    (root / "pgbouncer.ini").write_text(
        f"""[databases]
{postgres.database} = host=127.0.0.1 port={postgres.port} dbname={postgres.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {root}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {root}/pgbouncer.log
"""
    )
    if os.geteuid() == 0:
        shutil.chown(root, SYSTEM_USER)
        for path in root.iterdir():
            shutil.chown(path, SYSTEM_USER)
    user = ["-u", SYSTEM_USER] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [pgbouncer_binary(), *user, str(root / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bouncer = PgBouncer(process, root, port, postgres)
    _wait_for_port(bouncer)
    return bouncer


def _wait_for_port(bouncer: PgBouncer) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if bouncer.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {bouncer.log[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", bouncer.port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen within 15 s")
