"""The layer rules of DESIGN.md, checked on the source: imports point down only,
and the sans-IO core imports nothing that does I/O or reads a clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "dicomqr"

FORBIDDEN_IN_CORE = {"asyncio", "socket", "ssl", "threading", "time", "sqlalchemy", "selectors",
                     "subprocess", "io", "os", "pathlib", "uvloop"}

# layer -> the dicomqr layers it must not import
NOT_ALLOWED = {
    "protocol": {"transport", "services", "archive", "cli", "blocking", "query"},
    "transport": {"services", "archive", "cli", "blocking"},
    "services": {"archive", "cli"},
    "query": {"protocol", "transport", "services", "archive", "cli", "blocking"},
}


def imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module name, level) of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def resolve(path: Path, module: str, level: int) -> str:
    if level == 0:
        return module
    package = path.parent.relative_to(SRC.parent).parts
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


@pytest.mark.parametrize("layer", sorted(NOT_ALLOWED))
def test_imports_point_down(layer: str) -> None:
    for path in (SRC / layer).rglob("*.py"):
        for module, level in imports(path):
            name = resolve(path, module, level)
            if not name.startswith("dicomqr."):
                continue
            top = name.split(".")[1]
            assert top not in NOT_ALLOWED[layer], f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", ["protocol", "query"])
def test_pure_layers_do_no_io(layer: str) -> None:
    for path in (SRC / layer).rglob("*.py"):
        for module, level in imports(path):
            if level:
                continue
            root = module.split(".")[0]
            assert root not in FORBIDDEN_IN_CORE, f"{path.name} imports {module}"


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom ..transport import client\n")
    assert ("asyncio", 0) in imports(bad)
    assert ("transport", 2) in imports(bad)
