"""The package's composition (issue 13 §2): `pm_fast/bootstrap.py` is the one place that
reads `PM_FAST_*` settings, nothing but `__main__` imports `cli`, and the modules import
each other without cycles at import time."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pm_fast"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes of the module, its classes and functions."""
    nodes: list[ast.AST] = [tree]
    nodes += [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    ids = set()
    for node in nodes:
        body = getattr(node, "body", [])
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            ids.add(id(body[0].value))
    return ids


def test_pm_fast_settings_are_named_in_bootstrap_only() -> None:
    """Outside bootstrap.py no string is a `PM_FAST_*` variable's name (a key to read
    the environment with); messages and docstrings may mention one."""
    named = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"PM_FAST_[A-Z0-9_]+", node.value)
                and id(node) not in docs
            ):
                named.append(f"{name}:{node.lineno}")
    assert named and all(place.startswith("pm_fast.bootstrap:") for place in named), named


def _imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    """The pm_fast modules `name` imports (at import time only, if `top_level_only`:
    not inside functions, not under `if TYPE_CHECKING`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(nodes: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for node in nodes:
            out.append(node)
            if isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if test not in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                    out += walk(node.body)
                out += walk(node.orelse)
            elif isinstance(node, ast.Try):
                out += walk(node.body)
                for handler in node.handlers:
                    out += walk(handler.body)
                out += walk(node.orelse) + walk(node.finalbody)
        return out

    statements = walk(tree.body) if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in statements:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            candidates = [module, *(f"{module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found.update(c for c in candidates if c in MODULES and c != name)
    return found


def test_only_the_entry_point_imports_cli() -> None:
    importers = [
        name
        for name, path in MODULES.items()
        if "pm_fast.cli" in _imports(name, path, top_level_only=False)
    ]
    assert importers == ["pm_fast.__main__"]


def test_no_import_cycle_at_import_time() -> None:
    graph = {name: _imports(name, path, top_level_only=True) for name, path in MODULES.items()}
    # a package's __init__ importing its own submodules is no cycle of concern
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
