"""The published contract: openapi.yaml matches the app, lints clean, and types every error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from service.cli import openapi_document

ROOT = Path(__file__).parents[2]
SPEC = ROOT / "openapi.yaml"


def test_committed_openapi_matches_the_app() -> None:
    committed = yaml.safe_load(SPEC.read_text())

    assert committed == openapi_document(), (
        "openapi.yaml is out of date: run `make openapi` and commit the result"
    )


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_is_named_and_its_errors_are_problem_details() -> None:
    spec = yaml.safe_load(SPEC.read_text())

    assert spec["openapi"].startswith("3.1")
    for path, method, operation in operations(spec):
        assert operation.get("operationId"), f"{method} {path} has no operationId"
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]
                assert list(content) == ["application/problem+json"], f"{method} {path} {status}"
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }


def test_openapi_passes_redocly_lint() -> None:
    result = subprocess.run(
        ["npx", "--yes", "@redocly/cli@2.77.0", "lint", "--format=stylish", str(SPEC)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_schema_and_field_is_named_and_described() -> None:
    """What client generators need: no inline objects to invent names for, docs on every field."""
    spec = yaml.safe_load(SPEC.read_text())
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("description"), f"schema {name} has no description"
        for field, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"
            variants = prop.get("oneOf", [prop])
            inline_objects = [v for v in variants if v.get("type") == "object" and "$ref" not in v]
            assert not inline_objects, f"{name}.{field} is an inline object: give it a component"
    for path, method, operation in operations(spec):
        assert operation.get("summary") and operation.get("description"), f"{method} {path}"
