"""Git sessions: one clone, fetch or push, whichever transport carried it (smart HTTP or SSH).

This module owns what a session does besides moving bytes: authorizing the actor for the service,
counting a download, starting `git upload-pack` / `git receive-pack` (through git/runner.py), the
pre-receive check of a push and, once receive-pack exits, the push's after-write step. Transports
only speak their framing and pump bytes between the client and the process.

The pre-receive hook runs in git's own process. Rather than start the whole hub there (seconds of
imports per push), it queues for the repository's write lock itself and asks this server to check
the push over a local socket (transport/git_hooks.py), naming a one-time secret that only this
session's receive-pack was given. The pusher never leaves the server: the check runs with the
session's own actor.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.names import RepoId, RepoType
from csghub.git.repository import write_hooks
from csghub.git.runner import QUARANTINE_VARS, GitProcess, spawn_git, with_config
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import pushes
from csghub.services.repositories.repos import WRITE_WAIT_S, RepoView, get_repo

log = logging.getLogger(__name__)
# Pushing needs PROPOSE only: a pull request's author may push to its refs/pr/N without write access;
# which refs a pusher may move is checked ref by ref before any moves (pushes.check_push).
SERVICES = {"git-upload-pack": Action.DOWNLOAD, "git-receive-pack": Action.PROPOSE}
_GIT_PROTOCOL_RE = re.compile(r"^[a-zA-Z0-9=:._-]{1,64}$")


@dataclass(slots=True)
class GitSession:
    hub: Hub
    actor: Actor
    repo: RepoView
    service: str
    via: str  # services/repositories/writes.py's VIA_GIT_HTTP or VIA_GIT_SSH
    before: dict[str, str] = field(default_factory=dict)
    hook_token: str = ""

    @property
    def pushing(self) -> bool:
        return self.service == "git-receive-pack"


async def open_session(
    hub: Hub, actor: Actor, repo_type: RepoType, repo_id: RepoId, service: str, *, via: str
) -> GitSession:
    """Authorize `actor` for `service` on the repository (NotFound for what they may not read)."""
    if service not in SERVICES:
        raise InvalidArgument(f"Unsupported git service '{service}'")
    repo = await anyio.to_thread.run_sync(lambda: get_repo(hub, actor, repo_type, repo_id, SERVICES[service]))
    return GitSession(hub, actor, repo, service, via)


def _protocol_env(protocol: str) -> dict[str, str]:
    """The client's GIT_PROTOCOL (version 2), passed on only when it is a plain capability list."""
    return {"GIT_PROTOCOL": protocol} if protocol and _GIT_PROTOCOL_RE.match(protocol) else {}


async def advertise(session: GitSession, protocol: str) -> bytes:
    """The refs and capabilities git announces first (smart HTTP's info/refs).

    In protocol v2 that is only the capabilities, which follow from git's version and the repository's
    config: remembered per config, they spare every clone and fetch one start of git.
    """
    repo_path = session.hub.repo_path(session.repo.id)
    key = ""
    if "version=2" in protocol:
        config = (repo_path / "config").read_bytes()  # a small local file: no thread hop for it
        key = f"{session.service} {protocol} {hashlib.sha256(config).hexdigest()}"
        cached: bytes | None = session.hub.advertisements.get(key)
        if cached is not None:
            return cached
    proc = await spawn_git(
        repo_path,
        session.service.removeprefix("git-"),
        "--stateless-rpc",
        "--advertise-refs",
        env=_protocol_env(protocol),
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        log.error("%s --advertise-refs failed: %s", session.service, err.decode(errors="replace"))
        raise HubError("The repository could not be read", code="GitError")
    if key and out.startswith(b"000eversion 2"):
        session.hub.advertisements.put(key, out)
    return out


async def start(session: GitSession, *, protocol: str, stateless: bool, address: str) -> GitProcess:
    """Start the session's git program; a fetch counts as a download of the repository."""
    hub, repo = session.hub, session.repo
    env = _protocol_env(protocol)
    if session.pushing:
        session.before = await anyio.to_thread.run_sync(lambda: hub.git(repo.id).all_ref_targets())
        session.hook_token = secrets.token_urlsafe(32)
        hub.hook_channel.expect(session.hook_token, functools.partial(_check_push, session))
        env.update(
            {
                "CSGHUB_HOOK_PYTHON": sys.executable,
                "CSGHUB_HOOK_SOCKET": hub.hook_channel.address,
                "CSGHUB_HOOK_TOKEN": session.hook_token,
                "CSGHUB_HOOK_WAIT_S": str(WRITE_WAIT_S),
                "CSGHUB_HOOK_HOLD_S": str(pushes.PUSH_HOLD_LIMIT_S),
            }
        )
        # The hub's own hooks folder, never the repository's: the pre-receive check decides which refs a
        # pusher may move (a reader moves only their pull requests' refs), so a hook missing or changed on
        # disk must not let a push through unchecked.
        write_hooks(hub.settings.hooks_dir)  # a few small local reads: no thread hop
        env = with_config(env, "core.hooksPath", str(hub.settings.hooks_dir))
    else:
        hub.downloads.hit(repo.id, address)
    args = ("--stateless-rpc",) if stateless else ()
    return await spawn_git(hub.repo_path(repo.id), session.service.removeprefix("git-"), *args, env=env)


async def finish(session: GitSession, code: int) -> None:
    """After the git program exited: a push's after-write step (or repair, if it failed)."""
    if not session.pushing:
        return
    session.hub.hook_channel.forget(session.hook_token)
    await anyio.to_thread.run_sync(_record_push, session, code != 0)


def finish_detached(session: GitSession, proc: GitProcess, feeder: asyncio.Task[None]) -> None:
    """The client went away mid-push: let git finish receiving, then do the push's after-write step."""
    task = asyncio.get_running_loop().create_task(_finish_when_done(session, proc, feeder))
    session.hub.detached.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(session.hub.detached.discard)


async def _finish_when_done(session: GitSession, proc: GitProcess, feeder: asyncio.Task[None]) -> None:
    while await proc.stdout.read(1024 * 1024):
        pass
    code = await proc.wait()
    feeder.cancel()
    await finish(session, code)


def _record_push(session: GitSession, failed: bool) -> None:
    try:
        pushes.record_push(session.hub, session.repo.id, session.before, session.actor, via=session.via, failed=failed)
    except Exception:  # the push itself is done; never turn bookkeeping into a failed session
        log.exception("post-push bookkeeping failed for repo %s", session.repo.id)


def _check_push(session: GitSession, updates: str, quarantine: dict[str, str]) -> None:
    """The pre-receive check, asked for by the hook (which holds the write lock meanwhile)."""
    env = _quarantine_env(session.hub.repo_path(session.repo.id), quarantine)
    pushes.check_push(session.hub, session.repo.id, pushes.parse_ref_updates(updates), session.actor, env=env)


def _quarantine_env(repo_path: Path, quarantine: dict[str, str]) -> dict[str, str]:
    """git's names for the pushed objects' quarantine, accepted only inside this repository's objects."""
    objects = (repo_path / "objects").resolve()
    env = {}
    for name in QUARANTINE_VARS:
        value = quarantine.get(name, "")
        if not value:
            continue
        for part in value.split(":"):
            if not Path(part).resolve().is_relative_to(objects):
                raise InvalidArgument("The push's object quarantine is outside its repository")
        env[name] = value
    return env
