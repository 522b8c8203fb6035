"""One contract for every Runner backend: what services/compute relies on, run against real processes.

`make_runner` gives runner objects over one backing place (a data directory, a cluster): a second one
stands for the hub after a restart. The environment is the test's own interpreter, so no package set
needs building; what runs is plain Python (http.server, small scripts)."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from csghub.runtime.base import (
    HOST,
    PORT,
    PYTHON,
    Environment,
    Handle,
    ProcessSpec,
    ProcessState,
    Resources,
    Runner,
    WorkKind,
)
from csghub.runtime.local import LocalProcessRunner
from csghub.runtime.ray import RayRunner
from tests.support.ray_cluster import RayCluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # no database: scripts/test runs it on SQLite only

HERE_PYTHON = Environment("test-python", "1", (), python_path=sys.executable)
SMALL = Resources(cpus=1, memory_mb=512)
RunnerFactory = Callable[[], Runner]


@pytest.fixture(params=["local", "ray"])
def make_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunnerFactory]:
    made: list[Runner] = []
    # Ray: one cluster for the module (tests/support/ray_cluster.py), a Ray namespace per test.
    cluster: RayCluster | None = request.getfixturevalue("ray_cluster") if request.param == "ray" else None
    namespace = f"csghub-test-{secrets.token_hex(4)}"

    def make() -> Runner:
        runner: Runner
        if cluster is None:
            runner = LocalProcessRunner(tmp_path / "compute")
        else:
            runner = RayRunner(cluster.gcs_address, namespace=namespace, driver_log=tmp_path / "ray-driver.log")
        made.append(runner)
        return runner

    yield make
    cleaner = make()
    for handle in cleaner.running():
        cleaner.stop(handle, grace=2)
    for runner in made:
        runner.close()


def spec(kind: WorkKind, *argv: str, env: dict[str, str] | None = None) -> ProcessSpec:
    return ProcessSpec(
        key=f"test-{secrets.token_hex(4)}",
        kind=kind,
        argv=(PYTHON, *argv),
        environment=HERE_PYTHON,
        resources=SMALL,
        env=env or {},
    )


def script(code: str) -> tuple[str, str]:
    return ("-c", code)


def ended(runner: Runner, handle: Handle) -> bool:
    return runner.status(handle).state is ProcessState.EXITED


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_runner_service_answers_on_its_port(make_runner: RunnerFactory, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    word = secrets.token_hex(8)
    (served / "hello.txt").write_text(word)
    runner = make_runner()
    handle = runner.start(spec(WorkKind.SERVICE, "-m", "http.server", PORT, "--bind", HOST, "--directory", str(served)))

    assert handle.port > 0 and handle.url == f"http://{handle.host}:{handle.port}"
    wait_until(lambda: answers(f"{handle.url}/hello.txt"), "the service to answer", timeout=30, poll=0.05)
    assert httpx.get(f"{handle.url}/hello.txt").text == word
    assert runner.status(handle).state is ProcessState.RUNNING
    assert handle.key in [h.key for h in runner.running()]


def test_runner_log_reads_from_an_offset(make_runner: RunnerFactory) -> None:
    runner = make_runner()
    handle = runner.start(spec(WorkKind.BATCH, *script("print('first line'); print('second line')")))
    wait_until(lambda: ended(runner, handle), "the job to end", timeout=30, poll=0.05)

    assert runner.read_log(handle) == b"first line\nsecond line\n"
    assert runner.read_log(handle, len(b"first line\n")) == b"second line\n"
    assert runner.read_log(handle, 0, 5) == b"first"
    assert runner.read_log(handle, 10_000) == b""


def test_runner_stop_ends_the_process_and_its_children(make_runner: RunnerFactory) -> None:
    code = (
        "import http.server, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('child', child.pid, flush=True)\n"
        f"http.server.HTTPServer(('{HOST}', {PORT}), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    runner = make_runner()
    handle = runner.start(spec(WorkKind.SERVICE, *script(code)))
    wait_until(lambda: answers(handle.url), "the service to answer", timeout=30, poll=0.05)
    child_pid = int(runner.read_log(handle).split(b"\n")[0].split()[1])
    assert not gone(child_pid)

    runner.stop(handle, grace=5)

    assert runner.status(handle).state is ProcessState.EXITED
    assert handle.key not in [h.key for h in runner.running()]
    wait_until(lambda: gone(child_pid), "the service's child to end", timeout=10, poll=0.05)
    assert not answers(handle.url)
    runner.stop(handle)  # stopping again is a no-op
    assert runner.status(handle).state is ProcessState.EXITED


def test_runner_crash_reports_the_exit_code_and_the_log_keeps_the_error(make_runner: RunnerFactory) -> None:
    runner = make_runner()
    code = "import sys; print('config.json is broken', file=sys.stderr); sys.exit(3)"
    handle = runner.start(spec(WorkKind.SERVICE, *script(code)))
    wait_until(lambda: ended(runner, handle), "the crash to show", timeout=30, poll=0.05)

    status = runner.status(handle)
    assert (status.state, status.exit_code) == (ProcessState.EXITED, 3)
    assert b"config.json is broken" in runner.read_log(handle)


def test_runner_batch_job_runs_to_exit_zero(make_runner: RunnerFactory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    runner = make_runner()
    handle = runner.start(spec(WorkKind.BATCH, *script(f"open({str(out)!r}, 'w').write('converted')")))
    wait_until(lambda: ended(runner, handle), "the job to end", timeout=30, poll=0.05)

    status = runner.status(handle)
    assert (status.state, status.exit_code) == (ProcessState.EXITED, 0)
    assert out.read_text() == "converted"
    assert handle.key not in [h.key for h in runner.running()]


def test_runner_gives_the_process_its_env_and_not_the_hubs(
    make_runner: RunnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSGHUB_SECRET_KEY", "must-not-leak")
    monkeypatch.setenv("HF_TOKEN", "hf_must_not_leak")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    runner = make_runner()
    handle = runner.start(spec(WorkKind.SERVICE, *script(code), env={"GREETING": f"port-{PORT}"}))
    wait_until(lambda: ended(runner, handle), "the process to end", timeout=30, poll=0.05)

    env = json.loads(runner.read_log(handle))
    assert env["GREETING"] == f"port-{handle.port}"
    assert "CSGHUB_SECRET_KEY" not in env and "HF_TOKEN" not in env
    assert env["HF_HUB_OFFLINE"] == "1" and env["HF_HUB_DISABLE_UPDATE_CHECK"] == "1"
    assert env["RAY_USAGE_STATS_ENABLED"] == "0"


def test_runner_after_a_restart_finds_the_running_service_again(make_runner: RunnerFactory) -> None:
    first = make_runner()
    handle = first.start(spec(WorkKind.SERVICE, "-m", "http.server", PORT, "--bind", HOST))
    wait_until(lambda: answers(handle.url), "the service to answer", timeout=30, poll=0.05)

    second = make_runner()  # the hub, restarted
    adopted = [h for h in second.running() if h.key == handle.key]
    assert adopted == [handle]
    assert second.status(adopted[0]).state is ProcessState.RUNNING
    assert second.read_log(adopted[0]).startswith(b"Serving HTTP on")

    second.stop(adopted[0], grace=5)
    assert not answers(handle.url)
    assert first.status(handle).state is ProcessState.EXITED
