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
HUB_STATE = frozenset({"downloads", "facets", "maintenance", "listings"})
# Git sessions over HTTP and SSH are becoming one service; until then their transports still do this.
NOT_YET: dict[str, frozenset[str]] = {
    "transport/git_http.py": frozenset({"git", "repo_path", "downloads"}),
    "transport/ssh.py": frozenset({"git", "repo_path", "downloads"}),
}


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
            allowed = NOT_YET.get(relative, frozenset())
            used = [hit for hit in hub_insides_used(path.read_text()) if hit[1] not in allowed]
            if used:
                found[relative] = used
    assert found == {}, f"call a service instead of reaching into the Hub: {found}"
