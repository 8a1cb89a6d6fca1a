"""Schemathesis fuzzes every operation of the committed openapi.yaml against the live app.

For each operation, generated requests (valid and invalid) must never get a 5xx, invalid ones
must be refused, requests without a key must get 401, and every response must match what the
document promises: status code, content type, headers and body schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import allow_header_conformance, positive_data_acceptance

from tests.conftest import LiveServer, create_api_key

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase

OPENAPI = Path(__file__).parents[2] / "openapi.yaml"
schema = schemathesis.openapi.from_path(OPENAPI)


@schemathesis.serializer("application/x-ndjson")
def _json_lines(context: object, value: object) -> bytes:
    """Imports take JSON Lines, documented as a string: send the generated text as it is."""
    return str(value).encode()


@pytest.fixture(scope="module")
def fuzz_key(live_server: LiveServer) -> str:
    return create_api_key(live_server.dsn, "fuzzing")


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_operation_fails_or_breaks_its_contract(
    case: OpenApiCase, live_server: LiveServer, fuzz_key: str
) -> None:
    # No parameter of this API takes a list or an object in the query string. Such a value,
    # drawn as invalid data, goes out as ordinary values (["x"] as user_id=x), which the API
    # rightly accepts; the check would still judge the unsent list (schemathesis issue 4600).
    assume(not any(isinstance(value, (list, dict)) for value in (case.query or {}).values()))
    case.call_and_validate(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {fuzz_key}"},
        timeout=30,
        # Some valid-looking requests are rightly refused with 422: rules JSON Schema cannot
        # state (at least one scope id; a cursor this API issued; filters as JSON text).
        # Litestar's automatic OPTIONS answer lists the methods of one handler group in
        # `Allow`, not of the whole path; OPTIONS is not part of the API.
        excluded_checks=[positive_data_acceptance, allow_header_conformance],
    )
