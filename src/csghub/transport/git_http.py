"""Git smart HTTP, served by the real `git upload-pack` and `git receive-pack` in stateless-rpc mode.

Request bodies stream to git's stdin (gunzipped on the fly when the client compressed them) while its
stdout streams back, so neither a large push nor a large clone is ever held in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import sys
import zlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from csghub.config import Settings
from csghub.core.errors import HubError, InvalidArgument
from csghub.git.runner import spawn_git
from csghub.http.deps import client_address, get_actor, get_hub
from csghub.http.errors import error_response
from csghub.http.streams import DuplexStreamingResponse
from csghub.services import pushes
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor
from csghub.services.repos import RepoView, get_repo
from csghub.transport.repo_paths import parse_repo_path

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

_INFLATE_STEP = 1024 * 1024
_SERVICES = {"git-upload-pack": Action.DOWNLOAD, "git-receive-pack": Action.WRITE}
_GIT_PROTOCOL_RE = re.compile(r"^[a-zA-Z0-9=:._-]{1,64}$")


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def hook_env(settings: Settings, repo: RepoView, actor: Actor) -> dict[str, str]:
    """What the pre-receive hook needs to rebuild the hub in its own process, and who is pushing."""
    payload = {name: str(value) for name, value in dataclasses.asdict(settings).items()}
    return {
        "CSGHUB_HOOK_PYTHON": sys.executable,
        "CSGHUB_HOOK_SETTINGS": json.dumps(payload),
        "CSGHUB_HOOK_REPO_ID": str(repo.id),
        "CSGHUB_HOOK_ACTOR": pushes.actor_to_json(actor),
    }


async def _authorized_repo(request: Request, repo_path: str, service: str) -> tuple[RepoView, Actor]:
    if service not in _SERVICES:
        raise InvalidArgument(
            f"Unsupported git service '{service}': this hub speaks smart HTTP only (upgrade your git client)"
        )
    repo_type, repo_id = parse_repo_path(repo_path)
    actor = await get_actor(request)
    repo = await run_in_threadpool(get_repo, get_hub(request), actor, repo_type, repo_id, _SERVICES[service])
    return repo, actor


def _git_error(exc: HubError) -> Response:
    """Plain text, which git prints to the user as `remote: <message>`; the codes ride in headers."""
    response = error_response(exc.status, exc.code, exc.message)
    return Response(
        exc.message + "\n",
        status_code=exc.status,
        media_type="text/plain",
        headers={k: v for k, v in response.headers.items() if k.lower().startswith(("x-error", "www-auth"))},
    )


def _protocol_env(request: Request) -> dict[str, str]:
    value = request.headers.get("git-protocol", "")
    return {"GIT_PROTOCOL": value} if value and _GIT_PROTOCOL_RE.match(value) else {}


@router.get("/{repo_path:path}/info/refs")
async def info_refs(request: Request, repo_path: str, service: str = "") -> Response:
    try:
        repo, _ = await _authorized_repo(request, repo_path, service)
    except HubError as exc:
        return _git_error(exc)
    hub = get_hub(request)
    proc = await spawn_git(
        hub.repo_path(repo.id),
        service.removeprefix("git-"),
        "--stateless-rpc",
        "--advertise-refs",
        env=_protocol_env(request),
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        log.error("%s --advertise-refs failed: %s", service, err.decode(errors="replace"))
        return error_response(500, "GitError", "The repository could not be read")
    # Protocol v2 answers carry their own header; v0 needs the service announcement first.
    prefix = b"" if out.startswith(b"000eversion 2") else _pkt_line(f"# service={service}\n") + b"0000"
    return Response(
        prefix + out,
        media_type=f"application/x-{service}-advertisement",
        headers={"Cache-Control": "no-cache"},
    )


async def _feed_stdin(request: Request, proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS) if request.headers.get("content-encoding") == "gzip" else None
    try:
        async for chunk in request.stream():
            if gunzip is None:
                proc.stdin.write(chunk)
                await proc.stdin.drain()
                continue
            # Inflate a step at a time: one small gzip chunk may expand a thousandfold.
            data = gunzip.decompress(chunk, _INFLATE_STEP)
            while data:
                proc.stdin.write(data)
                await proc.stdin.drain()
                data = gunzip.decompress(gunzip.unconsumed_tail, _INFLATE_STEP)
        if gunzip:
            proc.stdin.write(gunzip.flush())
    except (BrokenPipeError, ConnectionResetError, ClientDisconnect, HubError):
        pass  # a client gone, too slow or too large: git sees the input end and fails the request
    finally:
        proc.stdin.close()


async def _run_service(request: Request, repo_path: str, service: str) -> Response:
    try:
        repo, actor = await _authorized_repo(request, repo_path, service)
    except HubError as exc:
        return _git_error(exc)
    hub = get_hub(request)
    env = _protocol_env(request)
    before: dict[str, str] = {}
    if service == "git-receive-pack":
        env.update(hook_env(hub.settings, repo, actor))
        before = await run_in_threadpool(lambda: hub.git(repo.id).all_ref_targets())
    else:
        hub.downloads.hit(repo.id, client_address(request))
    proc = await spawn_git(hub.repo_path(repo.id), service.removeprefix("git-"), "--stateless-rpc", env=env)
    feeder = asyncio.create_task(_feed_stdin(request, proc))

    async def body() -> AsyncIterator[bytes]:
        assert proc.stdout is not None and proc.stderr is not None
        finished = False
        code = 0
        try:
            while True:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                yield chunk
            await feeder
            stderr = await proc.stderr.read()
            code = await proc.wait()
            finished = True
            if code != 0:
                log.warning("%s exited %s: %s", service, code, stderr.decode(errors="replace")[-2000:])
        finally:
            if not finished and service == "git-receive-pack":
                # The client went away; the push may still complete, so let it and do the bookkeeping.
                _spawn(_finish_receive(proc, feeder, hub, repo.id, before, actor))
            elif proc.returncode is None:
                proc.kill()
                await proc.wait()
                feeder.cancel()
        if service == "git-receive-pack":
            await run_in_threadpool(record_push, hub, repo.id, before, actor, code != 0)

    return DuplexStreamingResponse(
        body(), media_type=f"application/x-{service}-result", headers={"Cache-Control": "no-cache"}
    )


_BACKGROUND: set[asyncio.Task[None]] = set()


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _BACKGROUND.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_BACKGROUND.discard)


async def _finish_receive(
    proc: asyncio.subprocess.Process,
    feeder: asyncio.Task[None],
    hub: Hub,
    repo_id: int,
    before: dict[str, str],
    actor: Actor,
) -> None:
    assert proc.stdout is not None
    while await proc.stdout.read(65536):
        pass
    code = await proc.wait()
    feeder.cancel()
    await run_in_threadpool(record_push, hub, repo_id, before, actor, code != 0)


def record_push(
    hub: Hub, repo_id: int, before: dict[str, str], actor: Actor | None = None, failed: bool = False
) -> None:
    try:
        pushes.record_push(hub, repo_id, before, actor, failed=failed)
    except Exception:  # the push itself succeeded; never turn bookkeeping into a failed response
        log.exception("post-push bookkeeping failed for repo %s", repo_id)


@router.post("/{repo_path:path}/git-upload-pack")
async def upload_pack(request: Request, repo_path: str) -> Response:
    return await _run_service(request, repo_path, "git-upload-pack")


@router.post("/{repo_path:path}/git-receive-pack")
async def receive_pack(request: Request, repo_path: str) -> Response:
    return await _run_service(request, repo_path, "git-receive-pack")
