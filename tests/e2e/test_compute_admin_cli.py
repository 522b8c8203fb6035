"""`csghub admin cluster|tier|framework`: what an administrator types to register a Ray cluster, give
clusters resource tiers, and list, build, disable and enable runtime frameworks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from csghub.cli.compute import CONSOLE
from csghub.config import load_settings
from csghub.core.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from csghub.services.compute import clusters
from csghub.services.permissions import Actor
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url
from tests.support.live import server_env
from tests.support.tiny_models import shared_runtimes_dir, transformers_environment

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def csghub(tmp_path: Path) -> Run:
    env = server_env({"CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir())})
    if database_url := fresh_database_url():
        env["CSGHUB_DATABASE_URL"] = database_url
    data_dir = tmp_path / "data"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "csghub", *args, "--data-dir", str(data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run("migrate").returncode == 0
    return run


def _lines(done: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_clusters_start_with_the_local_one_and_take_ray_clusters_by_address(csghub: Run) -> None:
    assert _lines(csghub("admin", "cluster", "list")) == [["1", "local", "local", "local", "-", "enabled"]]
    added = csghub("admin", "cluster", "add", "east", "--address", "http://127.0.0.1:8265/", "--region", "East")
    assert added.returncode == 0 and "added cluster east (id 2)" in added.stderr
    assert _lines(csghub("admin", "cluster", "list"))[1] == [
        "2",
        "east",
        "ray",
        "East",
        "http://127.0.0.1:8265",
        "enabled",
    ]
    again = csghub("admin", "cluster", "add", "east", "--address", "http://127.0.0.1:8266")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = csghub("admin", "cluster", "add", "west", "--address", "west.example")
    assert bad.returncode == 1 and "Invalid address 'west.example'" in bad.stderr and "Traceback" not in bad.stderr


def test_tiers_belong_to_a_cluster_and_gpu_tiers_name_their_gpu(csghub: Run) -> None:
    assert [t[2] for t in _lines(csghub("admin", "tier", "list", "--cluster", "local"))] == ["cpu-1", "cpu-2"]
    added = csghub("admin", "tier", "add", "local", "big", "--cpus", "8", "--memory-mb", "32768")
    assert added.returncode == 0, added.stderr
    assert _lines(csghub("admin", "tier", "list"))[-1] == ["3", "1", "big", "8", "32768", "0", "-"]
    vague = csghub("admin", "tier", "add", "local", "gpu", "--cpus", "8", "--memory-mb", "4096", "--gpus", "1")
    assert vague.returncode == 1 and "names its GPU type" in vague.stderr


def test_clusters_and_tiers_refuse_duplicates_and_unknown_clusters(tmp_path: Path) -> None:
    hub = build_hub(load_settings({}, None, {"data_dir": tmp_path / "data", "database_url": fresh_database_url()}))
    clusters.add_cluster(hub, CONSOLE, "east", kind="ray", address="http://127.0.0.1:8265")
    with pytest.raises(Conflict, match="already exists"):
        clusters.add_cluster(hub, CONSOLE, "east", kind="ray", address="http://127.0.0.1:8266")
    with pytest.raises(InvalidArgument, match="only 'ray'"):
        clusters.add_cluster(hub, CONSOLE, "more", kind="local", address="http://127.0.0.1:1")
    with pytest.raises(Conflict, match="already has a tier named 'cpu-1'"):
        clusters.add_tier(hub, CONSOLE, 1, "cpu-1", cpus=1, memory_mb=1024)
    with pytest.raises(NotFound, match="'mars' does not exist"):
        clusters.find_cluster(hub, "mars")
    with pytest.raises(PermissionDenied):
        clusters.add_tier(hub, Actor(user_id=7, name="someone"), 1, "mine", cpus=1, memory_mb=1024)


def test_frameworks_are_listed_added_built_disabled_and_enabled(csghub: Run) -> None:
    transformers_environment()  # built once per test run in the shared folder; the command finds it
    listed = {f[1]: f for f in _lines(csghub("admin", "framework", "list"))}
    assert set(listed) == {"transformers", "embeddings", "vllm", "llamafactory", "jupyterlab", "gradio", "streamlit"}
    assert listed["vllm"][3] == "vllm (GPU)" and listed["llamafactory"][3] == "llamafactory"
    before = set(os.listdir(shared_runtimes_dir()))
    built = csghub("admin", "framework", "build", "transformers")
    assert built.returncode == 0 and "transformers 1 is ready" in built.stderr, built.stderr
    # On a fresh data folder too, the command builds this release's package set: the one already there.
    assert not {p for p in set(os.listdir(shared_runtimes_dir())) - before if not p.endswith(".lock")}
    gpu = csghub("admin", "framework", "build", "vllm")
    assert gpu.returncode == 1 and "needs a GPU" in gpu.stderr
    mine = ("--engine", "transformers", "--task", "text-generation", "--package", "tabulate==0.9.0")
    added = csghub("admin", "framework", "add", "my-stack", "--version", "2", *mine)
    assert added.returncode == 0 and "added framework my-stack 2 (id 8)" in added.stderr, added.stderr
    assert csghub("admin", "framework", "disable", "embeddings").returncode == 0
    states = {f[1]: f[4] for f in _lines(csghub("admin", "framework", "list"))}
    # Built or not, as the shared runtimes folder has them (scripts/test builds them up front).
    assert states.pop("jupyterlab") in ("ready", "absent") and states.pop("llamafactory") in ("ready", "absent")
    assert states.pop("gradio") in ("ready", "absent") and states.pop("streamlit") in ("ready", "absent")
    assert states == {"transformers": "ready", "embeddings": "disabled", "vllm": "absent", "my-stack": "absent"}
    enabled = csghub("admin", "framework", "enable", "embeddings")
    assert enabled.returncode == 0 and "embeddings 1 is enabled" in enabled.stderr
