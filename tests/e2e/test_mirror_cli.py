"""`csghub mirror ...` as an administrator types it against a live hub: sources added (the source's token
from a variable or stdin, never shown), listed and removed; refusals reported on stderr with exit 1."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from csghub.services.identity import accounts, tokens
from tests.conftest import LiveHubFactory, start_hub
from tests.e2e.mirror_support import make_pair, push_files, wait_for_task
from tests.support.live import LiveHub

# The CLI is a client of the mirror API, whose SQL test_mirror_sources and test_mirror_upstream run on both
# legs; its time goes into starting processes. scripts/test runs it on SQLite only (pyproject.toml).
pytestmark = pytest.mark.engine_bound

Run = Callable[..., subprocess.CompletedProcess[str]]
SOURCE_TOKEN = "hf_cliS3cretToken0123456789"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    started = start_hub(tmp_path_factory.mktemp("mirror-cli") / "data", {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    yield started
    started.stop()


def _runner(hub: LiveHub, token: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSGHUB_", "HF_"))}
    env.update({"CSGHUB_ENDPOINT": hub.url, "CSGHUB_TOKEN": token, "UPSTREAM_TOKEN": SOURCE_TOKEN})

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "csghub", "mirror", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture(scope="module")
def admin(hub: LiveHub) -> Run:
    name = f"root{secrets.token_hex(4)}"
    accounts.create_user(hub.hub, name, email=f"{name}@example.com", is_admin=True)
    return _runner(hub, tokens.create_token(hub.hub, name, scope="write")[0])


def _rows(done: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_source_add_list_rm(hub: LiveHub, admin: Run) -> None:
    [added] = _rows(
        admin("source", "add", "up", hub.url, "--upstream-token-env", "UPSTREAM_TOKEN", "--bandwidth", "1000")
    )
    assert added[1:] == ["up", hub.url, "token", "git", "2", "1000", "-", "0"]
    [stdin] = _rows(
        admin(
            "source",
            "add",
            "up2",
            f"{hub.url}/",
            "--upstream-token-stdin",
            "--no-git",
            "--proxy",
            "--rule",
            "models/org/*=allow",
            stdin=SOURCE_TOKEN + "\n",
        )
    )
    assert stdin[1:] == ["up2", hub.url, "token", "api", "2", "-", "proxy", "0"]
    listed = _rows(admin("source", "list"))
    assert [row[1] for row in listed] == ["up", "up2"]
    assert _rows(admin("source", "rm", "up2")) == [["removed up2"]]
    assert [row[1] for row in _rows(admin("source", "list"))] == ["up"]
    everything = "".join(p.stdout + p.stderr for p in (admin("source", "list"),))
    assert SOURCE_TOKEN not in everything


def test_source_refusals_exit_1_with_the_reason(admin: Run) -> None:
    refused = admin("source", "add", "meta", "http://169.254.169.254/")
    assert refused.returncode == 1 and "link-local" in refused.stderr
    duplicate = admin("source", "add", "dup", "http://127.0.0.1:9/")
    assert duplicate.returncode == 0, duplicate.stderr
    again = admin("source", "add", "dup", "http://127.0.0.1:9/")
    assert again.returncode == 1 and "already exists" in again.stderr
    missing = admin("source", "rm", "nothing-here")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    empty = admin("source", "add", "x", "http://127.0.0.1:9/", "--upstream-token-env", "UNSET_VARIABLE_X")
    assert empty.returncode == 2 and "UNSET_VARIABLE_X" in empty.stderr


def test_source_commands_need_an_administrator(hub: LiveHub) -> None:
    user = _runner(hub, hub.user()[1])
    refused = user("source", "list")
    assert refused.returncode == 1 and "administrators" in refused.stderr


def test_mirror_commands_create_sync_status_pause_tasks_batch_rm(
    live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    """The whole round as an administrator types it, between two live hubs (one the other's upstream)."""
    pair = make_pair(live_hub_factory, tmp_path)
    run = _runner(pair.downstream, pair.admin_token)
    assert _rows(run("source", "add", "up", pair.upstream.url))[0][1] == "up"
    model = f"{pair.up_user}/tiny"
    weights = os.urandom(MiB + 3)
    push_files(pair, model, {"model.safetensors": weights, "config.json": b"{}\n"})
    push_files(pair, f"{pair.up_user}/other", {"config.json": b'{"b": 2}\n'})
    local = f"{pair.admin}/tiny"

    [made] = _rows(run("create", local, "--source", "up", "--upstream", model, "--interval", "3600"))
    assert made[:3] == ["model", local, f"up:{model}"]
    wait_for_task(pair, local)
    synced = run("sync", local, "--wait", "--timeout", "180")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.splitlines()[-1].split("\t")[3] == "finished"

    status = run("status", local)
    assert status.returncode == 0 and "interval: 3600 s" in status.stdout and "finished" in status.stdout
    assert [row[1] for row in _rows(run("list"))] == [local]
    assert _rows(run("pause", local))[0][3] == "paused"
    assert _rows(run("list", "--all", "--source", "up"))[0][3] == "paused"
    assert _rows(run("resume", local))[0][3] != "paused"
    finished = _rows(run("tasks", "--state", "finished"))
    assert finished and all(row[3] == "finished" and row[2] == local for row in finished)
    logs = run("logs", finished[0][0])
    assert logs.returncode == 0 and "history fetched" in logs.stdout and "synced 1 ref(s)" in logs.stdout, logs

    batch_file = tmp_path / "batch.txt"
    batch_file.write_text(f"# the rest of {pair.up_user}\n{pair.up_user}/other\n")
    [batched] = _rows(run("batch", "--source", "up", "--file", str(batch_file), "--namespace", pair.admin))
    assert batched[1] == f"{pair.admin}/other"
    wait_for_task(pair, f"{pair.admin}/other")

    assert _rows(run("rm", local)) == [[f"{local} is no longer a mirror"]]
    gone = run("status", local)
    assert gone.returncode == 1 and "not a mirror" in gone.stderr
    hf_file = HfApi(endpoint=pair.downstream.url, token=pair.admin_token).hf_hub_download(
        local, "model.safetensors", cache_dir=tmp_path / "cache"
    )
    assert Path(hf_file).read_bytes() == weights
