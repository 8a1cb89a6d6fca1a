"""`memory-service mcp`: the MCP tools over stdio, for clients that launch a command (Claude
Desktop, Cursor, VS Code...). Light to import: the server is loaded only when the command runs.

Nothing but protocol messages goes to standard output: while the server runs, file descriptor 1
points at standard error (the MCP SDK's stdio transport writes the protocol to a private copy),
so the embedded Postgres, the model loader and the logs cannot corrupt the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from service.settings import Settings

MCP_HELP = (
    "Serve the memory tools over MCP on stdin/stdout (logs go to stderr), as the tenant of an "
    "API key (--api-key, MEMORY_API_KEY) or a tenant named outright (--tenant, MEMORY_TENANT); "
    "with neither, the embedded database's development key."
)


def add_mcp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get("MEMORY_API_KEY"),
        help="act as this key's tenant (default: MEMORY_API_KEY); prefer the variable: "
        "arguments show in process listings",
    )
    parser.add_argument(
        "--tenant",
        default=os.environ.get("MEMORY_TENANT"),
        help="act as this existing tenant without a key (default: MEMORY_TENANT)",
    )
    for name in ("user-id", "agent-id", "run-id"):
        parser.add_argument(
            f"--{name}",
            help=f"pin the {name.replace('-', '_')}: tools default to it and cannot leave it",
        )


def serve_mcp_stdio(settings: Settings, args: argparse.Namespace) -> None:
    from service.mcp.stdio import serve  # noqa: PLC0415  # heavy: the SDK, the services

    try:
        asyncio.run(serve(settings, args))
    except asyncio.CancelledError:  # SIGTERM or SIGINT: closed cleanly
        pass
    except BaseExceptionGroup as group:
        # The transport's task group wraps what the server raised: the command line reports
        # the error itself (e.g. an unknown key), not a group of one.
        raise _only(group) from None


def _only(group: BaseExceptionGroup[BaseException]) -> BaseException:
    errors = group.exceptions
    if len(errors) == 1:
        return _only(errors[0]) if isinstance(errors[0], BaseExceptionGroup) else errors[0]
    return group
