"""Git smart HTTP: the HTTP framing of a git session (services/repositories/git_sessions.py).

Request bodies stream to git's stdin (gunzipped on the fly when the client compressed them) while its
stdout streams back, so neither a large push nor a large clone is ever held in memory.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from csghub.core.errors import HubError, InvalidArgument
from csghub.http.deps import client_address, get_actor, get_hub
from csghub.http.errors import error_response
from csghub.http.streams import DuplexStreamingResponse
from csghub.services.repositories import git_sessions
from csghub.services.repositories.git_sessions import GitProcess, GitSession
from csghub.services.repositories.writes import VIA_GIT_HTTP
from csghub.transport.repo_paths import parse_repo_path

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

_INFLATE_STEP = 1024 * 1024
# Large reads: a clone's pack crosses the event loop in few pieces.
_READ_STEP = 1024 * 1024


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


async def _open(request: Request, repo_path: str, service: str) -> GitSession:
    if service not in git_sessions.SERVICES:
        raise InvalidArgument(
            f"Unsupported git service '{service}': this hub speaks smart HTTP only (upgrade your git client)"
        )
    repo_type, repo_id = parse_repo_path(repo_path)
    actor = await get_actor(request)
    return await git_sessions.open_session(get_hub(request), actor, repo_type, repo_id, service, via=VIA_GIT_HTTP)


def _git_error(exc: HubError) -> Response:
    """Plain text, which git prints to the user as `remote: <message>`; the codes ride in headers."""
    response = error_response(exc.status, exc.code, exc.message)
    return Response(
        exc.message + "\n",
        status_code=exc.status,
        media_type="text/plain",
        headers={k: v for k, v in response.headers.items() if k.lower().startswith(("x-error", "www-auth"))},
    )


@router.get("/{repo_path:path}/info/refs")
async def info_refs(request: Request, repo_path: str, service: str = "") -> Response:
    try:
        session = await _open(request, repo_path, service)
        out = await git_sessions.advertise(session, request.headers.get("git-protocol", ""))
    except HubError as exc:
        return _git_error(exc)
    # Protocol v2 answers carry their own header; v0 needs the service announcement first.
    prefix = b"" if out.startswith(b"000eversion 2") else _pkt_line(f"# service={service}\n") + b"0000"
    return Response(
        prefix + out,
        media_type=f"application/x-{service}-advertisement",
        headers={"Cache-Control": "no-cache"},
    )


async def _feed_stdin(request: Request, proc: GitProcess) -> None:
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
        session = await _open(request, repo_path, service)
    except HubError as exc:
        return _git_error(exc)
    protocol = request.headers.get("git-protocol", "")
    proc = await git_sessions.start(session, protocol=protocol, stateless=True, address=client_address(request))
    feeder = asyncio.create_task(_feed_stdin(request, proc))

    async def body() -> AsyncIterator[bytes]:
        finished = False
        code = 0
        try:
            while chunk := await proc.stdout.read(_READ_STEP):
                yield chunk
            await feeder
            stderr = await proc.stderr.read()
            code = await proc.wait()
            finished = True
            if code != 0:
                log.warning("%s exited %s: %s", service, code, stderr.decode(errors="replace")[-2000:])
        finally:
            if not finished and session.pushing:
                # The client went away; the push may still complete, so let it and do the bookkeeping.
                git_sessions.finish_detached(session, proc, feeder)
            elif proc.returncode is None:
                proc.kill()
                await proc.wait()
                feeder.cancel()
        if finished:
            await git_sessions.finish(session, code)

    return DuplexStreamingResponse(
        body(), media_type=f"application/x-{service}-result", headers={"Cache-Control": "no-cache"}
    )


@router.post("/{repo_path:path}/git-upload-pack")
async def upload_pack(request: Request, repo_path: str) -> Response:
    return await _run_service(request, repo_path, "git-upload-pack")


@router.post("/{repo_path:path}/git-receive-pack")
async def receive_pack(request: Request, repo_path: str) -> Response:
    return await _run_service(request, repo_path, "git-receive-pack")
