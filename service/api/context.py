"""/v1/context: a prompt-ready block of the most relevant memories within a token budget."""

from __future__ import annotations

from litestar import Controller, post

from service.api.context_schemas import ContextRequest, ContextResponse
from service.api.problems import problem_responses
from service.domain import context
from service.domain.adding import Turn
from service.domain.context import ContextService
from service.domain.filters import parse_filter
from service.models import Scope, Tenant


class ContextController(Controller):
    path = "/v1/context"
    tags = ["context"]  # noqa: RUF012  # Litestar reads this class attribute

    @post(
        "/",
        operation_id="buildContext",
        summary="A prompt-ready block of the most relevant memories, within a token budget",
        status_code=200,
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    async def build(
        self, data: ContextRequest, tenant: Tenant, context_service: ContextService
    ) -> ContextResponse:
        """The memories of a scope most relevant to a query (or to the last turns of a
        conversation), found by hybrid search, as a dated block to put in a prompt, within
        max_tokens tokens."""
        messages = (
            None
            if data.messages is None
            else [Turn(m.role, m.content, m.name, m.timestamp) for m in data.messages]
        )
        built = await context_service.build(
            tenant.id,
            context.ContextRequest(
                scope=Scope(data.user_id, data.agent_id, data.run_id),
                query=data.query,
                messages=messages,
                filters=parse_filter(data.filters),
                max_tokens=data.max_tokens,
            ),
        )
        return ContextResponse.of(built)
