"""Facts about the code's shape, for reviews of its structure: function sizes, the largest
modules, functions over the size limit anywhere, and the import edges between the layers of
``service/``.

    python tools/code_shape.py [ROOT]

Sizes count lines from a definition to its last line, decorators excluded; a layer is the
first package under ``service/`` (api, domain, storage, adapters) or the top-level module.
"""

from __future__ import annotations

import ast
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LAYERS = ("api", "mcp", "domain", "storage", "adapters")
FOLDERS = ("service", "tests", "benchmarks", "migrations", "tools")
MAX_FUNCTION_LINES = 80


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "service":
        return None
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "top" if len(parts) > 1 else None


def module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def function_sizes(tree: ast.AST) -> list[tuple[str, int]]:
    sizes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            sizes.append((node.name, end - node.lineno + 1))
    return sizes


def imports_of(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of what ``module`` imports; relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
                continue
            # ``from . import x`` in a package's __init__ is the package itself.
            parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
            found.add(".".join([*parts, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@dataclass
class Shape:
    service_sizes: list[tuple[int, str]] = field(default_factory=list)  # (lines, function)
    oversized: list[tuple[int, str]] = field(default_factory=list)
    module_lines: list[tuple[int, str]] = field(default_factory=list)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)


def measure(root: Path) -> Shape:
    shape = Shape()
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            source = path.read_text()
            shape.module_lines.append((len(source.splitlines()), str(path.relative_to(root))))
            try:
                tree = ast.parse(source)
            except SyntaxError as error:
                print(f"skipped {path.relative_to(root)}: {error.msg} (line {error.lineno})")
                continue
            name = module_name(root, path)
            for function, size in function_sizes(tree):
                if size > MAX_FUNCTION_LINES:
                    shape.oversized.append((size, f"{path.relative_to(root)}: {function}"))
                if folder == "service":
                    shape.service_sizes.append((size, f"{name}.{function}"))
            if folder == "service":
                count_layer_edges(shape.edges, tree, name, path.name == "__init__.py")
    return shape


def count_layer_edges(
    edges: Counter[tuple[str, str]], tree: ast.AST, name: str, is_package: bool
) -> None:
    source_layer = layer_of(name)
    for imported in imports_of(tree, name, is_package):
        target_layer = layer_of(imported)
        if source_layer and target_layer and source_layer != target_layer:
            edges[(source_layer, target_layer)] += 1


def main(root: Path) -> None:
    shape = measure(root)
    sizes = sorted(size for size, _ in shape.service_sizes)
    p90 = sizes[int(len(sizes) * 0.9)]
    print(
        f"functions in service/: {len(sizes)}; lines median {statistics.median(sizes):g}, "
        f"p90 {p90}, max {sizes[-1]}"
    )
    print("largest functions:")
    for size, name in sorted(shape.service_sizes, reverse=True)[:5]:
        print(f"  {size:4d}  {name}")
    print(
        f"functions over {MAX_FUNCTION_LINES} lines ({', '.join(FOLDERS)}): {len(shape.oversized)}"
    )
    for size, name in sorted(shape.oversized, reverse=True):
        print(f"  {size:4d}  {name}")
    print(f"largest modules ({', '.join(FOLDERS)}):")
    for lines, name in sorted(shape.module_lines, reverse=True)[:8]:
        print(f"  {lines:4d}  {name}")
    print("imports between layers (from -> to: import statements):")
    for (source, target), count in sorted(shape.edges.items()):
        print(f"  {source:>8} -> {target:<8} {count}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1])
