"""Read-your-writes across the primary and a read replica: the consistency token of a request.

A write answers the primary's WAL position after it committed (a Postgres LSN such as
``16/B374D848``); a read that sends it back may be served by a replica only once the replica
has replayed that far. The token travels through a request as a context variable set when the
request starts, so that neither the domain nor the controllers pass it along: the database
layer reads it when choosing where a read runs and marks it when a transaction commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from service.errors import MalformedRequest

HEADER = "Consistency-Token"
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(text: str) -> int:
    """``16/B374D848`` as the 64-bit position it names."""
    match = _LSN.fullmatch(text.strip())
    if match is None:
        raise MalformedRequest(
            f"the {HEADER} header must be a token a write answered, such as 0/1A2B3C4D"
        )
    return int(match[1], 16) << 32 | int(match[2], 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


class ReplicaSkipped(Exception):
    """The replica does not serve this read; ``reason`` is the metric label saying why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RequestConsistency:
    """The tokens a request sent (read only by the reads a replica may serve, so that a bad
    one fails those and nothing else) and whether it committed a write."""

    tokens: Sequence[str] = ()
    wrote: bool = False

    def read_after(self) -> int | None:
        """The WAL position a read must see; MalformedRequest for a bad token."""
        if not self.tokens:
            return None
        if len(self.tokens) > 1:
            raise MalformedRequest(f"give one {HEADER} header, not {len(self.tokens)}")
        return parse_lsn(self.tokens[0])


_current: ContextVar[RequestConsistency | None] = ContextVar("request_consistency", default=None)


def start_request(tokens: Sequence[str]) -> RequestConsistency:
    """Called once as a request starts (in its own task, so its context is its own)."""
    consistency = RequestConsistency(tokens)
    _current.set(consistency)
    return consistency


def current() -> RequestConsistency | None:
    return _current.get()


def note_write() -> None:
    """The request committed a write: its answer carries a token."""
    consistency = _current.get()
    if consistency is not None:
        consistency.wrote = True


def note_writes_reported() -> None:
    """The answer reports writes committed before it by another task (a finished background
    job): it carries a token too, which covers them, so that a read sending it sees them."""
    note_write()
