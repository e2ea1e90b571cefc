"""The package's structure, read from its source (nothing is run):

- no import circle anywhere in ``hal_jupyter`` (every import counted, lazy ones too);
- :mod:`hal_jupyter.engine.lifecycle` is the only module that names a status to move
  a job to, and providers never name a job status at all;
- in ``engine/``, only :mod:`hal_jupyter.engine.clock` reads the time, sleeps or
  draws jitter;
- every error type is documented in docs/API.md;
- engine modules stay readable in one sitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hal_jupyter.engine.errors import ErrorType
from hal_jupyter.engine.lifecycle import JobStatus

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hal_jupyter"
STATUSES = {s.value for s in JobStatus}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports (at any depth of its code)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def test_no_import_circle_in_the_package():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    # Tarjan's strongly connected components: a component of more than one module is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []


def _names_a_status(node: ast.AST) -> bool:
    """A literal job status, or a member of JobStatus (``JobStatus.FAILED``, ``S.FAILED``)."""
    if isinstance(node, ast.Constant) and node.value in STATUSES:
        return True
    if isinstance(node, ast.Attribute) and node.attr in STATUSES:
        return True
    return isinstance(node, ast.Attribute) and node.attr == "value" and _names_a_status(node.value)


def status_writes(path: Path) -> list[str]:
    """Places that set a job's status to one they name: ``{"status": "FAILED"}``,
    ``status=JobStatus.FAILED``, ``row["status"] = "QUEUED"``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        values = []
        if isinstance(node, ast.Dict):
            values = [v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == "status"]
        elif isinstance(node, ast.Call):
            values = [k.value for k in node.keywords if k.arg == "status"]
        elif isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and t.slice.value == "status"]
            values = [node.value] if targets else []
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        found += [f"{where}:{node.lineno}" for v in values if _names_a_status(v)]
    return found


def test_only_the_lifecycle_names_a_status_to_move_a_job_to():
    writes = []
    for name, path in modules().items():
        if name.startswith("hal_jupyter.offline") or name == "hal_jupyter.engine.lifecycle":
            continue  # the stand-ins are other services, with statuses of their own
        writes += status_writes(path)
    assert writes == []


def test_the_scan_sees_a_status_written_by_name(tmp_path):
    """The check above would see one (it is not vacuous)."""
    sample = tmp_path / "sample.py"
    sample.write_text('a = {"status": "FAILED"}\nb = f(status=JobStatus.RUNNING)\nrow["status"] = S.QUEUED.value\nc = {"status": "online"}\n')
    assert sorted(w.rsplit(":", 1)[1] for w in status_writes(sample)) == ["1", "2", "3"]


@pytest.mark.parametrize("path", sorted((PACKAGE / "providers").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_providers_report_observations_and_never_name_a_job_status(path):
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    modules_from = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "JobStatus" not in imported and not any(m.endswith("lifecycle") for m in modules_from)


#: how engine code may not read the time, sleep or draw randomness (only the clock does)
CLOCK_CALLS = {("time", "monotonic"), ("time", "time"), ("time", "sleep"), ("asyncio", "sleep"), ("asyncio", "wait_for"), ("datetime", "now"), ("datetime", "utcnow")}


@pytest.mark.parametrize("path", sorted((PACKAGE / "engine").glob("*.py")), ids=lambda p: p.name)
def test_only_the_clock_reads_the_time_sleeps_or_draws_jitter(path):
    if path.name == "clock.py":
        return
    tree = ast.parse(path.read_text())
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not imports & {"time", "random"}, path.name
    calls = {
        (node.func.value.id, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
    }
    assert not calls & CLOCK_CALLS, path.name


def test_every_error_type_is_documented():
    api = (ROOT / "docs" / "API.md").read_text()
    missing = [t.value for t in ErrorType if f"`{t.value}`" not in api]
    assert missing == []


#: engine modules longer than ~300 lines, and why
LONG = {}


@pytest.mark.parametrize("path", sorted((PACKAGE / "engine").glob("*.py")), ids=lambda p: p.name)
def test_engine_modules_are_readable_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= LONG.get(path.name, 320), f"{path.name} has {lines} lines"
