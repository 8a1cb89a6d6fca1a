"""The stdio server of `memory-service mcp`: the same services and tools as /mcp, for one
caller fixed when the process starts."""

from __future__ import annotations

import argparse
import asyncio

import structlog

from service.composition import Services, build_services
from service.errors import ConfigurationError, InvalidRequest, Unauthenticated
from service.mcp.caller import Caller, pinned_ids
from service.mcp.server import CallContext, build_server
from service.mcp.stdio_transport import stdio_transport
from service.models import Scope, Tenant
from service.settings import Settings

log = structlog.get_logger(__name__)
POOL_SIZE = 4  # one client, a few calls at a time


async def serve(settings: Settings, args: argparse.Namespace) -> None:
    pinned = _checked_arguments(args)  # before the model loads: a typo costs no wait
    # Entered first: from here on anything written to fd 1 (Postgres starting, the model
    # loading, a stray print) lands on stderr, and only the protocol reaches stdout.
    async with stdio_transport(settings.max_body_bytes) as (read_stream, write_stream):
        from service.cli import prepare_to_serve  # noqa: PLC0415  # the CLI imports this module

        dsn, embedder = await asyncio.to_thread(prepare_to_serve, settings)
        services = build_services(settings, dsn, embedder, pool_max=POOL_SIZE)
        await services.open(check_database=False)  # prepare_to_serve checked it
        try:
            context = CallContext(Caller(await _tenant(services, args), pinned))
            services.start_background_work(settings.job_workers)
            server = build_server(services, lambda ctx: context)
            log.info("mcp.stdio_serving", tenant=context.caller.tenant.name)
            await server.run(read_stream, write_stream, server.create_initialization_options())
        finally:
            await services.close()


def _checked_arguments(args: argparse.Namespace) -> Scope:
    """The pinned scope, once the arguments are known to name one caller. An empty key or
    tenant (often a client's configuration substituting an unset variable) is refused, never
    read as "neither" (the development key's tenant)."""
    for value, name in (
        (args.api_key, "--api-key (or MEMORY_API_KEY)"),
        (args.tenant, "--tenant (or MEMORY_TENANT)"),
    ):
        if value is not None and not value.strip():
            raise ConfigurationError(
                f"{name} is empty; give a value, or leave it unset for the embedded "
                "database's development key"
            )
    if args.api_key is not None and args.tenant is not None:
        raise ConfigurationError("give --api-key or --tenant, not both")
    try:
        return pinned_ids(Scope(args.user_id, args.agent_id, args.run_id))
    except InvalidRequest as error:
        raise ConfigurationError(f"--user-id, --agent-id, --run-id: {error.detail}") from None


async def _tenant(services: Services, args: argparse.Namespace) -> Tenant:
    """Whom the tools act for: the key's tenant, the tenant named, or (embedded database only)
    the development key's, as `serve` creates it."""
    if args.api_key:
        try:
            return await services.api_keys.authenticate(args.api_key)
        except Unauthenticated as error:
            raise ConfigurationError(f"--api-key (or MEMORY_API_KEY): {error.detail}") from None
    if args.tenant:
        return await services.api_keys.tenant_named(args.tenant)
    settings = services.settings
    if not settings.uses_embedded_postgres:
        raise ConfigurationError(
            "give --api-key (or MEMORY_API_KEY) or --tenant (or MEMORY_TENANT) to say whose "
            "memories the tools work with"
        )
    await services.api_keys.ensure_development_key(settings.dev_api_key_file)
    if not settings.dev_api_key_file.exists():
        raise ConfigurationError(
            f"no development key in {settings.dev_api_key_file} (keys were created otherwise): "
            "give --api-key or --tenant"
        )
    key = await asyncio.to_thread(settings.dev_api_key_file.read_text)
    return await services.api_keys.authenticate(key.strip())
