"""Blocking mode (`scan_block_dangerous`): a write that adds a file with a dangerous import is refused
before its ref moves.

Registered by wiring as one of hub.write_checks, which a push's pre-receive check
(services/repositories/pushes.py) and every commit (services/repositories/commits.py: the API, the
portal's upload and editor) call with the new tips. The files they add are listed with git, through a
push's quarantine when there is one; a pickle-based file whose content has a verdict already is judged
by it, else scanned inline when at most `scan_inline_max_bytes` (streamed, as the queue does), else
left to the queue. Mirrors are not refused: they copy what the upstream has, and are flagged instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from csghub.core.errors import PermissionDenied
from csghub.git.lfs import POINTER_MAX_SIZE, parse_pointer
from csghub.services.context import Hub
from csghub.services.scanning import pipeline, results
from csghub.services.scanning.pickles import Verdict, is_pickle_based
from csghub.services.scanning.results import Target


def _targets(
    hub: Hub, repo_id: int, new_tips: list[str], old_tips: list[str], env: Mapping[str, str] | None
) -> list[Target]:
    git = hub.git(repo_id)
    targets = []
    for path, blob, size in git.blobs_between(new_tips, old_tips, env):
        if not is_pickle_based(path):
            continue
        pointer = parse_pointer(b"".join(git.stream_blob(blob, env=env))) if size <= POINTER_MAX_SIZE else None
        if pointer is not None:
            targets.append(Target(repo_id, path, pointer.size, pointer.oid, blob))
        else:
            targets.append(Target(repo_id, path, size, None, blob))
    return targets


def refuse_dangerous(
    hub: Hub, repo_id: int, new_tips: list[str], old_tips: list[str], env: Mapping[str, str] | None
) -> None:
    """Raise PermissionDenied naming the first added file with a dangerous import and that import."""
    settings = hub.settings
    if not (settings.scan_enabled and settings.scan_block_dangerous):
        return
    targets = _targets(hub, repo_id, new_tips, old_tips, env)
    known = results.find_records(hub, [t.key for t in targets])
    for target in targets:
        record = known.get(target.key)
        verdict: Verdict | None = record.verdict if record is not None else None
        if verdict is None:
            if target.size > settings.scan_inline_max_bytes:
                continue  # too large to scan before answering: the after-write step queues it
            verdict = pipeline.scan_target(hub, target, env)
        found = verdict.dangerous
        if found is not None:
            raise PermissionDenied(
                f"Upload refused: '{target.path}' imports {found.module}.{found.name}, which runs code when the "
                "file is loaded. This hub refuses pickle files with dangerous imports; save the weights as "
                "safetensors instead."
            )
