"""The per-repository write lock: first come, first served across processes, and never wedged by a kill."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from csghub.git.write_lock import QUEUE_DIR, WriteLock, WriteLockTimeout
from tests.support.waiting import wait_until

DEADLINE_S = 30.0

# A writer in its own process: queue up, note when it got the lock and when it let go.
_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from csghub.git.write_lock import WriteLock, WriteLockTimeout
    repo, label, timeout = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    lock = WriteLock(repo)
    try:
        lock.acquire(timeout)
    except WriteLockTimeout:
        sys.exit(3)
    with open(repo / "journal", "a") as fh:
        fh.write(f"enter {label} {time.time()}\\n")
        fh.flush()
        fh.write(f"leave {label}\\n")
    lock.release()
    """
)


def _tail(repo: Path) -> str:
    try:
        return (repo / QUEUE_DIR / "tail").read_text()
    except FileNotFoundError:
        return ""


def _queue_writer(repo: Path, label: str, timeout: float = DEADLINE_S) -> subprocess.Popen[bytes]:
    """Start a writer and return once it stands last in the queue."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(repo), label, str(timeout)])
    wait_until(lambda: _tail(repo).startswith(f"n-{proc.pid}-"), f"writer {label} to queue up", timeout=DEADLINE_S)
    return proc


def _journal(repo: Path) -> list[str]:
    path = repo / "journal"
    return path.read_text().splitlines() if path.exists() else []


def _entered(repo: Path) -> list[str]:
    return [line.split()[1] for line in _journal(repo) if line.startswith("enter")]


def _assert_one_at_a_time(repo: Path) -> None:
    lines = [line.split()[:2] for line in _journal(repo)]
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter[0] == "enter" and leave == ["leave", enter[1]], lines


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "1.git"
    path.mkdir()
    return path


def test_write_lock_serves_processes_in_arrival_order(repo: Path) -> None:
    first = WriteLock(repo)
    first.acquire(1)
    writers = [_queue_writer(repo, str(i)) for i in range(8)]
    assert _entered(repo) == []  # all wait behind the holder
    first.release()
    assert [w.wait(DEADLINE_S) for w in writers] == [0] * 8
    assert _entered(repo) == [str(i) for i in range(8)]
    _assert_one_at_a_time(repo)
    # Each successor clears its predecessor's node: only the last writer's remains.
    assert sorted(p.name for p in (repo / QUEUE_DIR).iterdir()) == sorted(["tail", _tail(repo)])


def test_write_lock_passes_on_when_a_waiter_is_killed(repo: Path) -> None:
    first = WriteLock(repo)
    first.acquire(1)
    a = _queue_writer(repo, "a")
    doomed = _queue_writer(repo, "doomed")
    c = _queue_writer(repo, "c")
    node = next(p for p in (repo / QUEUE_DIR).iterdir() if p.name.startswith(f"n-{doomed.pid}-"))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(DEADLINE_S)
    # c now waits for `a` (the dead waiter's predecessor), so it clears the dead node...
    wait_until(lambda: not node.exists(), "the next writer to step over the killed one", timeout=DEADLINE_S)
    assert _entered(repo) == []  # ...without cutting in before the holder and `a`
    first.release()
    assert a.wait(DEADLINE_S) == 0 and c.wait(DEADLINE_S) == 0
    assert _entered(repo) == ["a", "c"]
    _assert_one_at_a_time(repo)


def test_write_lock_passes_on_when_the_holder_is_killed(repo: Path) -> None:
    stuck = WriteLock(repo)
    stuck.acquire(1)
    victim_code = "import sys,os,time;from pathlib import Path;from csghub.git.write_lock import WriteLock;"
    victim_code += "l=WriteLock(Path(sys.argv[1]));l.acquire(30);open(Path(sys.argv[1])/'victim','w').close();"
    victim_code += "os.read(0,1)"  # holds the lock until killed
    victim = subprocess.Popen([sys.executable, "-c", victim_code, str(repo)], stdin=subprocess.PIPE)
    wait_until(lambda: _tail(repo).startswith(f"n-{victim.pid}-"), "the victim to queue up", timeout=DEADLINE_S)
    after = _queue_writer(repo, "after")
    stuck.release()
    wait_until(lambda: (repo / "victim").exists(), "the victim to hold the lock", timeout=DEADLINE_S)
    victim.send_signal(signal.SIGKILL)
    victim.wait(DEADLINE_S)
    assert after.wait(DEADLINE_S) == 0
    assert _entered(repo)[-1] == "after"


def test_write_lock_waiter_that_gives_up_does_not_let_the_next_cut_in(repo: Path) -> None:
    first = WriteLock(repo)
    first.acquire(1)
    # The impatient writer must still be queued when the patient one queues behind it: on a loaded
    # machine a new interpreter takes a second or more to start, so it waits three before giving up.
    impatient = _queue_writer(repo, "impatient", timeout=3.0)
    node = next(p for p in (repo / QUEUE_DIR).iterdir() if p.name.startswith(f"n-{impatient.pid}-"))
    patient = _queue_writer(repo, "patient")
    assert impatient.wait(DEADLINE_S) == 3  # WriteLockTimeout
    wait_until(lambda: not node.exists(), "the patient writer to step over the impatient one", timeout=DEADLINE_S)
    assert _entered(repo) == []
    released_at = time.time()
    first.release()
    assert patient.wait(DEADLINE_S) == 0
    entered_at = float(next(line.split()[2] for line in _journal(repo) if line.startswith("enter patient")))
    assert entered_at >= released_at


def test_write_lock_times_out_with_a_retryable_error(repo: Path) -> None:
    first = WriteLock(repo)
    first.acquire(1)
    second = WriteLock(repo)
    with pytest.raises(WriteLockTimeout) as caught:
        second.acquire(0.05)
    assert caught.value.status == 429
    first.release()
    third = WriteLock(repo)
    third.acquire(1)  # the queue is not wedged by the writer that gave up
    third.release()


def test_write_lock_keeps_the_lock_until_a_process_exits(repo: Path) -> None:
    # Ended by a signal: a pipe would not do, as the keeper forked below inherits its write end.
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    lock = WriteLock(repo)
    lock.acquire(1)
    lock.keep_until_exit(sleeper.pid, DEADLINE_S)
    blocked = WriteLock(repo)
    with pytest.raises(WriteLockTimeout):
        blocked.acquire(0.2)
    sleeper.terminate()  # the watched process exits...
    sleeper.wait(DEADLINE_S)
    after = WriteLock(repo)
    after.acquire(DEADLINE_S)  # ...and the child holding the lock lets go
    after.release()
