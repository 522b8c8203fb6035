"""Holds a test's network namespace (run under `unshare --net`) and ends everything in it when told to
or when the test process goes away: it brings `lo` up, says "up", waits until its stdin closes (the test
closes it, or the OS does when the test dies, even by SIGKILL), then SIGTERMs every other process in
the namespace, SIGKILLs what is left after a grace period, and removes the directories it was given."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

GRACE = 5.0  # Ray shuts down in 1-2 s; what ignores SIGTERM longer is killed


def others() -> list[int]:
    mine = os.stat("/proc/self/ns/net").st_ino
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/net").st_ino == mine:
                    found.append(int(entry))
    return found


def end_all() -> list[int]:
    """What was still running after SIGKILL (nothing, normally)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in others():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + GRACE
        while others() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not others():
            return []
    return others()


def main(folders: list[str]) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    print("up", flush=True)
    sys.stdin.buffer.read()
    left = end_all()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"left {left}" if left else "clean", flush=True)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
