"""Page cursors: an opaque token for a keyset position (a time and an id) in a listing."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from service.domain.times import is_storable
from service.errors import InvalidRequest

MAX_CURSOR_CHARS = 256  # ours are under 120; bounds the decoding of a forged one


def encode_cursor(time: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps({"t": time.isoformat(), "id": str(id_)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position a cursor names; None for no cursor (the first page)."""
    if raw is None:
        return None
    try:
        if len(raw) > MAX_CURSOR_CHARS:
            raise ValueError(len(raw))
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(decoded, dict) or not all(
            isinstance(decoded.get(key), str) for key in ("t", "id")
        ):
            raise ValueError(decoded)
        time = datetime.fromisoformat(decoded["t"])
        if not is_storable(time):  # made up: every stored time is
            raise ValueError(time)
        return time, uuid.UUID(decoded["id"])
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest("'cursor' is not a cursor this API returned") from None
