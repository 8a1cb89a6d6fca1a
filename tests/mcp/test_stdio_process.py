"""`memory-service mcp` as a process a client (or a process manager) drives: signals, arguments
that cannot be meant, and lines that are not messages, over raw pipes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, create_api_key
from tests.mcp.test_stdio import COMMAND, _private_environment

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Server:
    """A launched `memory-service mcp`, its stdin kept open."""

    def __init__(self, dsn: str, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        base = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
        self.data_dir = Path(_private_environment(dsn)["MEMORY_DATA_DIR"])
        self.process = subprocess.Popen(
            [COMMAND, "mcp", *args],
            env=base | _private_environment(dsn) | env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._pending = b""

    def send(self, line: bytes | dict[str, Any]) -> None:
        assert self.process.stdin is not None
        raw = line if isinstance(line, bytes) else json.dumps(line).encode()
        self.process.stdin.write(raw + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 300) -> dict[str, Any]:
        """The next message on stdout; fails if none comes in ``timeout`` seconds."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            assert ready, "no answer"
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            assert chunk, "stdout closed"
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def initialize(self) -> None:
        self.send(INITIALIZE)
        assert "result" in self.answer()
        self.send(INITIALIZED)

    def handles(self) -> list[int]:
        """The processes the embedded Postgres counts as using it."""
        handles: list[int] = json.loads(
            (self.data_dir / "pgdata" / ".handle_pids.json").read_text()
        )
        return handles

    def stop(self) -> str:
        """Close stdin, wait for the exit and return stderr (killed if it does not exit)."""
        try:
            _, stderr = self.process.communicate(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return stderr.decode()


@pytest.fixture
def key(live_server: LiveServer) -> str:
    return create_api_key(live_server.dsn, f"mcp-process-{uuid.uuid4().hex[:8]}")


def test_sigterm_and_sigint_stop_it_while_stdin_stays_open(
    live_server: LiveServer, key: str
) -> None:
    servers = {
        stop: Server(live_server.dsn, {"MEMORY_API_KEY": key})
        for stop in (signal.SIGTERM, signal.SIGINT)
    }
    for stop, server in servers.items():
        server.initialize()
        assert server.process.pid in server.handles()
        server.process.send_signal(stop)
        try:
            returncode = server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
            pytest.fail(f"{stop.name} did not stop the server")
        assert returncode == 0, server.stop()
        # It let go of the embedded Postgres, which stops with the last process using it.
        assert server.process.pid not in server.handles()


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        (
            {"MEMORY_API_KEY": ""},
            (),
            "--api-key (or MEMORY_API_KEY) is empty; give a value, or leave it unset for the "
            "embedded database's development key",
        ),
        (
            {},
            ("--api-key", " "),
            "--api-key (or MEMORY_API_KEY) is empty; give a value, or leave it unset for the "
            "embedded database's development key",
        ),
        (
            {"MEMORY_TENANT": ""},
            (),
            "--tenant (or MEMORY_TENANT) is empty; give a value, or leave it unset for the "
            "embedded database's development key",
        ),
        (
            {},
            ("--user-id", ""),
            "--user-id, --agent-id, --run-id: user_id must have a visible character",
        ),
        (
            {},
            ("--agent-id", "  "),
            "--user-id, --agent-id, --run-id: agent_id must have a visible character",
        ),
        (
            {},
            ("--user-id", " alice"),
            "--user-id, --agent-id, --run-id: the user_id pin has spaces around it; ids are "
            "matched exactly: remove them",
        ),
    ],
)
def test_an_empty_key_or_tenant_and_a_blank_pin_serve_nothing(
    live_server: LiveServer, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    # Never the development key's tenant, nor a pin that fences nothing.
    server = Server(live_server.dsn, env, args)

    stderr = server.stop()

    assert server.process.returncode == 2, stderr
    assert stderr.strip().splitlines() == [f"memory-service: {message}"]


def test_lines_that_are_no_message_are_answered(live_server: LiveServer, key: str) -> None:
    server = Server(live_server.dsn, {"MEMORY_API_KEY": key, "MEMORY_MAX_BODY_BYTES": "4096"})
    server.initialize()
    call = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add_memory",'
    deep = call + b'"arguments":{"user_id":"u","text":"t","metadata":' + b'{"a":' * 300
    surrogate = call + b'"arguments":{"user_id":"u","text":"secret \\ud800"}}}'
    oversized = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 8,
            "method": "tools/call",
            "params": {
                "name": "add_memory",
                "arguments": {"user_id": "u", "text": "secret " * 1000},
            },
        }
    ).encode()

    answers = []
    for line in (deep, surrogate, call[:40], b"[1, 2]", b'{"id": 9, "method": 5}', oversized):
        server.send(line)
        answers.append(server.answer(timeout=30))
    server.send({"jsonrpc": "2.0", "id": 10, "method": "ping"})
    pong = server.answer(timeout=30)  # the stream is still in step

    assert [(answer["id"], answer["error"]["code"]) for answer in answers] == [
        (None, -32700),
        (None, -32700),
        (None, -32700),
        (None, -32600),
        (9, -32600),
        (None, -32600),
    ]
    assert answers[-1]["error"]["message"] == (
        "The message is larger than 4096 bytes, the most this server takes (MEMORY_MAX_BODY_BYTES)"
    )
    assert pong == {"jsonrpc": "2.0", "id": 10, "result": {}}
    logged = server.stop()
    assert logged.count('"mcp.stdio_message_refused"') == 6
    assert "secret" not in logged  # what was refused, never its text
