"""Git programs' pipes are closed exactly once, on uvloop and on asyncio's own loop.

uvloop closes a pipe transport's descriptor in libuv and then closes the file object it was given as
well. The second close hit whatever another thread had just opened under that number: in a full CI
run a commit's repository lock lost its guard file (EBADF) while git served a push beside it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from csghub.git.runner import spawn_git

SPAWNS = 300
CHURNERS = 4


def _churn(stop: threading.Event, lost: list[str]) -> None:
    """Open, check and close files as the server's worker threads do, noting any descriptor taken away."""
    while not stop.is_set():
        fd = os.open(os.devnull, os.O_RDONLY)
        try:
            os.fstat(fd)
        except OSError as exc:
            lost.append(f"fstat: {exc}")
            continue
        try:
            os.close(fd)
        except OSError as exc:
            lost.append(f"close: {exc}")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _serve_advertisements(repo: Path) -> None:
    for _ in range(SPAWNS):
        proc = await spawn_git(repo, "upload-pack", "--stateless-rpc", "--advertise-refs")
        _, err = await proc.communicate()
        assert proc.returncode == 0, err
        proc.stdin.close()
        await proc.stdin.wait_closed()


Runner = Callable[[Coroutine[Any, Any, None]], None]


@pytest.mark.parametrize("run", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])
def test_git_pipes_never_close_another_threads_file(tmp_path: Path, run: Runner) -> None:
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    stop = threading.Event()
    lost: list[str] = []
    churners = [threading.Thread(target=_churn, args=(stop, lost)) for _ in range(CHURNERS)]
    before = _open_fds()
    for churner in churners:
        churner.start()
    try:
        run(_serve_advertisements(repo))
    finally:
        stop.set()
        for churner in churners:
            churner.join(10)
    assert lost == []
    assert _open_fds() <= before + 2  # nothing leaks either (slack for the loop's own descriptors)
