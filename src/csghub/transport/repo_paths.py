"""Repository paths in git and LFS URLs: `ns/name[.git]` for models, `{type}s/ns/name[.git]` otherwise."""

from __future__ import annotations

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoId, RepoType

_PLURALS = {t.plural: t for t in RepoType}
# Prefixes a client may put in front of the repository path (the HF and CSG compatibility mounts).
_MOUNTS = ("hf", "csg")


def parse_repo_path(path: str) -> tuple[RepoType, RepoId]:
    parts = [p for p in path.strip("/").split("/") if p]
    if parts and parts[0] in _MOUNTS:
        parts = parts[1:]
    repo_type = RepoType.MODEL
    if len(parts) == 3 and parts[0] in _PLURALS:
        repo_type = _PLURALS[parts[0]]
        parts = parts[1:]
    if len(parts) != 2:
        raise InvalidArgument(f"'{path}' is not a repository path")
    return repo_type, RepoId.of(parts[0], parts[1].removesuffix(".git"))
