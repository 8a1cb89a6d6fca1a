"""The node packages of the MCP clients (tests/mcp/node): installed once per package-lock, kept
in ~/.cache/memory-service like the other downloaded tools, since `npm ci` of the TypeScript SDK
and the Inspector takes half a minute on two cores."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.clients.test_generated_typescript import _run

NODE_PACKAGES = Path(__file__).parent / "node"
CACHE = Path.home() / ".cache" / "memory-service"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """A node_modules directory installed from tests/mcp/node's package-lock."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "the MCP node clients need node and npm on PATH"
    lock = (NODE_PACKAGES / "package-lock.json").read_bytes()
    installed = CACHE / f"mcp-node-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (installed / "node_modules").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=CACHE, prefix="mcp-node-staging-"))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(NODE_PACKAGES / name, staging / name)
            _run([npm, "ci", "--no-audit", "--no-fund"], staging)
            shutil.rmtree(installed, ignore_errors=True)
            staging.rename(installed)  # whole or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return installed / "node_modules"


def node_project(directory: Path, node_modules: Path, *files: str) -> Path:
    """``directory`` set up to run ``files`` of tests/mcp/node with the installed packages."""
    for name in ("package.json", *files):
        shutil.copy(NODE_PACKAGES / name, directory / name)
    (directory / "node_modules").symlink_to(node_modules, target_is_directory=True)
    return directory
