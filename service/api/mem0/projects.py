"""Mem0's project settings: ``client.project.get()`` / ``update()`` (and the older
``get_project`` / ``update_project``) read and change the tenant's default extraction
instructions and categories. The key's tenant is both the organisation and the project (see
``ping``); every other organisation and project call answers 501.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, patch, route
from litestar.params import Parameter

from service.api.request_checks import LIST_QUERY_PARAMETERS
from service.domain.projects import KEEP, ProjectService
from service.errors import InvalidRequest, NotFound, NotSupported
from service.models import ProjectSettings, Tenant

from .schemas import Mem0Categories
from .translate import categories_in, categories_out, refuse_unsupported

PROJECT_PATH = "/api/v1/orgs/organizations/{org:str}/projects/{project:str}"
_OTHER_PROJECT_CALLS = (
    "Creating, replacing or deleting projects (only getting and updating a project's "
    "custom_instructions and custom_categories)"
)
_UNSUPPORTED_SETTINGS = {
    "agent_custom_instructions": "instructions for agent memories (use custom_instructions)",
    "multilingual": "multilingual memories",
    "decay": "memory decay",
    "memory_depth": "memory depth",
    "usecase_setting": "use-case settings",
}


class ProjectUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    custom_instructions: str | None = None  # "" removes them
    custom_categories: Mem0Categories | None = None  # [] removes them
    # The SDK repeats its organisation and project in the body: the path names them.
    org_id: str | None = None
    project_id: str | None = None
    # Not supported (501 when given a value):
    agent_custom_instructions: Any = None
    multilingual: Any = None
    decay: Any = None
    memory_depth: Any = None
    usecase_setting: Any = None


FieldsQuery = Annotated[list[str] | None, Parameter(max_items=32)]


@get(PROJECT_PATH, opt={LIST_QUERY_PARAMETERS: ("fields",)})
async def get_project(
    org: str,
    project: str,
    tenant: Tenant,
    project_service: ProjectService,
    fields: FieldsQuery = None,
) -> dict[str, Any]:
    """The project's settings; ``fields`` keeps those named (a setting this service does not
    have is left out, as the SDK's callers only read what they asked for)."""
    _check_project(tenant, org, project)
    answer = _project_out(tenant, await project_service.get(tenant.id))
    if fields:
        return {name: value for name, value in answer.items() if name in fields}
    return answer


@patch(PROJECT_PATH)
async def update_project(
    org: str,
    project: str,
    data: ProjectUpdateBody,
    tenant: Tenant,
    project_service: ProjectService,
) -> dict[str, Any]:
    _check_project(tenant, org, project)
    refuse_unsupported(data, _UNSUPPORTED_SETTINGS)
    given = [
        name
        for name in ("custom_instructions", "custom_categories")
        if getattr(data, name) is not None
    ]
    if not given:
        raise InvalidRequest(
            "give custom_instructions and/or custom_categories (an empty value removes them)"
        )
    settings = await project_service.update(
        tenant.id,
        instructions=KEEP
        if data.custom_instructions is None
        else (data.custom_instructions or None),
        categories=KEEP
        if data.custom_categories is None
        else categories_in(data.custom_categories),
    )
    return {"message": f"Updated {' and '.join(given)}", **_project_out(tenant, settings)}


@route(PROJECT_PATH, http_method=["POST", "PUT", "DELETE"], name="mem0-project-unsupported")
async def other_project_calls(org: str, project: str, tenant: Tenant) -> None:
    raise NotSupported(f"{_OTHER_PROJECT_CALLS} are not supported by this service")


def _check_project(tenant: Tenant, org: str, project: str) -> None:
    if org != str(tenant.id) or project != str(tenant.id):
        raise NotFound(
            f"no project {project!r} of organisation {org!r} exists for this API key; its "
            f"organisation and project are both {tenant.id} (as GET /v1/ping/ says)"
        )


def _project_out(tenant: Tenant, settings: ProjectSettings) -> dict[str, Any]:
    return {
        "id": str(tenant.id),
        "org_id": str(tenant.id),
        "name": tenant.name,
        "custom_instructions": settings.instructions,
        "custom_categories": categories_out(settings.categories),
    }


PROJECT_ROUTES = [get_project, update_project, other_project_calls]
