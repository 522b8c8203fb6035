"""What only the local runner does: limits on this machine, exit statuses the OS no longer gives after a
restart of the hub, and refusals. The behaviour every runner shares is in tests/contract/test_runners.py."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from csghub.core import request_ids
from csghub.core.errors import InvalidArgument
from csghub.runtime.base import PYTHON, Environment, Handle, ProcessSpec, ProcessState, Resources, RunnerError, WorkKind
from csghub.runtime.local import LocalProcessRunner
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # no database: scripts/test runs it on SQLite only

HERE_PYTHON = Environment("test-python", "1", (), python_path=sys.executable)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LocalProcessRunner]:
    made = LocalProcessRunner(tmp_path / "compute")
    yield made
    for handle in LocalProcessRunner(tmp_path / "compute").running():
        made.stop(handle, grace=2)
    made.close()


def job(code: str, *, kind: WorkKind = WorkKind.BATCH, resources: Resources | None = None) -> ProcessSpec:
    return ProcessSpec(
        key=f"job-{secrets.token_hex(4)}",
        kind=kind,
        argv=(PYTHON, "-c", code),
        environment=HERE_PYTHON,
        resources=resources or Resources(),
    )


def ended(runner: LocalProcessRunner, handle: Handle) -> bool:
    return runner.status(handle).state is ProcessState.EXITED


def test_local_exit_of_a_readopted_process_is_status_unknown(runner: LocalProcessRunner, tmp_path: Path) -> None:
    release = tmp_path / "release"
    code = f"import os, sys, time\nwhile not os.path.exists({str(release)!r}): time.sleep(0.02)\nsys.exit(5)"
    handle = runner.start(job(code, kind=WorkKind.SERVICE))
    restarted = LocalProcessRunner(tmp_path / "compute")
    assert [h.key for h in restarted.running()] == [handle.key]

    release.write_text("")
    wait_until(lambda: ended(restarted, handle), "the adopted process to end", timeout=30, poll=0.02)

    # The earlier runner was its parent and got the status; the restarted one could not.
    assert restarted.status(handle).detail == "exited (status unknown)"
    assert restarted.status(handle).exit_code is None
    assert restarted.running() == []


def test_local_cpu_limit_pins_the_process_and_sets_thread_counts(runner: LocalProcessRunner, tmp_path: Path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs a machine with at least 2 CPUs (CI has 2)")
    seen = "[sorted(os.sched_getaffinity(0)), os.environ['OMP_NUM_THREADS'], os.getcwd()]"
    code = f"import json, os; print(json.dumps({seen}))"
    handle = runner.start(job(code, resources=Resources(cpus=1)))
    wait_until(lambda: ended(runner, handle), "the job to end", timeout=30, poll=0.02)

    cpus, threads, cwd = json.loads(runner.read_log(handle))
    assert len(cpus) == 1 and cpus[0] in os.sched_getaffinity(0)
    assert threads == "1"
    assert cwd == str(tmp_path / "compute" / "work" / handle.key)  # its own working directory


def test_local_memory_limit_kills_the_process_with_the_reason(runner: LocalProcessRunner) -> None:
    code = "import time\nhog = bytearray(300 * 1024 * 1024)\nprint('allocated', flush=True)\ntime.sleep(600)"
    handle = runner.start(job(code, kind=WorkKind.SERVICE, resources=Resources(memory_mb=100)))
    wait_until(lambda: ended(runner, handle), "the memory watch to kill it", timeout=60, poll=0.05)

    status = runner.status(handle)
    assert status.exit_code == -9
    assert "over its limit of 100 MB" in status.detail


def test_local_refuses_bad_keys_unbuilt_environments_and_a_second_start(runner: LocalProcessRunner) -> None:
    with pytest.raises(InvalidArgument):
        runner.start(ProcessSpec("../escape", WorkKind.BATCH, (PYTHON, "-V"), HERE_PYTHON))
    unbuilt = Environment("transformers", "1", ("torch==2.13.0",))
    with pytest.raises(RunnerError, match="not built"):
        runner.start(ProcessSpec("job-unbuilt", WorkKind.BATCH, (PYTHON, "-V"), unbuilt))
    with pytest.raises(RunnerError, match="Could not start"):
        runner.start(ProcessSpec("job-missing", WorkKind.BATCH, ("/no/such/program",), HERE_PYTHON))

    sleeper = job("import time; time.sleep(600)", kind=WorkKind.SERVICE)
    handle = runner.start(sleeper)
    with pytest.raises(RunnerError, match="already running"):
        runner.start(sleeper)
    runner.stop(handle, grace=2)
    assert runner.status(handle).exit_code == -15


def test_local_unknown_handle_is_lost(runner: LocalProcessRunner) -> None:
    stranger = Handle("local", "job-never-started", "1:0.0")
    assert runner.status(stranger).state is ProcessState.LOST
    runner.stop(stranger)  # nothing to do, no error
    assert runner.read_log(stranger) == b""


def test_local_gpus_are_given_to_one_process_at_a_time(tmp_path: Path) -> None:
    # Two GPUs by configuration (this machine has none): which ones a process sees is the runner's choice.
    runner = LocalProcessRunner(tmp_path / "compute", gpu_count=2)
    code = "import os, time\nprint(repr(os.environ['CUDA_VISIBLE_DEVICES']), flush=True)\ntime.sleep(600)"
    first = runner.start(job(code, kind=WorkKind.SERVICE, resources=Resources(gpus=1)))
    second = runner.start(job(code, kind=WorkKind.SERVICE, resources=Resources(gpus=1)))
    cpu_only = runner.start(job(code, kind=WorkKind.SERVICE))
    try:
        for handle in (first, second, cpu_only):
            wait_until(lambda h=handle: runner.read_log(h).endswith(b"\n"), "the process to say", timeout=30)
        assert [runner.read_log(h) for h in (first, second, cpu_only)] == [b"'0'\n", b"'1'\n", b"''\n"]
        with pytest.raises(RunnerError, match="0 of this machine's 2 are free"):
            runner.start(job(code, kind=WorkKind.SERVICE, resources=Resources(gpus=1)))

        runner.stop(first, grace=2)
        again = runner.start(job(code, kind=WorkKind.SERVICE, resources=Resources(gpus=1)))
        wait_until(lambda: runner.read_log(again).endswith(b"\n"), "the process to say", timeout=30)
        assert runner.read_log(again) == b"'0'\n"
    finally:
        for handle in runner.running():
            runner.stop(handle, grace=2)


def test_local_process_started_for_a_request_knows_its_id(runner: LocalProcessRunner) -> None:
    code = "import os; print(repr(os.environ.get('CSGHUB_REQUEST_ID')))"
    token = request_ids.current.set("req-7f3a")
    try:
        named = runner.start(job(code))
    finally:
        request_ids.current.reset(token)
    unnamed = runner.start(job(code))  # a background loop's start: no request behind it
    for handle in (named, unnamed):
        wait_until(lambda handle=handle: ended(runner, handle), "the job to end", timeout=30, poll=0.02)
    assert runner.read_log(named).strip() == b"'req-7f3a'"
    assert runner.read_log(unnamed).strip() == b"None"
