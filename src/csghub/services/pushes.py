"""What happens around a git push: LFS objects checked before refs move, metadata refreshed after.

The pre-receive hook runs in git's own process; the pusher travels to it as JSON in its environment
(set by the hub, never by the client), so that pushed pointers meet the same proof-of-possession rule
(services/proofs) as commits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from csghub.core.errors import Conflict, InvalidArgument
from csghub.git.repository import ZERO_SHA
from csghub.services import audit, proofs
from csghub.services import lfs as lfs_service
from csghub.services.context import Hub
from csghub.services.permissions import Actor, Grant
from csghub.services.repos import get_repo_by_id, refresh_metadata
from csghub.services.writes import repair_after_failure, writing

log = logging.getLogger(__name__)
# The longest a push's write lock outlives its pre-receive hook: receive-pack only moves refs and
# reports by then, so this bounds a wedged receive-pack, not a normal one.
PUSH_HOLD_LIMIT_S = 600.0


@dataclass(frozen=True, slots=True)
class RefUpdate:
    old: str
    new: str
    ref: str


def parse_ref_updates(text: str) -> list[RefUpdate]:
    updates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            updates.append(RefUpdate(*fields))
    return updates


def actor_to_json(actor: Actor) -> str:
    return json.dumps(
        {
            "user_id": actor.user_id,
            "name": actor.name,
            "is_admin": actor.is_admin,
            "scope": actor.scope,
            "org_roles": actor.org_roles,
            "repo_roles": {str(k): v for k, v in actor.repo_roles.items()},
            "gate_access": sorted(actor.gate_access),
            "grants": [[g.kind, g.target, sorted(g.actions)] for g in actor.grants],
        }
    )


def actor_from_json(text: str) -> Actor:
    raw = json.loads(text)
    return Actor(
        user_id=raw["user_id"],
        name=raw["name"],
        is_admin=raw["is_admin"],
        scope=raw["scope"],
        org_roles=dict(raw["org_roles"]),
        repo_roles={int(k): v for k, v in raw["repo_roles"].items()},
        gate_access=frozenset(raw["gate_access"]),
        grants=tuple(Grant(kind, target, frozenset(actions)) for kind, target, actions in raw["grants"]),
    )


def check_push(hub: Hub, repo_id: int, updates: list[RefUpdate], actor: Actor | None = None) -> None:
    """Refuse a push that deletes the default branch, or whose commits point at LFS objects that were
    not uploaded to this repository and that the pusher may not read elsewhere (refused by path)."""
    repo = get_repo_by_id(hub, repo_id)
    for update in updates:
        if update.new == ZERO_SHA and update.ref == f"refs/heads/{repo.default_branch}":
            raise InvalidArgument(f"Deleting the default branch '{repo.default_branch}' is not allowed")
    git = hub.git(repo_id)
    current = git.all_ref_targets()
    for update in updates:
        # Another writer went first (its turn came before this push's); git would refuse the update
        # anyway, with a less helpful "failed to update ref".
        if current.get(update.ref, ZERO_SHA) != update.old:
            raise Conflict(
                f"{update.ref} was updated by another writer while this push was on its way; "
                "fetch, integrate the new commits and push again"
            )
    new_tips = [u.new for u in updates if u.new != ZERO_SHA]
    old_tips = list(set(current.values()))
    claims = [proofs.Claim(path, pointer) for path, pointer in git.lfs_pointers_between(new_tips, old_tips)]
    missing = proofs.unproven(hub, actor, repo_id, claims)
    if missing:
        raise InvalidArgument(
            f"This push references {len(missing)} LFS object(s) that were never uploaded to this repository:\n"
            f"{proofs.describe(missing)}\n"
            "Install git-lfs (git lfs install) and push again so the objects are uploaded first."
        )
    # Linked before the refs move, so the objects stay downloadable even if the pusher disconnects
    # before the post-push bookkeeping; a push refused later only links objects its author uploaded.
    lfs_service.link_objects(hub, repo_id, [claim.pointer for claim in claims])


def check_push_in_turn(
    hub: Hub, repo_id: int, updates: list[RefUpdate], receiver_pid: int, actor: Actor | None = None
) -> None:
    """check_push in the repository's order of writers (run by the pre-receive hook).

    git moves the refs after the hook returns, so on success the write lock stays held until the
    receive-pack that ran the hook (`receiver_pid`) exits; on failure it is let go at once.
    """
    with writing(hub, repo_id) as lock:
        check_push(hub, repo_id, updates, actor)
        lock.keep_until_exit(receiver_pid, PUSH_HOLD_LIMIT_S)


def record_push(
    hub: Hub, repo_id: int, before: dict[str, str], actor: Actor | None = None, *, failed: bool = False
) -> None:
    """After receive-pack exits: the bookkeeping of whatever it changed, in turn with other writers;
    if it failed, the repair every failed write gets (services/writes.py)."""
    if hub.git(repo_id).all_ref_targets() == before and not failed:
        return  # nothing moved (a probe, a refused push): no need to queue behind other writers
    with writing(hub, repo_id):
        if failed:
            repair_after_failure(hub, repo_id)
        after = hub.git(repo_id).all_ref_targets()
        changed = after_push(hub, repo_id, before, after, actor)
    if changed:
        hub.git(repo_id).maintain()


def after_push(
    hub: Hub, repo_id: int, before: dict[str, str], after: dict[str, str], actor: Actor | None = None
) -> bool:
    """Link the pushed LFS objects to the repository, refresh its metadata and log the push."""
    if before == after:
        return False
    git = hub.git(repo_id)
    _audit_push(hub, repo_id, before, after, actor)
    new_tips = [sha for ref, sha in after.items() if before.get(ref) != sha and ref.startswith("refs/")]
    pointers = git.lfs_pointers_between(new_tips, list(set(before.values())))
    lfs_service.link_objects(hub, repo_id, [pointer for _, pointer in pointers])
    refresh_metadata(hub, repo_id)
    return True


def _audit_push(hub: Hub, repo_id: int, before: dict[str, str], after: dict[str, str], actor: Actor | None) -> None:
    git = hub.git(repo_id)
    changed = {ref: (before.get(ref, ZERO_SHA), sha) for ref, sha in after.items() if before.get(ref) != sha}
    changed.update({ref: (sha, ZERO_SHA) for ref, sha in before.items() if ref not in after})
    forced = sorted(
        ref
        for ref, (old, new) in changed.items()
        if old != ZERO_SHA and new != ZERO_SHA and not git.is_ancestor(old, new)
    )
    repo = get_repo_by_id(hub, repo_id)
    with hub.db() as session:
        audit.record(
            session,
            actor,
            "repo.force_push" if forced else "repo.push",
            namespace=repo.namespace,
            target=f"{repo.type.value}:{repo.full_name}",
            detail={"refs": {ref: [old, new] for ref, (old, new) in sorted(changed.items())}, "forced": forced},
        )
