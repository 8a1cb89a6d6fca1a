"""The Helm chart renders, lints and validates strictly against Kubernetes; the image lints."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).parents[2]
CHART = ROOT / "deploy" / "helm" / "memory-service"
KUBERNETES_VERSION = "1.37.0"
DEFAULT_VALUES = {"database": {"url": "postgresql://memory:secret@db:5432/memory"}}
EXAMPLE_VALUES = yaml.safe_load((CHART / "values-cloudnativepg.example.yaml").read_text())
POOLER_VALUES = yaml.safe_load((CHART / "values-cloudnativepg-pooler.example.yaml").read_text())
CUSTOM_RESOURCE_KINDS = {"ServiceMonitor"}  # prometheus-operator's CRD: no schema to check


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    chart = helm.Chart.load(CHART)
    rendered = chart.render(values, name="memory", namespace="ai", is_install=True)
    documents = []
    for path, text in rendered.items():
        if path.endswith(".yaml"):
            documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


@pytest.mark.parametrize(
    "values",
    [DEFAULT_VALUES, EXAMPLE_VALUES, POOLER_VALUES],
    ids=["default", "cloudnativepg", "pooler"],
)
def test_chart_lints_and_every_manifest_validates_strictly(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []

    documents = render(values)

    assert documents
    for document in documents:
        if document["kind"] in CUSTOM_RESOURCE_KINDS:
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_default_install_has_api_migrations_and_safe_pods() -> None:
    documents = render(DEFAULT_VALUES)

    [api] = [d for d in by_kind(documents, "Deployment") if d["metadata"]["name"].endswith("-api")]
    assert not [
        d for d in by_kind(documents, "Deployment") if d["metadata"]["name"].endswith("-worker")
    ]
    [job] = by_kind(documents, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["serve", "--host", "0.0.0.0"]  # noqa: S104  # in a pod
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert api["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert api["spec"]["template"]["spec"]["topologySpreadConstraints"]
    [secret] = by_kind(documents, "Secret")
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql://")
    [config] = by_kind(documents, "ConfigMap")
    assert config["data"]["MEMORY_MIGRATIONS_DIR"] == "/app/migrations"
    assert {d["kind"] for d in documents} >= {
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceAccount",
    }


def test_example_scales_workers_separately_and_uses_the_existing_secret() -> None:
    documents = render(EXAMPLE_VALUES)

    deployments = {d["metadata"]["name"]: d for d in by_kind(documents, "Deployment")}
    worker = deployments["memory-memory-service-worker"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "worker",
        "--concurrency",
        "4",
    ]
    assert not by_kind(documents, "Secret")
    env_from = worker["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "memory-service-env"}} in env_from
    assert {
        h["spec"]["scaleTargetRef"]["name"] for h in by_kind(documents, "HorizontalPodAutoscaler")
    } == {
        "memory-memory-service-api",
        "memory-memory-service-worker",
    }
    assert by_kind(documents, "NetworkPolicy")
    [monitor] = by_kind(documents, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_pooler_and_replica_settings_reach_the_pods() -> None:
    documents = render(POOLER_VALUES)

    [config] = by_kind(documents, "ConfigMap")
    assert config["data"]["MEMORY_DB_STATEMENT_CACHE_SIZE"] == "0"
    [job] = by_kind(documents, "Job")
    [container] = job["spec"]["template"]["spec"]["containers"]
    [database_url] = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
    assert database_url["valueFrom"]["secretKeyRef"] == {
        "name": "memory-service-env",
        "key": "DATABASE_MIGRATION_URL",
        "optional": True,
    }
    replicated = render({"database": {**DEFAULT_VALUES["database"], "readUrl": "postgresql://r/m"}})
    [secret] = by_kind(replicated, "Secret")
    assert secret["stringData"]["DATABASE_READ_URL"] == "postgresql://r/m"
    default_config = by_kind(render(DEFAULT_VALUES), "ConfigMap")[0]["data"]
    assert "MEMORY_DB_STATEMENT_CACHE_SIZE" not in default_config


def test_chart_refuses_to_render_without_a_database() -> None:
    with pytest.raises(helm.HelmError, match=r"set database\.url or existingSecret"):
        render({})


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
    result = subprocess.run(
        [hadolint, str(ROOT / "deploy" / "Dockerfile")], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
