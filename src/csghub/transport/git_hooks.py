"""The server's end of the pre-receive hook's channel: a local socket that git's hook processes ask
to check a push (services/repositories/git_sessions.py), one JSON line each way.

The socket lives in Linux's abstract namespace, named at random per server; only processes of the
server's own user are answered, and a request must name the one-time secret its push was given.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import struct

import anyio

from csghub.core.errors import HubError
from csghub.services.context import Hub

log = logging.getLogger(__name__)
_LIMIT = 16 * 1024 * 1024  # the ref updates of a push of many thousand refs
_PEERCRED = struct.Struct("3i")
_CHECK_THREADS = 8  # one check per repository at a time (the hook holds its write lock)


async def start_hook_listener(hub: Hub) -> asyncio.AbstractServer:
    name = f"csghub-hooks-{os.getpid()}-{secrets.token_hex(8)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("\0" + name)
    # Checks get threads of their own: the hook holds the write lock while it waits, and request
    # threads may all be queued behind that lock.
    threads = anyio.CapacityLimiter(_CHECK_THREADS)
    server = await asyncio.start_unix_server(lambda r, w: _serve(hub, threads, r, w), sock=sock, limit=_LIMIT)
    hub.hook_channel.address = "@" + name  # `@`: the abstract namespace (an environment holds no NUL)
    return server


async def _serve(
    hub: Hub, threads: anyio.CapacityLimiter, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        peer = writer.get_extra_info("socket")
        _, uid, _ = _PEERCRED.unpack(peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        if uid != os.getuid():
            return
        answer = await _answer(hub, threads, await reader.readline())
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # the hook went away (its push was cancelled): nothing to answer
    finally:
        writer.close()


async def _answer(hub: Hub, threads: anyio.CapacityLimiter, line: bytes) -> dict[str, object]:
    request = json.loads(line)
    check = hub.hook_channel.take(str(request.get("token", "")))
    if check is None:
        return {"ok": False, "message": "This push was not started by this hub"}
    quarantine = {str(k): str(v) for k, v in dict(request.get("quarantine") or {}).items()}
    try:
        await anyio.to_thread.run_sync(check, str(request.get("updates", "")), quarantine, limiter=threads)
    except HubError as exc:
        return {"ok": False, "message": exc.message}
    except Exception:  # a process boundary: the details go to the admin's log, not to the pusher
        log.exception("pre-receive check failed")
        return {"ok": False, "message": "the hub could not check this push; ask the administrator to look at the logs"}
    return {"ok": True}
