"""Edges (api/, web/, transport/) reach git, storage, the database and the hub's counters only through
services: import-linter forbids the imports; this scan forbids the hidden route around it, an attribute
of the Hub (`hub.git(...)`, `hub.blobs`, `hub.db()`, `snapshot.git`) used from a handler."""

from __future__ import annotations

import ast
from pathlib import Path

import csghub

SRC = Path(csghub.__file__).parent
EDGES = ("api", "web", "transport")
# What only services may touch: the adapters the Hub holds (by any name: a snapshot's `git` too), and
# the state kept on the Hub (names that values also use, such as a repository's `downloads`).
HUB_INSIDES = frozenset({"git", "repo_path", "blobs", "db", "sessions"})
HUB_STATE = frozenset(
    {"downloads", "facets", "listings", "diffs", "maintenance", "advertisements", "detached", "reads", "refs"}
    | {"entries", "small_blobs", "rendered"}
)


def hub_insides_used(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of every `x.<attribute>` in `source` that names one of the Hub's insides."""
    return sorted(
        (node.lineno, node.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and (
            node.attr in HUB_INSIDES
            or (node.attr in HUB_STATE and isinstance(node.value, ast.Name) and node.value.id == "hub")
        )
    )


def test_hub_insides_used_finds_each_way_of_reaching_them() -> None:
    source = "def f(hub, snapshot):\n    hub.git(1).remove()\n    with hub.db() as s:\n        hub.blobs.read(s)\n"
    source += "    return snapshot.git.read_small_blob('x'), hub.downloads.hit(1, 'a'), view.downloads\n"
    assert hub_insides_used(source) == [(2, "git"), (3, "db"), (4, "blobs"), (5, "downloads"), (5, "git")]


def test_edges_reach_the_hub_insides_only_through_services() -> None:
    found: dict[str, list[tuple[int, str]]] = {}
    for edge in EDGES:
        for path in sorted((SRC / edge).rglob("*.py")):
            relative = path.relative_to(SRC).as_posix()
            used = hub_insides_used(path.read_text())
            if used:
                found[relative] = used
    assert found == {}, f"call a service instead of reaching into the Hub: {found}"


# Constructors of what holds state between requests; a module keeping one is a global the Hub should own.
STATEFUL = frozenset({"Lock", "RLock", "dict", "set", "list", "OrderedDict", "defaultdict", "deque", "TtlCache"})
CACHING = frozenset({"lru_cache", "cache"})


# Background tasks of a git push; the git-session service takes them over.
def _called_name(node: ast.expr) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def module_state(source: str) -> list[str]:
    """Names bound at module level to a lock, a mutable container or a cache."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            if _called_name(node.value) in STATEFUL:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found += [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.FunctionDef) and any(_called_name(d) in CACHING for d in node.decorator_list):
            found.append(node.name)
    return found


def test_module_state_finds_locks_containers_and_caches() -> None:
    source = "import functools, threading\nLOCK = threading.Lock()\n_seen: set[str] = set()\nLIMIT = 3\n"
    source += "@functools.lru_cache(maxsize=8)\ndef listing(x): ...\nNAMES = frozenset({'a'})\n"
    assert module_state(source) == ["LOCK", "_seen", "listing"]


def test_no_module_keeps_state_the_hub_should_own() -> None:
    found = [
        (path.relative_to(SRC).as_posix(), name)
        for path in sorted(SRC.rglob("*.py"))
        for name in module_state(path.read_text())
    ]
    assert found == []
