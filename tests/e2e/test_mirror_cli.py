"""`csghub mirror ...` as an administrator types it against a live hub: sources added (the source's token
from a variable or stdin, never shown), listed and removed; refusals reported on stderr with exit 1."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from csghub.services.identity import accounts, tokens
from tests.conftest import start_hub
from tests.support.live import LiveHub

Run = Callable[..., subprocess.CompletedProcess[str]]
SOURCE_TOKEN = "hf_cliS3cretToken0123456789"


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
