"""The one place the hub starts git programs: argv lists, never a shell, errors as GitError."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import uvloop

from csghub.core.errors import GitError

# Git must never prompt, read the user's config, or pick up a terminal.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
    # Pushed objects pass git's fsck in every repository, also in those made before receive.fsckObjects
    # joined their config; the API's commits pass the same checker (quarantine.py).
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "receive.fsckObjects",
    "GIT_CONFIG_VALUE_0": "true",
    # A push's write lock lasts until receive-pack exits; its own `gc --auto` would prolong that, and
    # the hub packs the repository after the push anyway (services/repositories/pushes.py).
    "GIT_CONFIG_KEY_1": "receive.autogc",
    "GIT_CONFIG_VALUE_1": "false",
}


def with_config(env: Mapping[str, str], key: str, value: str) -> dict[str, str]:
    """`env` plus one more `-c key=value` for git, numbered after the base environment's own."""
    count = int(_BASE_ENV["GIT_CONFIG_COUNT"])
    taken = int(env.get("GIT_CONFIG_COUNT", count))
    added = {"GIT_CONFIG_COUNT": str(taken + 1), f"GIT_CONFIG_KEY_{taken}": key, f"GIT_CONFIG_VALUE_{taken}": value}
    return {**env, **added}


# What a pipe's reader buffers before it stops reading (a pack streams through in pieces this large).
_READ_LIMIT = 1024 * 1024

# Inside a pre-receive hook, pushed objects live in a quarantine directory named only by these.
QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in QUARANTINE_VARS}
    env.update(_BASE_ENV)
    if extra:
        env.update(extra)
    return env


def run_git(
    git_dir: Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=input,
        capture_output=True,
        env=git_env(env),
        check=False,
    )
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"git {args[0]} failed: {stderr}", stderr=stderr)
    return proc


class GitProcess:
    """A git program started with vfork (subprocess), its pipes attached to the running event loop.

    uvloop's own subprocess spawning forks the whole server, which costs tens of milliseconds in a
    process of the hub's size and blocks the loop meanwhile; `subprocess.Popen` uses vfork.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self._popen = popen
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        code = self._popen.poll()
        if code is not None:
            return code
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        pidfd = os.pidfd_open(self._popen.pid)
        try:
            loop.add_reader(pidfd, on_exit)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        return self._popen.wait()

    async def communicate(self) -> tuple[bytes, bytes]:
        self.stdin.close()
        out, err = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self.wait()
        return out, err

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()


async def spawn_git(git_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> GitProcess:
    """Start a git program whose stdin and stdout the caller streams."""
    popen = subprocess.Popen(
        ["git", *args, str(git_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=git_env(env),
    )
    assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
    loop = asyncio.get_running_loop()
    try:
        stdout = await _reader(loop, _handed_to(loop, popen.stdout, "rb"))
        stderr = await _reader(loop, _handed_to(loop, popen.stderr, "rb"))
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), _handed_to(loop, popen.stdin, "wb")
        )
    except BaseException:
        popen.kill()
        popen.wait()
        raise
    return GitProcess(popen, asyncio.StreamWriter(transport, protocol, None, loop), stdout, stderr)


def _handed_to(loop: asyncio.AbstractEventLoop, pipe: IO[bytes], mode: str) -> IO[bytes]:
    """The pipe as the loop's pipe transport should get it, so that its descriptor is closed exactly once.

    uvloop gives the descriptor to libuv, which closes it when the transport closes, and then closes the
    file object too: the same number closed twice. Between the two closes another thread (a commit
    writing its temp file, a writer taking its repository lock) may be handed that number, and loses
    it (uvloop issue 763). So uvloop gets a copy of the descriptor, wrapped in a file object that
    never closes it, and the original is closed here. asyncio's own loop closes through the file
    object only, so it gets the pipe as it is.
    """
    if not isinstance(loop, uvloop.Loop):
        return pipe
    copy = os.dup(pipe.fileno())
    pipe.close()
    return open(copy, mode, buffering=0, closefd=False)


async def _reader(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_READ_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader
