"""The pre-receive hook, run by `git receive-pack` for every push the hub serves.

It starts in a fraction of the time the whole hub would take: it imports only the write lock, queues
for the repository's lock itself (so pushes and the hub's own writers are served in arrival order),
then asks the running server to check the push over its local socket (transport/git_hooks.py). On
success the lock stays held until receive-pack, having moved the refs, exits.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from csghub.git.write_lock import WriteLock, WriteLockTimeout

_QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def run_hook(name: str, environ: Mapping[str, str], stdin: str) -> int:
    if name != "pre-receive":
        return 0
    address, token = environ.get("CSGHUB_HOOK_SOCKET", ""), environ.get("CSGHUB_HOOK_TOKEN", "")
    if not address or not token:
        return _refuse("this push did not come through the hub")
    lock = WriteLock(Path.cwd())  # git runs hooks of a bare repository inside it
    try:
        lock.acquire(float(environ.get("CSGHUB_HOOK_WAIT_S", "300")))
    except WriteLockTimeout as exc:
        return _refuse(exc.message)
    try:
        quarantine = {key: environ[key] for key in _QUARANTINE_VARS if key in environ}
        answer = _ask(address, {"token": token, "updates": stdin, "quarantine": quarantine})
    except (OSError, ValueError):
        lock.release()
        return _refuse("the hub could not check this push; ask the administrator to look at the logs")
    if not answer.get("ok"):
        lock.release()
        return _refuse(str(answer.get("message", "")))
    # This hook's parent is the receive-pack that moves the refs once the hook says yes.
    lock.keep_until_exit(os.getppid(), float(environ.get("CSGHUB_HOOK_HOLD_S", "600")))
    return 0


def _ask(address: str, request: dict[str, object]) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect("\0" + address[1:] if address.startswith("@") else address)
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as answer:
            reply = json.loads(answer.readline())
    return reply if isinstance(reply, dict) else {}


def _refuse(message: str) -> int:
    # git relays hook stderr to the pusher as "remote: ..." lines.
    for line in message.splitlines():
        print(f"csghub: {line}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    return run_hook(argv[0] if argv else "", os.environ, sys.stdin.read())
