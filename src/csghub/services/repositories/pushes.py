"""What happens around a git push: LFS objects checked before refs move, the after-write step after.

Pushed pointers meet the same proof-of-possession rule (services/proofs) as commits; the check runs
in the server for the pre-receive hook (services/repositories/git_sessions.py), with the session's own actor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from csghub.core.errors import Conflict, InvalidArgument
from csghub.core.names import check_user_ref
from csghub.git.repository import ZERO_SHA
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize, can
from csghub.services.repositories import lfs as lfs_service
from csghub.services.repositories import proofs, pull_refs
from csghub.services.repositories.repos import get_repo_by_id
from csghub.services.repositories.writes import after_ref_update, changes_between, repair_after_failure, writing

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


def check_push(
    hub: Hub, repo_id: int, updates: list[RefUpdate], actor: Actor | None, *, env: Mapping[str, str]
) -> None:
    """Refuse a push that moves the hub's own refs (refs/convert/*), creates or deletes a refs/pr/*, moves
    a ref the pusher may not (a pull request author without write access moves only their own refs/pr/N),
    deletes the default branch, or whose
    commits point at LFS objects that were not uploaded to this repository and that the pusher may not
    read elsewhere (refused by path).

    Run while the pre-receive hook holds the write lock; `env` names the push's object quarantine.
    """
    repo = get_repo_by_id(hub, repo_id)
    # A push session needs only Action.PROPOSE (git_sessions.SERVICES): one who may not write moves
    # nothing but the refs/pr/N of their own open pull requests. No actor: the hub's own push.
    may_write = actor is None or can(actor, Action.WRITE, repo.resource)
    for update in updates:
        check_user_ref(update.ref)
        if update.ref.startswith(pull_refs.PR_PREFIX):
            pull_refs.check_pr_push(hub, repo, update.ref, update.old, update.new)
            if actor is not None:
                pull_refs.authorize_pr_commit(hub, actor, repo, update.ref)
        elif actor is not None and not may_write:
            authorize(actor, Action.WRITE, repo.resource)  # refuses, saying what is missing
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
    claims = [proofs.Claim(path, pointer) for path, pointer in git.lfs_pointers_between(new_tips, old_tips, env)]
    missing = proofs.unproven(hub, actor, repo_id, claims)
    if missing:
        raise InvalidArgument(
            f"This push references {len(missing)} LFS object(s) that were never uploaded to this repository:\n"
            f"{proofs.describe(missing)}\n"
            "Install git-lfs (git lfs install) and push again so the objects are uploaded first."
        )
    for check in hub.write_checks:  # upload scanning's blocking mode, when set
        check(hub, repo_id, new_tips, old_tips, env)
    # Linked before the refs move, so the objects stay downloadable even if the pusher disconnects
    # before the post-push bookkeeping; a push refused later only links objects its author uploaded.
    lfs_service.link_objects(hub, repo_id, [claim.pointer for claim in claims])


def record_push(
    hub: Hub, repo_id: int, before: dict[str, str], actor: Actor | None, *, via: str, failed: bool = False
) -> None:
    """After receive-pack exits: the after-write step for whatever it changed, in turn with other
    writers; if it failed, the repair every failed write gets (services/repositories/writes.py)."""
    if hub.git(repo_id).all_ref_targets() == before and not failed:
        return  # nothing moved (a probe, a refused push): no need to queue behind other writers
    with writing(hub, repo_id):
        if failed:
            repair_after_failure(hub, repo_id)
        after_push(hub, repo_id, before, hub.git(repo_id).all_ref_targets(), actor, via=via)


def after_push(
    hub: Hub, repo_id: int, before: dict[str, str], after: dict[str, str], actor: Actor | None, *, via: str
) -> None:
    """Link the pushed LFS objects to the repository, then the step every ref update ends in."""
    changes = changes_between(before, after)
    if not changes:
        return
    git = hub.git(repo_id)
    new_tips = [c.new for c in changes if c.new != ZERO_SHA and c.ref.startswith("refs/")]
    pointers = git.lfs_pointers_between(new_tips, list(set(before.values())))
    lfs_service.link_objects(hub, repo_id, [pointer for _, pointer in pointers])
    forced = sorted(
        c.ref for c in changes if c.old != ZERO_SHA and c.new != ZERO_SHA and not git.is_ancestor(c.old, c.new)
    )
    action = "repo.force_push" if forced else "repo.push"
    after_ref_update(hub, repo_id, actor, changes, action=action, via=via, detail={"forced": forced})
