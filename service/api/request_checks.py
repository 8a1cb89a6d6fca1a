"""Checks every request passes before its handler, whatever the route."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException


async def reject_repeated_query_parameters(request: Request[Any, Any, Any]) -> None:
    """No parameter of this API takes several values: ``?user_id=a&user_id=b`` is a mistake
    that would otherwise silently use one of them."""
    repeated = sorted(
        name
        for name, n in Counter(k for k, _ in request.query_params.multi_items()).items()
        if n > 1
    )
    if repeated:
        raise ValidationException(
            detail=f"query parameter(s) {', '.join(repeated)} given more than once; give each once"
        )
