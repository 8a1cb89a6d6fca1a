"""The stdio transport of `memory-service mcp`: one JSON-RPC message a line on stdin, the
answers a line each on stdout.

In place of the SDK's ``stdio_server``, whose read of stdin waited in a thread that nothing could
interrupt (a SIGTERM was held until the client closed stdin), which took lines of any size, and
which handed a line it could not parse to the server, which dropped it: the client waited for
an answer that never came. Here stdin is read by a daemon thread that a stopping server leaves
behind, a line longer than MEMORY_MAX_BODY_BYTES (the limit of a REST or /mcp body) is skipped,
and a line that is not a JSON-RPC message is answered with the JSON-RPC error saying so.

While it runs, file descriptor 0 reads the null device and 1 writes to stderr (the protocol
uses private copies), so the embedded Postgres, the model loader or a stray print can neither
take the client's input nor corrupt the stream.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import mcp_types as types
import pydantic
import pydantic_core
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

log = structlog.get_logger(__name__)
_CHUNK = 1 << 16
Inbound = SessionMessage | Exception


@asynccontextmanager
async def stdio_transport(
    max_message_bytes: int,
) -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[Inbound], MemoryObjectSendStream[SessionMessage]]
]:
    """The server's streams over the process's stdin and stdout."""
    with _claimed(0, os.O_RDONLY) as stdin_fd, _claimed(1, os.O_WRONLY) as stdout_fd:
        inbound_writer, inbound = anyio.create_memory_object_stream[Inbound](0)
        outbound, outbound_reader = anyio.create_memory_object_stream[SessionMessage](0)
        chunks = _read_in_background(stdin_fd)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_read, chunks, inbound_writer, outbound.clone(), max_message_bytes)
            tasks.start_soon(_write, outbound_reader, stdout_fd)
            yield inbound, outbound


@contextmanager
def _claimed(fd: int, mode: int) -> Iterator[int]:
    """A private copy of ``fd`` for the protocol; ``fd`` itself points elsewhere meanwhile
    (stdin: the null device; stdout: stderr) and is restored after."""
    private = os.dup(fd)
    os.set_inheritable(private, False)
    diversion = os.open(os.devnull, mode) if fd == 0 else os.dup(2)
    os.dup2(diversion, fd)
    os.close(diversion)
    try:
        yield private
    finally:
        os.dup2(private, fd)
        # ``private`` stays open: the reading thread may still be blocked on it.


def _read_in_background(fd: int) -> asyncio.Queue[bytes]:
    """Chunks of ``fd`` (b"" at its end), read by a daemon thread: a server that stops (a
    SIGTERM) does not wait for the client to write or close stdin."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

    def pump() -> None:
        try:
            while True:
                chunk = os.read(fd, _CHUNK)
                asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
                if not chunk:
                    return
        except Exception:  # the loop closed, or stdin failed: nothing to tell
            return

    threading.Thread(target=pump, name="mcp-stdin", daemon=True).start()
    return chunks


async def _read(
    chunks: asyncio.Queue[bytes],
    inbound: MemoryObjectSendStream[Inbound],
    outbound: MemoryObjectSendStream[SessionMessage],
    max_message_bytes: int,
) -> None:
    with anyio.CancelScope() as reading:
        _stop_on_signals(reading.cancel)
        try:
            async for line in _lines(chunks, max_message_bytes):
                try:
                    message = _message(line, max_message_bytes)
                except _Refused as refusal:
                    await outbound.send(SessionMessage(refusal.answer))
                    continue
                if message is not None:
                    await inbound.send(SessionMessage(message))
        finally:
            inbound.close()  # the server ends as at the end of stdin
            outbound.close()


def _stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGTERM (a client or a process manager closing us) and SIGINT end the input as a closed
    stdin does, whatever the client does with it: the server finishes, the services close, and
    the embedded Postgres stops if no other process uses it."""
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stop)


async def _lines(chunks: asyncio.Queue[bytes], limit: int) -> AsyncIterator[bytes | None]:
    """The lines of stdin, and None for each line longer than ``limit`` (never held whole)."""
    pending = b""
    skipping = False
    while chunk := await chunks.get():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if skipping:  # the end of a line already refused
                skipping = False
                continue
            yield line if len(line) <= limit else None
        if not skipping and len(pending) > limit:
            yield None  # answered now: the client waits, whatever follows on the line
            skipping = True
        if skipping:
            pending = b""
    if pending.strip() and not skipping:
        yield pending if len(pending) <= limit else None


class _Refused(Exception):
    """A line that is no message for the server, and the error that answers it."""

    def __init__(self, reason: str, code: int, detail: str, id_: types.RequestId | None) -> None:
        super().__init__(reason)
        # What was wrong, never the line's text (user data) in the log.
        log.warning("mcp.stdio_message_refused", reason=reason)
        error = types.ErrorData(code=code, message=detail)
        self.answer = types.JSONRPCError(jsonrpc="2.0", id=id_, error=error)


def _message(line: bytes | None, limit: int) -> types.JSONRPCMessage | None:
    """The message of ``line`` (None for a blank line); raises _Refused."""
    if line is None:
        raise _Refused("too_large", types.INVALID_REQUEST, _too_large(limit), None)
    if not line.strip():
        return None
    try:
        decoded = pydantic_core.from_json(line)
    except ValueError as error:  # the parser's words say where, and never quote the text
        raise _Refused("unparseable", types.PARSE_ERROR, f"Parse error: {error}", None) from None
    try:
        message: types.JSONRPCMessage = types.jsonrpc_message_adapter.validate_python(
            decoded, by_name=False
        )
    except pydantic.ValidationError:
        detail = "Invalid request: not a JSON-RPC 2.0 request, notification or response"
        raise _Refused("not_jsonrpc", types.INVALID_REQUEST, detail, _id_of(decoded)) from None
    return message


def _too_large(limit: int) -> str:
    return (
        f"The message is larger than {limit} bytes, the most this server takes "
        "(MEMORY_MAX_BODY_BYTES)"
    )


def _id_of(decoded: Any) -> types.RequestId | None:
    """The request's id, when a malformed message still carries one that is valid."""
    id_ = decoded.get("id") if isinstance(decoded, dict) else None
    return (
        id_
        if isinstance(id_, str) or (isinstance(id_, int) and not isinstance(id_, bool))
        else None
    )


async def _write(outbound: MemoryObjectReceiveStream[SessionMessage], fd: int) -> None:
    async with outbound:
        async for session_message in outbound:
            line = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
            await anyio.to_thread.run_sync(_write_all, fd, line.encode() + b"\n")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
