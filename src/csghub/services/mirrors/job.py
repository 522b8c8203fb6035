"""A sync job's own process: `python -m csghub.services.mirrors.job WORK_DIR`.

The hub (services/mirrors/sync.py) prepares WORK_DIR: `spec.json` (the source's base URL and outbound
rules, the upstream repository, the LFS objects the hub already holds, the bandwidth share) and
`repo.git`, a bare repository that borrows the live repository's objects (alternates), so a fetch brings
only what is new. The source's token comes in the environment (CSGHUB_MIRROR_TOKEN), never in a file.

This process fetches every branch and tag of the upstream into `repo.git` (git over HTTP, its connection
pinned to the address the outbound rules accepted; or, from a source without git, one commit rebuilt from
the tree listing: services/mirrors/rebuild.py), then downloads every LFS object those refs reach
that the hub lacks into `lfs/{oid}`, in ranges, resuming a `.part` left by an earlier attempt and
verifying sha256 and size before the file takes its name. It never writes to the live repository: the
hub imports the result (objects first, refs last) when `result.json` says it succeeded.

`progress.json` says where it is: {"state": "running" | "repo_synced" | "lfs", "files_total",
"bytes_total", "files_done"}. Exit status 0 with a result (which may carry a readable error and whether
retrying could help), non-zero when the process itself failed (its log's tail then says why)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from csghub.core.errors import GitError, HubError
from csghub.git import remote
from csghub.git.repository import GitRepo
from csghub.net.bandwidth import RateLimiter
from csghub.net.guard import AddressRules
from csghub.services.mirrors.rebuild import rebuild
from csghub.services.mirrors.upstream import Upstream, UpstreamError, UpstreamNotFound

SPEC, RESULT, PROGRESS = "spec.json", "result.json", "progress.json"
TOKEN_ENV = "CSGHUB_MIRROR_TOKEN"
LFS_BATCH = 100  # objects per batch request
REFSPECS = remote.MIRROR_REFSPECS
# Causes that another attempt will not cure: the task fails at once, logged once.
LASTING_CODES = ("UpstreamNotFound", "UpstreamForbidden", "UpstreamCorrupt", "OutboundRefused", "InvalidArgument")


def write_json(path: Path, value: Any) -> None:
    """Whole or not at all: the hub may read the file at any moment."""
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(value))
    os.replace(partial, path)


class SyncFailed(HubError):
    """The upstream's git answered with an error; `code` says which kind."""


def _git_failure(stderr: str) -> SyncFailed:
    text = stderr.lower()
    if "404" in text or "not found" in text:
        return SyncFailed(f"The upstream has no such git repository: {stderr[-300:]}", code="UpstreamNotFound")
    if "403" in text or "401" in text or "authentication" in text or "could not read username" in text:
        return SyncFailed(
            f"The upstream refused access to the repository (check the source's token): {stderr[-300:]}",
            code="UpstreamForbidden",
        )
    return SyncFailed(f"Fetching the upstream's git history failed: {stderr[-500:]}", code="UpstreamUnavailable")


def fetch_git(up: Upstream, spec: dict[str, Any], repo: Path) -> dict[str, str]:
    """Fetch every branch and tag (deleting those the upstream deleted, checking every object received,
    giving up on a stalled upstream); the refs as fetched."""
    url = up.git_url(spec["upstream_type"], spec["upstream_id"])
    try:
        remote.fetch_refs(repo, url, up.git_env(url))
    except GitError as exc:
        raise _git_failure(exc.stderr or str(exc)) from None
    return GitRepo(repo).all_ref_targets()


def lfs_wanted(repo: Path, refs: dict[str, str], held: dict[str, int]) -> list[tuple[str, int]]:
    """The LFS objects the fetched refs reach that the hub does not hold, each once, largest first."""
    tips = sorted(set(refs.values()))
    pointers = GitRepo(repo).lfs_pointers_between(tips, [])
    wanted = {p.oid: p.size for _path, p in pointers if held.get(p.oid) != p.size}
    return sorted(wanted.items(), key=lambda item: (-item[1], item[0]))


def all_pointers(repo: Path, refs: dict[str, str]) -> list[tuple[str, int]]:
    tips = sorted(set(refs.values()))
    return sorted({p.oid: p.size for _path, p in GitRepo(repo).lfs_pointers_between(tips, [])}.items())


