"""Who calls a tool: the tenant of the API key and the scope the connection pins.

A connection may pin any of user_id, agent_id and run_id (HTTP: X-Memory-User-Id... headers or
?user_id=... on the URL; stdio: --user-id...), so that a desktop client's configuration decides
whose memories its model works with. A pin is a default and a fence: arguments that leave a
pinned id out get it, arguments naming another value are refused, and a memory outside the
pinned scope is "not found" to the id tools. The API key stays the security boundary (the
tenant); the pin keeps a model from wandering into another user's memories by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain.memories import memory_not_found
from service.domain.texts import require_scope
from service.errors import InvalidRequest
from service.models import SCOPE_FIELDS, Memory, Scope, Tenant


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: Tenant
    pinned: Scope = field(default_factory=Scope)

    def scope(self, user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
        """The tool's scope: the pinned ids, and those the arguments add."""
        given = Scope(user_id, agent_id, run_id)
        for name, pinned in self.pinned.items():
            asked = getattr(given, name)
            if asked is not None and asked != pinned:
                raise InvalidRequest(
                    f"this connection is pinned to {name} {pinned!r}; leave {name} out or give "
                    f"that value ({asked!r} is outside the pinned scope)"
                )
        return Scope(*(getattr(self.pinned, name) or getattr(given, name) for name in SCOPE_FIELDS))

    def check_within(self, memory: Memory) -> Memory:
        """``memory``, if it lies in the pinned scope; else it does not exist for this caller."""
        if any(getattr(memory.scope, name) != value for name, value in self.pinned.items()):
            raise memory_not_found(memory.id)
        return memory


def pinned_ids(scope: Scope) -> Scope:
    """``scope`` as a connection's pins: ids a memory could carry (REST's rules: a visible
    character, storable, not too long), without spaces around them. REST keeps such spaces
    (" alice" is not "alice") but an HTTP header loses them, so a pin refuses them rather than
    fence another id than it shows."""
    if scope.is_empty:
        return scope
    require_scope(scope)
    for name, value in scope.items():
        if value != value.strip():
            raise InvalidRequest(
                f"the {name} pin has spaces around it; ids are matched exactly: remove them"
            )
    return scope
