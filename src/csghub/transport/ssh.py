"""Git over SSH: an asyncssh server that authenticates users by their registered public keys; the git
session itself (authorize, spawn, count, record) is services/repositories/git_sessions.py's, as for smart HTTP.

`git-lfs-authenticate` answers with the HTTP LFS endpoint and a short-lived token, so git-lfs works
with SSH remotes too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shlex
import time
from pathlib import Path

import asyncssh
from starlette.concurrency import run_in_threadpool

from csghub.core.errors import HubError, InvalidArgument
from csghub.core.signing import make_token
from csghub.services.context import Hub
from csghub.services.identity import ssh_keys
from csghub.services.permissions import Action, Actor
from csghub.services.repositories import git_sessions
from csghub.services.repositories.repos import get_repo
from csghub.services.repositories.writes import VIA_GIT_SSH
from csghub.transport.repo_paths import parse_repo_path

log = logging.getLogger(__name__)
LFS_TOKEN_TTL = 3600


def host_key(data_dir: Path) -> asyncssh.SSHKey:
    """The server's host key, generated on first start and kept."""
    path = data_dir / "ssh_host_ed25519_key"
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        tmp = path.with_suffix(".tmp")
        key.write_private_key(str(tmp))
        tmp.chmod(0o600)
        tmp.replace(path)
    return asyncssh.read_private_key(str(path))


class _Server(asyncssh.SSHServer):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.actor: Actor | None = None
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        actor = ssh_keys.actor_for_key(self.hub, key)
        if actor is None:
            return False
        self.actor = actor
        if self._conn is not None:
            self._conn.set_extra_info(csghub_actor=actor)
        return True


def _http_base(hub: Hub, process: asyncssh.SSHServerProcess, http_port: int) -> str:
    if hub.settings.public_url:
        return hub.settings.public_url.rstrip("/")
    address = process.get_extra_info("sockname")[0]  # the address this client reached us on
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{http_port}"


async def _handle(process: asyncssh.SSHServerProcess, hub: Hub, http_port: int) -> None:
    hub.metrics.record.ssh_opened()
    try:
        await _serve_command(process, hub, http_port)
    except Exception:  # a process boundary: log it, tell the client briefly, never kill the server
        log.exception("ssh command %r failed", process.command)
        process.stderr.write(b"csghub: internal error; ask the administrator to look at the logs\n")
        process.exit(1)
    finally:
        hub.metrics.record.ssh_closed()


async def _serve_command(process: asyncssh.SSHServerProcess, hub: Hub, http_port: int) -> None:
    actor: Actor = process.get_extra_info("csghub_actor")
    peer = process.get_extra_info("peername")
    actor = dataclasses.replace(actor, address=str(peer[0]) if peer else "")
    http_base = _http_base(hub, process, http_port)
    try:
        argv = shlex.split(process.command or "")
        if len(argv) < 2:
            raise InvalidArgument("This server only speaks git: try `git clone ssh://git@host:port/ns/name.git`")
        command, path = argv[0], argv[1]
        repo_type, repo_id = parse_repo_path(path)
        if command == "git-lfs-authenticate":
            operation = argv[2] if len(argv) > 2 else "download"
            action = Action.WRITE if operation == "upload" else Action.DOWNLOAD
            repo = await run_in_threadpool(get_repo, hub, actor, repo_type, repo_id, action)
            token = make_token(
                hub.settings.secret_key,
                {"kind": "ssh-lfs", "user": actor.user_id},
                expires_at=int(time.time()) + LFS_TOKEN_TTL,
            )
            prefix = "" if repo.type.value == "model" else f"{repo.type.plural}/"
            answer = {
                "href": f"{http_base}/{prefix}{repo.full_name}.git/info/lfs",
                "header": {"Authorization": f"Bearer {token}"},
                "expires_in": LFS_TOKEN_TTL,
            }
            process.stdout.write((json.dumps(answer) + "\n").encode())
            process.exit(0)
            return
        if command not in git_sessions.SERVICES:
            raise InvalidArgument(f"Unsupported command '{command}'")
        session = await git_sessions.open_session(hub, actor, repo_type, repo_id, command, via=VIA_GIT_SSH)
    except HubError as exc:
        process.stderr.write(f"csghub: {exc.message}\n".encode())
        process.exit(1)
        return
    protocol = str((process.env or {}).get("GIT_PROTOCOL") or "")
    proc = await git_sessions.start(session, protocol=protocol, stateless=False, address=actor.address)
    feeder = asyncio.create_task(_pump_in(process, proc.stdin, hub))
    await asyncio.gather(_pump_out(proc.stdout, process.stdout, hub), _pump_out(proc.stderr, process.stderr, hub))
    code = await proc.wait()
    feeder.cancel()
    await git_sessions.finish(session, code)
    if code == 0:
        hub.metrics.record.count_transfer("ssh", command.removeprefix("git-"))
    process.exit(code)


async def _pump_in(process: asyncssh.SSHServerProcess, stdin: asyncio.StreamWriter, hub: Hub) -> None:
    """Client -> git, until the client sends EOF (or git stops reading)."""
    try:
        while data := await process.stdin.read(65536):
            hub.metrics.record.count_bytes("ssh", len(data), 0)
            stdin.write(data)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError, asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
        pass
    finally:
        stdin.close()


async def _pump_out(source: asyncio.StreamReader, sink: asyncssh.SSHWriter, hub: Hub) -> None:
    """git -> client, to the end of git's output, so nothing is lost before the exit status."""
    while data := await source.read(65536):
        hub.metrics.record.count_bytes("ssh", 0, len(data))
        sink.write(data)
        await sink.drain()


async def start_ssh_server(hub: Hub, http_port: int) -> asyncssh.SSHAcceptor:
    settings = hub.settings
    acceptor = await asyncssh.listen(
        settings.host,
        settings.ssh_port,
        server_host_keys=[host_key(settings.data_dir)],
        server_factory=lambda: _Server(hub),
        process_factory=lambda process: _handle(process, hub, http_port),
        encoding=None,
        allow_scp=False,
    )
    return acceptor
