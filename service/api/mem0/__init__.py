"""The Mem0 platform dialect: the paths and shapes the official ``mem0ai`` SDK (1.x and 2.x)
calls, served by the same domain services as the native API.

Every Mem0 SDK path ends in ``/`` and no native path does, so ``Mem0PathRouting`` sends
trailing-slash requests to the routes under ``MEM0_PREFIX`` (``/mem0`` also works as an
explicit base URL). What the SDK can ask for and this service cannot do answers 501.
"""

from service.api.mem0.controllers import mem0_router
from service.api.mem0.routing import MEM0_PREFIX, Mem0PathRouting

__all__ = ["MEM0_PREFIX", "Mem0PathRouting", "mem0_router"]
