"""A sync job's other way in, for sources without git (an HF-compatible API only, or a source set with
`use_git` false): one commit rebuilt from the upstream's tree listing at its head.

LFS files become pointers made from the listing's sha256 and size (their objects follow as for a git
sync); other files are downloaded and kept only when their git blob id is the one listed, so the rebuilt
tree holds the upstream's very blobs. The commit goes on top of the mirror's current head, removes what
the upstream no longer lists, and its message names the upstream commit: a sync that finds the same
upstream commit again makes no new commit."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from csghub.core.errors import HubError
from csghub.core.names import validate_path
from csghub.git.lfs import format_pointer
from csghub.git.repository import FileChange, GitRepo
from csghub.git.runner import run_git
from csghub.services.mirrors.upstream import Upstream, UpstreamError

SMALL_MAX = 10 * 1024 * 1024  # a file the listing does not keep in LFS is small; one past this is refused
MARK = "upstream commit "


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _small_file(up: Upstream, spec: dict[str, Any], sha: str, path: str, oid: str, size: int) -> bytes:
    what = f"{path} of {spec['upstream_id']}"
    if size > SMALL_MAX:
        raise HubError(
            f"{what}: {size} bytes outside LFS, more than {SMALL_MAX} rebuilt commits hold", code="UpstreamCorrupt"
        )
    data = bytearray()
    with up.open_stream(up.resolve_path(spec["upstream_type"], spec["upstream_id"], sha, path)) as response:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > size:
                break
    if len(data) != size or (oid and _git_blob_id(bytes(data)) != oid):
        raise HubError(f"{what}: the bytes are not the listed file (size {size}, blob {oid})", code="UpstreamCorrupt")
    return bytes(data)


def rebuild(up: Upstream, spec: dict[str, Any], repo: Path) -> dict[str, str]:
    """Commit the upstream's head as listed on `spec["branch"]` of the work repository; its refs."""
    info = up.repo_info(spec["upstream_type"], spec["upstream_id"])
    sha = str(info.get("sha") or "")
    if not sha:
        raise UpstreamError(200, f"The source did not say which commit {spec['upstream_id']} is at")
    git = GitRepo(repo)
    ref = f"refs/heads/{spec['branch']}"
    parent = spec.get("local_head") or None
    if parent and f"{MARK}{sha}" in git.commit(parent).message:
        # Nothing new upstream. The ref still goes into the work repository: the import copies its refs, and
        # a branch missing there is one the upstream deleted.
        run_git(repo, "update-ref", ref, parent)
        return {ref: parent}
    listed = [e for e in up.list_tree(spec["upstream_type"], spec["upstream_id"], sha) if e.type == "file"]
    changes = []
    for entry in listed:
        path = validate_path(entry.path)
        if entry.lfs_sha256:
            size = entry.lfs_size if entry.lfs_size is not None else entry.size
            changes.append(FileChange(path, git.write_blob(format_pointer(entry.lfs_sha256, size))))
        else:
            data = _small_file(up, spec, sha, path, entry.oid, entry.size)
            changes.append(FileChange(path, git.write_blob(data)))
    if parent:
        kept = {e.path for e in listed}
        changes += [
            FileChange(e.path, None)
            for e in git.list_tree(parent, recursive=True)
            if e.kind == "file" and e.path not in kept
        ]
    commit = git.create_commit(
        parent=parent,
        changes=changes,
        deleted_folders=[],
        message=f"Mirror of {spec['upstream_id']} at {MARK}{sha}",
        author_name="mirror",
        author_email="mirror@csghub.local",
    )
    run_git(repo, "update-ref", ref, commit)
    return {ref: commit}
