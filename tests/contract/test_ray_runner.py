"""What only the Ray runner does, on a real Ray head (tests/support/ray_cluster.py): the forms of address
an administrator may register (the dashboard's and the Ray Client's each run a service), and the ways a
cluster says no (unreachable, no room), each a clear RunnerError (503) within a bound rather than a hang.
The shared contract is tests/contract/test_runners.py."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import httpx
import pytest

from csghub.core.errors import InvalidArgument
from csghub.runtime.base import (
    HOST,
    PORT,
    PYTHON,
    Environment,
    ProcessSpec,
    ProcessState,
    Resources,
    RunnerError,
    WorkKind,
)
from csghub.runtime.ray import RayRunner, parse_address
from tests.support.ray_cluster import RayCluster, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # no database: scripts/test runs it on SQLite only

HERE_PYTHON = Environment("test-python", "1", (), python_path=sys.executable)


def http_server(cpus: float = 0.5) -> ProcessSpec:
    return ProcessSpec(
        key=f"test-{secrets.token_hex(4)}",
        kind=WorkKind.SERVICE,
        argv=(PYTHON, "-m", "http.server", PORT, "--bind", HOST),
        environment=HERE_PYTHON,
        resources=Resources(cpus=cpus, memory_mb=256),
    )


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("address", ["127.0.0.1:6379", "ray://head.example:10001", "http://127.0.0.1:8265/"])
def test_ray_address_forms_are_accepted(address: str) -> None:
    host, port = parse_address(address)
    assert (host, port) in {("127.0.0.1", 6379), ("head.example", 10001), ("127.0.0.1", 8265)}


@pytest.mark.parametrize("address", ["", "127.0.0.1", "head:99999", "ftp://head:1", "head:80; rm -rf /"])
def test_ray_address_that_is_not_one_is_refused_naming_the_forms(address: str) -> None:
    with pytest.raises(InvalidArgument, match="GCS address host:port"):
        RayRunner(address, namespace="csghub-test")


def test_ray_cluster_unreachable_is_a_503_naming_the_address(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    runner = RayRunner(address, namespace="csghub-test", driver_log=tmp_path / "driver.log")
    try:
        began = time.monotonic()
        with pytest.raises(RunnerError, match=f"no Ray cluster answers at {address}") as raised:
            runner.start(http_server())
        assert raised.value.status == 503 and raised.value.code == "RunnerUnavailable"
        with pytest.raises(RunnerError, match="no Ray cluster answers"):
            runner.running()  # and again on the next call, without hanging
        assert time.monotonic() - began < 60
    finally:
        runner.close()


def test_ray_cluster_registered_by_its_dashboard_runs_services(ray_cluster: RayCluster, tmp_path: Path) -> None:
    runner = RayRunner(ray_cluster.dashboard_url, namespace=f"csghub-test-{secrets.token_hex(4)}")
    try:
        handle = runner.start(http_server())
        wait_until(lambda: answers(handle.url), "the service to answer", timeout=30, poll=0.05)
        assert handle.host == "127.0.0.1" and [h.key for h in runner.running()] == [handle.key]
        runner.stop(handle, grace=2)
        assert runner.status(handle).state is ProcessState.EXITED
        assert runner.running() == []
    finally:
        runner.close()


def test_ray_cluster_registered_by_its_ray_client_address_runs_services(ray_cluster: RayCluster) -> None:
    """A cluster on other machines is reached through its Ray Client server (ray://host:port)."""
    address = f"ray://127.0.0.1:{ray_cluster.ports['client']}"
    runner = RayRunner(address, namespace=f"csghub-test-{secrets.token_hex(4)}")
    try:
        handle = runner.start(http_server())
        wait_until(lambda: answers(handle.url), "the service to answer", timeout=60, poll=0.05)
        assert [h.key for h in runner.running()] == [handle.key]
        runner.stop(handle, grace=2)
        assert runner.status(handle).state is ProcessState.EXITED
        assert runner.running() == []
    finally:
        runner.close()


def test_ray_service_without_room_on_the_cluster_fails_saying_so(ray_cluster: RayCluster) -> None:
    runner = RayRunner(ray_cluster.gcs_address, namespace=f"csghub-test-{secrets.token_hex(4)}", place_timeout=3)
    try:
        with pytest.raises(RunnerError, match="the cluster has no room for 64 CPUs and 256 MB"):
            runner.start(http_server(cpus=64))  # the test cluster has 2
        assert runner.running() == []  # the waiting actor was taken back
    finally:
        runner.close()
