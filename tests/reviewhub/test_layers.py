"""The house's rules, read from the code's own imports and literals (docs/architecture.md).

- Layers: a module imports only from its own layer or the ones below it.
- No import circles between modules.
- No surface (API, admin, portal) imports another surface.
- Surfaces spell no code of a vocabulary: they import the enum that owns it.

What does not hold yet is listed below by name; the test fails on anything new, and on an
entry that no longer happens (so the list only shrinks).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from refunds.errors import ErrorCode
from refunds.states import ApplicationState
from refunds.vocab import AuditAction, SettingsAction
from screening.core import FindingCode

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("refunds", "screening", "reviewhub")

# Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "vocabulary",
        (
            "refunds.states",
            "refunds.vocab",
            "refunds.errors",
            "refunds.policy_bounds",
            "refunds.request_id",
            "refunds.outage",
            "refunds.supervise",
            "refunds.roles",
            "screening.core",
            "screening.messages",
            "reviewhub.env",
            # The metrics instruments and the log context: any layer counts and logs.
            "reviewhub.instruments",
            "reviewhub.logs",
        ),
    ),
    (
        "records",
        (
            "refunds.models",
            "refunds.notifications",
            "refunds.storage",
            "screening.models",
            "reviewhub.models",
            # Queries compiled once per thread: read by the key check (plumbing) and selectors.
            "refunds.compiled",
        ),
    ),
    (
        "plumbing",
        (
            "refunds.audit",
            "refunds.integration",
            "screening.index",
            "screening.services",
            # The apps' start-up registers database functions and signal handlers.
            "refunds.apps",
            "screening.apps",
            # The one hook every transition calls: counts it and binds it to the log lines.
            "reviewhub.observe",
        ),
    ),
    (
        "domain",
        (
            "refunds.services",
            "refunds.selectors",
            "refunds.policy",
            "refunds.invariants",
            "refunds.views",
        ),
    ),
    (
        "surfaces",
        (
            "refunds.api",
            "refunds.admin",
            "refunds.portal",
            "refunds.tasks",
            "refunds.demo",
            "refunds.management",
            "screening.management",
            "screening.admin",
            "screening.__main__",
        ),
    ),
    ("project", ("reviewhub",)),
]
SURFACES = ("refunds.api", "refunds.admin", "refunds.portal")

# Known arrows up a layer, to be removed (none today; docs/architecture.md).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if len(parts) > 1 or parts[0] == "reviewhub":
                found[".".join(parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of project modules, lazy ones inside functions included."""
    arrows: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    arrows[name].add(target)
    return arrows


def _layer(module: str) -> int:
    for index, (_name, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")


def _surface(module: str) -> str | None:
    return next((s for s in SURFACES if module == s or module.startswith(s + ".")), None)


@pytest.fixture(scope="module")
def arrows() -> dict[str, set[str]]:
    return _imports(_modules())


def test_every_module_belongs_to_a_layer():
    for module in _modules():
        _layer(module)


def test_no_module_imports_from_a_layer_above_its_own(arrows):
    upward = set()
    for source, targets in arrows.items():
        for target in targets:
            if _layer(target) > _layer(source):
                upward.add((source, target))
    assert upward - KNOWN_UPWARD == set(), "new arrows up a layer"
    assert KNOWN_UPWARD - upward == set(), "mended: remove these from KNOWN_UPWARD"


# Screening is a service the workflow calls, never the other way: the workflow's task
# (refunds.tasks) calls screening.services, then the refund services apply what it found.
WORKFLOW = ("refunds.services", "refunds.tasks", "refunds.selectors", "refunds.policy")


def test_the_workflow_calls_screening_and_screening_never_calls_the_workflow(arrows):
    backwards = {
        (source, target)
        for source, targets in arrows.items()
        if source.startswith("screening")
        for target in targets
        if any(target == w or target.startswith(w + ".") for w in WORKFLOW)
    }
    assert backwards == set()
    assert "screening.services" in arrows["refunds.tasks"]


def test_the_apps_import_nothing_of_the_benchmarks_and_their_simulator():
    """bench/ (the evaluation and its simulator, bench/synthetic.py) does not ship in the apps."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            imported = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                imported = [node.module or ""]
            found += [(name, target) for target in imported if target == "bench" or target.startswith("bench.")]
    assert found == []


def test_no_surface_imports_another_surface(arrows):
    crossing = {
        (source, target)
        for source, targets in arrows.items()
        for target in targets
        if _surface(source) and _surface(target) and _surface(source) != _surface(target)
    }
    assert crossing == set()


def _circles(arrows: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in arrows.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in list(arrows):
        if node not in index:
            visit(node)
    return groups


def test_no_import_circles(arrows):
    assert [sorted(group) for group in _circles(arrows)] == []


# Vocabulary values that are also ordinary names in the surfaces (a column, a context key,
# a form field, a JSON key, an HTML button type), which the surfaces may spell as names.
NAMES_NOT_CODES = {"claim", "unscreened", "fast_track", "submit", "invalid", "error", "in_review", "unreadable"}


def _vocabulary() -> dict[str, str]:
    words = {}
    for enum in (ErrorCode, AuditAction, SettingsAction, ApplicationState, FindingCode):
        for member in enum:
            words.setdefault(str(member.value), enum.__name__)
    return {word: owner for word, owner in words.items() if word not in NAMES_NOT_CODES}


def _surface_literals() -> list[tuple[str, int, str]]:
    found = []
    for package in ("refunds/api", "refunds/admin", "refunds/portal", "refunds/management", "screening/management"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }
            found += [
                (str(path.relative_to(ROOT)), node.lineno, node.value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            ]
        for path in (ROOT / package).rglob("*.html"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found += [(str(path.relative_to(ROOT)), number, m) for m in re.findall(r"[\"']([a-z_]+)[\"']", line)]
    return found


def test_surfaces_spell_no_code_of_a_vocabulary():
    vocabulary = _vocabulary()
    spelled = [
        f"{path}:{line}: {value!r} belongs to {vocabulary[value]}"
        for path, line, value in _surface_literals()
        if value in vocabulary
    ]
    assert spelled == []


def test_the_literal_check_finds_a_spelled_code(tmp_path):
    """The check above would see a template comparing a raw state (it is not blind to templates)."""
    vocabulary = _vocabulary()
    line = '{% if application.state == "in_review" or application.state == "decided" %}'
    assert [m for m in re.findall(r"[\"']([a-z_]+)[\"']", line) if m in vocabulary] == ["decided"]


def test_the_circle_check_finds_a_circle():
    assert [sorted(g) for g in _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})] == [["a", "b", "c"]]
