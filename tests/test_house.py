"""The layout holds: file sizes, which rooms may import which frameworks, no import cycles, and
docs/architecture.md describing the tree and the settings as they are."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fpcredit.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "fpcredit"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
MAX_LINES = 500


def _modules() -> Iterator[Path]:
    yield from sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function, except for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


GRAPH = {_name(p): _imports(p) for p in _modules()}


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(SRC)))
def test_no_source_file_is_over_the_limit(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize(
    ("frameworks", "room"),
    [(("typer", "rich", "click"), "fpcredit.cli"), (("fastapi", "starlette"), "fpcredit.web")],
)
def test_frameworks_stay_in_their_room(frameworks: tuple[str, ...], room: str) -> None:
    outside = sorted(
        module
        for module, imported in GRAPH.items()
        if not (module == room or module.startswith(room + "."))
        and any(i.split(".")[0] in frameworks for i in imported)
    )
    assert outside == [], f"{', '.join(frameworks)} imported outside {room}: {outside}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = {
        m: sorted(i for i in imported if i in graph and i != m) for m, imported in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for n in edges[m]:
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            component = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return found


def test_no_import_cycles() -> None:
    # A package imports its own modules (`__init__.py` re-exporting), which is not a cycle.
    graph = {
        m: {i for i in imported if not m.startswith(i + ".") and not i.startswith(m + ".")}
        for m, imported in GRAPH.items()
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _module_table() -> dict[str, str]:
    """The rows of the module table: first cell (without backticks) → the rest of the row."""
    section = ARCHITECTURE.split("## Modules", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[1].strip().startswith("`"):
            rows[cells[1].strip().strip("`")] = "|".join(cells[2:])
    return rows


def _rooms() -> list[str]:
    """The top of the tree: each package as `name/`, each module as `name.py`."""
    return sorted(
        p.name + "/" if p.is_dir() else p.name
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name not in ("__init__.py", "__main__.py"))
    )


def test_the_module_table_names_every_room_and_no_other() -> None:
    assert sorted(_module_table()) == _rooms()


@pytest.mark.parametrize("room", [r for r in _rooms() if r.endswith("/")])
def test_each_package_row_names_its_modules(room: str) -> None:
    row = _module_table()[room]
    package = SRC / room.rstrip("/")
    missing = []
    for path in sorted(package.rglob("*.py")):
        inside = path.relative_to(package)
        if path.name == "__init__.py" or "migrations" in inside.parts:
            continue
        if not any(n in row for n in (path.name, f"`{path.stem}`", path.stem + "/")):
            missing.append(str(inside))
    for sub in sorted(p for p in package.rglob("*") if (p / "__init__.py").exists()):
        if "migrations" not in sub.parts and sub.name + "/" not in row:
            missing.append(str(sub.relative_to(package)) + "/")
    assert missing == [], f"the {room} row of docs/architecture.md does not name {missing}"


@pytest.mark.parametrize("room", [r for r in _rooms() if r.endswith("/")])
def test_each_package_row_names_nothing_that_is_not_there(room: str) -> None:
    row = _module_table()[room]
    package = SRC / room.rstrip("/")
    there = {p.name for p in package.rglob("*.py")} | {p.name for p in package.rglob("*")}
    named = set(re.findall(r"`([a-z_0-9]+\.py)`", row))
    assert named - there == set()


def test_the_flow_diagram_shows_rooms_that_exist() -> None:
    diagram = ARCHITECTURE.split("```", 2)[1]
    drawn = set(re.findall(r"\b([a-z]+)/", diagram))
    assert drawn, "no rooms in the diagram"
    packages = {p.parent.name for p in SRC.rglob("__init__.py")}
    assert sorted(drawn - packages) == []


def test_the_settings_table_is_the_settings() -> None:
    section = ARCHITECTURE.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `FPCREDIT_([A-Z0-9_]+)`", section, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}
