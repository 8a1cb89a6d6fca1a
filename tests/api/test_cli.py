"""The command line against a real database: migrate, and the key life cycle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.adapters.embedded_postgres import start_embedded_postgres
from tests.conftest import LiveServer


def memory_service(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MEMORY_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_migrate_prepares_an_empty_database(tmp_path: Path) -> None:
    dsn = start_embedded_postgres(tmp_path / "pgdata")

    first = memory_service("migrate", database_url=dsn)
    again = memory_service("migrate", database_url=dsn)
    listed = memory_service("keys", "list", database_url=dsn)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""


def test_key_life_cycle(live_server: LiveServer) -> None:
    created = memory_service(
        "keys", "create", "--tenant", "cli-tenant", "--label", "ci", database_url=live_server.dsn
    )
    assert created.returncode == 0, created.stderr
    api_key = re.search(r"api key: (\S+)", created.stdout)
    key_id = re.search(r"key id:  (\S+)", created.stdout)
    assert api_key and key_id
    assert api_key.group(1) not in created.stderr
    url = f"{live_server.base_url}/v1/memories"
    headers = {"Authorization": f"Bearer {api_key.group(1)}"}
    assert httpx.get(url, params={"user_id": "u"}, headers=headers).status_code == 200

    listed = memory_service("keys", "list", database_url=live_server.dsn)
    assert key_id.group(1) in listed.stdout and api_key.group(1)[:12] in listed.stdout
    assert api_key.group(1) not in listed.stdout
    revoked = memory_service("keys", "revoke", key_id.group(1), database_url=live_server.dsn)
    assert revoked.returncode == 0, revoked.stderr
    again = memory_service("keys", "revoke", key_id.group(1), database_url=live_server.dsn)
    assert again.returncode == 2 and "no active API key" in again.stderr

    time.sleep(5.2)  # the API key cache lives 5 seconds
    assert httpx.get(url, params={"user_id": "u"}, headers=headers).status_code == 401
