"""A TCP proxy in front of Postgres that can lose the answer to one COMMIT: the server commits,
the client's connection is cut before it hears so (a network cut, a proxy or pooler that
restarts). A real fault in the real protocol, between the service and the real database.

It reads the frontend protocol (startup, then typed messages) to know which statements each
connection prepared, so that it cuts the COMMIT of a transaction that ran a chosen statement
(e.g. the INSERT INTO memories of an add) and no other.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import parse_qs, urlsplit


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    """One typed message: (type byte, the whole message as sent)."""
    head = _read_exactly(sock, 5)
    (length,) = struct.unpack("!I", head[1:])
    return head[:1], head + _read_exactly(sock, length - 4)


class CommitCuttingProxy:
    def __init__(self, unix_dsn: str) -> None:
        """``unix_dsn``: a DSN of the embedded server (``?host=<socket directory>``)."""
        parts = urlsplit(unix_dsn)
        socket_dir = parse_qs(parts.query)["host"][0]
        self._user = parts.username or "postgres"
        self._database = parts.path.lstrip("/") or "postgres"
        self._socket_path = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self.cut = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def dsn(self) -> str:
        port = self._listener.getsockname()[1]
        # No SSL request: the proxy reads plain protocol messages.
        return f"postgresql://{self._user}@127.0.0.1:{port}/{self._database}?sslmode=disable"

    def cut_next_commit_after(self, statement_part: bytes) -> None:
        """Lose the answer to the next COMMIT of a transaction that ran a statement whose SQL
        holds ``statement_part``; ``cut`` is set once it happened."""
        with self._lock:
            self._marker = statement_part
            self.cut.clear()

    def close(self) -> None:
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self._socket_path)
            self._sockets += [client, server]
            _Connection(self, client, server).start()

    def take_marker(self, sql_run: list[bytes]) -> bool:
        """Whether this COMMIT is the one to cut (at most once per arming)."""
        with self._lock:
            if self._marker is None or not any(self._marker in sql for sql in sql_run):
                return False
            self._marker = None
            return True


class _Connection:
    def __init__(self, proxy: CommitCuttingProxy, client: socket.socket, server: socket.socket):
        self._proxy = proxy
        self._client = client
        self._server = server
        self._cutting = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._frontend, daemon=True).start()
        threading.Thread(target=self._backend, daemon=True).start()

    def _close(self) -> None:
        for sock in (self._client, self._server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _frontend(self) -> None:
        """Client to server: note prepared statements, spot the COMMIT to cut."""
        statements: dict[bytes, bytes] = {}
        sql_run: list[bytes] = []  # the statements of the open transaction
        try:
            (length,) = struct.unpack("!I", _read_exactly(self._client, 4))
            self._server.sendall(
                struct.pack("!I", length) + _read_exactly(self._client, length - 4)
            )
            while True:
                kind, message = _read_message(self._client)
                body = message[5:]
                if kind == b"P":  # Parse: name, query
                    name, query = body.split(b"\0")[:2]
                    statements[name] = query
                elif kind == b"B":  # Bind: portal, statement
                    sql_run.append(statements.get(body.split(b"\0")[1], b""))
                elif kind == b"Q":  # a simple query: asyncpg's BEGIN, COMMIT, ROLLBACK
                    query = body.rstrip(b"\0").strip().upper()
                    if query.startswith(b"COMMIT") and self._proxy.take_marker(sql_run):
                        self._cutting.set()  # before the server can answer
                    if query.startswith((b"BEGIN", b"COMMIT", b"ROLLBACK")):
                        sql_run = []
                self._server.sendall(message)
        except (OSError, ConnectionError, ValueError, IndexError):
            self._close()

    def _backend(self) -> None:
        """Server to client; once cutting, the COMMIT's answer is dropped and both sides
        closed when the server says it is ready again (the COMMIT is done)."""
        try:
            while True:
                kind, message = _read_message(self._server)
                if self._cutting.is_set():
                    if kind == b"Z":
                        self._proxy.cut.set()
                        self._close()
                        return
                    continue
                self._client.sendall(message)
        except (OSError, ConnectionError):
            self._close()
