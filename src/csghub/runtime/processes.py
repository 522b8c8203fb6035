"""Processes on this machine as the local runner sees them: found again by pid and start time (a reused
pid is not the same process), their trees, signals to a whole session, CPU pinning and memory use."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def find_process(record: Mapping[str, Any]) -> psutil.Process | None:
    """The record's process if it still runs: same pid and same start time (a reused pid is not it)."""
    try:
        process = psutil.Process(record["pid"])
        if process.create_time() != record["create_time"] or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def is_alive(record: Mapping[str, Any]) -> bool:
    return find_process(record) is not None


def process_tree(record: Mapping[str, Any]) -> list[psutil.Process]:
    leader = find_process(record)
    if leader is None:
        return []
    with contextlib.suppress(psutil.Error):
        return [leader, *_descendants(leader)]
    return [leader]


def _descendants(leader: psutil.Process) -> list[psutil.Process]:
    """Linux lists each thread's children in /proc/PID/task/TID/children: reading those visits only the
    tree, where psutil's children() reads every process's /proc entry (a third of the supervisor's
    pass, which asks for the memory of each replica's tree every second)."""
    if not Path(f"/proc/{leader.pid}/task/{leader.pid}/children").exists():
        return list(leader.children(recursive=True))
    found: list[psutil.Process] = []
    todo = [leader.pid]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                        todo.append(int(child))
                        with contextlib.suppress(psutil.Error):
                            found.append(psutil.Process(int(child)))
    return found


def wait_leader(record: Mapping[str, Any], child: subprocess.Popen[bytes] | None, timeout: float) -> int | None:
    """The exit status when the leader ends within `timeout` (None for a process this runner did not
    start, whose status the OS gives to someone else, or one still running)."""
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return child.wait(timeout)
        return None
    deadline = time.monotonic() + timeout
    while is_alive(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    return None


def has_ended(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def signal_all(group: int, members: list[psutil.Process], sig: signal.Signals) -> None:
    """The process group, and members that left it (a child that made its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.send_signal(sig)


def pin_cpus(pid: int, cpus: list[int]) -> None:
    # Every thread of the new process (the interpreter may have started some already); threads it
    # starts later inherit the mask.
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(int(task.name), cpus)


def memory_over(record: Mapping[str, Any]) -> str:
    limit = int(record.get("memory_mb") or 0)
    if limit <= 0:
        return ""
    used = 0
    for member in process_tree(record):
        with contextlib.suppress(psutil.Error):
            used += member.memory_info().rss
    used_mb = used // (1024 * 1024)
    if used_mb <= limit:
        return ""
    return f"killed: it used {used_mb} MB of memory, over its limit of {limit} MB"


def exit_words(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return "exited normally" if code == 0 else f"exited with status {code}"


def count_gpus() -> int:
    """The NVIDIA GPUs the driver lists (0 without the driver)."""
    try:
        return sum(1 for _ in Path("/proc/driver/nvidia/gpus").iterdir())
    except OSError:
        return 0
