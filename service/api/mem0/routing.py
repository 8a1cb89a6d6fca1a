"""Send the Mem0 SDK's requests to the Mem0 dialect, before Litestar routes them."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

MEM0_PREFIX = "/mem0"
CLIENT_PATH = "client_path"  # key in the scope's state: the path before it was moved
# Paths with a slash that are not Mem0's: the root, and /mcp/ (MCP clients and configurations
# often end the endpoint with a slash).
_NOT_MEM0 = frozenset({"/", "/mcp/"})


class Mem0PathRouting:
    """Moves ``/v1/memories/`` to ``/mem0/v1/memories/`` and so on.

    Litestar ignores a trailing slash when routing, so ``/v1/memories/`` would otherwise reach
    the native handler of ``/v1/memories``, which has another body and answer. The SDK always
    sends the slash (it follows no redirects); native clients never do.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            path: str = scope["path"]
            if (
                path not in _NOT_MEM0
                and path.endswith("/")
                and not path.startswith(MEM0_PREFIX + "/")
            ):
                # In place: the request log outside reads the matched route from this scope.
                raw_path = scope.get("raw_path") or path.encode()
                # Problems name the path the client called, not this internal one.
                scope.setdefault("state", {})[CLIENT_PATH] = path
                scope["path"] = MEM0_PREFIX + path
                scope["raw_path"] = MEM0_PREFIX.encode() + raw_path
        await self.app(scope, receive, send)