def _href(answer: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The download action of one batch answer; the source's own error (404, 410...) as ours."""
    error = answer.get("error")
    action = (answer.get("actions") or {}).get("download") if isinstance(answer.get("actions"), dict) else None
    if error or not isinstance(action, dict) or not isinstance(action.get("href"), str):
        detail = error.get("message", "") if isinstance(error, dict) else ""
        code = (
            "UpstreamNotFound"
            if not isinstance(error, dict) or error.get("code") in (404, 410)
            else "UpstreamUnavailable"
        )
        raise SyncFailed(f"The source does not offer LFS object {answer.get('oid')}: {detail}".rstrip(": "), code=code)
    header = action.get("header")
    return action["href"], {str(k): str(v) for k, v in header.items()} if isinstance(header, dict) else {}


def download_objects(
    up: Upstream, spec: dict[str, Any], work: Path, wanted: list[tuple[str, int]], progress: dict[str, Any]
) -> None:
    folder = work / "lfs"
    folder.mkdir(exist_ok=True)
    limiter = RateLimiter(int(spec.get("bandwidth_bytes_per_s") or 0))
    for start in range(0, len(wanted), LFS_BATCH):
        todo = [(oid, size) for oid, size in wanted[start : start + LFS_BATCH] if not (folder / oid).exists()]
        if not todo:
            continue
        answers = {str(a.get("oid")): a for a in up.lfs_batch(spec["upstream_type"], spec["upstream_id"], todo)}
        for oid, size in todo:
            href, headers = _href(answers.get(oid) or {"oid": oid})
            up.download(href, folder / oid, expected_sha256=oid, size=size, limiter=limiter, headers=headers)
            progress["files_done"] += 1
            write_json(work / PROGRESS, progress)


def sync(work: Path) -> dict[str, Any]:
    spec = json.loads((work / SPEC).read_text())
    token = os.environ.get(TOKEN_ENV) or None
    repo = work / "repo.git"
    progress: dict[str, Any] = {"state": "running", "files_total": 0, "bytes_total": 0, "files_done": 0}
    write_json(work / PROGRESS, progress)
    with Upstream(spec["base_url"], AddressRules(**spec["rules"]), token=token) as up:
        return _sync(up, spec, work, repo, progress)


def fetch_history(up: Upstream, spec: dict[str, Any], repo: Path) -> dict[str, str]:
    """Git when the source serves it; else (or when it has no git for this repository but its API knows
    it) a commit rebuilt from the tree listing."""
    if not spec.get("use_git", True):
        return rebuild(up, spec, repo)
    try:
        return fetch_git(up, spec, repo)
    except SyncFailed as failed:
        if failed.code == "UpstreamForbidden":
            # Hubs (ours, Hugging Face) answer git with 401 for a repository they hide or lack alike; their
            # API says which (RepositoryNotFound), so a typo is not reported as a token problem.
            try:
                up.repo_info(spec["upstream_type"], spec["upstream_id"])
            except UpstreamNotFound as missing:
                said = f"The upstream has no repository {spec['upstream_id']} that this source may read"
                raise SyncFailed(f"{said}: {missing.message}", code="UpstreamNotFound") from None
            except UpstreamError:
                pass
            raise
        if failed.code != "UpstreamNotFound":
            raise
        try:
            return rebuild(up, spec, repo)
        except UpstreamError:
            raise failed from None  # unknown to the API too: git's answer says it best


def say(line: str) -> None:
    """A line of the job's log (the task's logs in the API, the portal and `csghub mirror logs`)."""
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def _sync(up: Upstream, spec: dict[str, Any], work: Path, repo: Path, progress: dict[str, Any]) -> dict[str, Any]:
    began = time.monotonic()
    say(f"fetching the history of {spec['upstream_type']} {spec['upstream_id']} from {spec['base_url']}")
    refs = fetch_history(up, spec, repo)
    say(f"history fetched in {time.monotonic() - began:.1f} s: {len(refs)} branch(es) and tag(s)")
    if not refs:
        raise SyncFailed("The upstream repository has no branches", code="UpstreamNotFound")
    held = {oid: int(size) for oid, size in spec.get("held", [])}
    wanted = lfs_wanted(repo, refs, held)
    progress.update(
        state="repo_synced", files_total=len(wanted), bytes_total=sum(size for _oid, size in wanted), files_done=0
    )
    progress["files_done"] = sum(1 for oid, _size in wanted if (work / "lfs" / oid).exists())  # an earlier attempt's
    write_json(work / PROGRESS, progress)
    if wanted:
        progress["state"] = "lfs"
        write_json(work / PROGRESS, progress)
        size = sum(size for _oid, size in wanted)
        say(f"downloading {len(wanted)} LFS object(s), {size:,} bytes")
        began = time.monotonic()
        download_objects(up, spec, work, wanted, progress)
        took = time.monotonic() - began
        say(f"LFS objects downloaded and verified in {took:.1f} s ({size / max(took, 1e-3) / 1e6:.0f} MB/s)")
    else:
        say("every LFS object the refs reach is held already")
    return {"refs": refs, "objects": all_pointers(repo, refs), "downloaded": wanted, "error": "", "code": ""}


def main(argv: list[str]) -> int:
    work = Path(argv[1])
    started = time.monotonic()
    try:
        result = sync(work)
    except HubError as exc:  # the upstream's answer or our rules: the task shows this message
        result = {"refs": {}, "objects": [], "downloaded": [], "error": exc.message, "code": exc.code}
        result["lasting"] = exc.code in LASTING_CODES
    write_json(work / RESULT, result)
    took = time.monotonic() - started
    if result["error"]:
        say(f"sync failed after {took:.1f} s: {result['code']}: {result['error']}")
    else:
        say(f"synced {len(result['refs'])} ref(s), {len(result['downloaded'])} LFS object(s) in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
