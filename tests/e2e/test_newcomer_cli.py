"""What a newcomer meets on the command line: admin commands find the hub's data (or refuse without
creating any), and a taken port is one line naming the setting, not a traceback."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub, server_env

# A newcomer's hub is the embedded default (SQLite); its time goes into starting processes.
# scripts/test runs it on SQLite only (pyproject.toml).
pytestmark = pytest.mark.engine_bound


def _csghub(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "csghub", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _whoami(live: LiveHub, token: str) -> str:
    with api(live.url, token) as client:
        return str(client.get("/api/whoami-v2").json()["name"])


def test_admin_commands_from_elsewhere_act_on_the_configured_hub(live: LiveHub, tmp_path: Path) -> None:
    config = tmp_path / "csghub.toml"
    config.write_text(f'data_dir = "{live.data_dir}"\n')
    name = f"cli{secrets.token_hex(4)}"
    made = _csghub(
        "admin", "create-user", name, "--password", "long-enough-1", "--config", str(config), cwd=tmp_path, env=live.env
    )
    assert made.returncode == 0, made.stderr
    token = _csghub("admin", "create-token", name, "--config", str(config), cwd=tmp_path, env=live.env)
    assert token.returncode == 0, token.stderr
    # The running hub knows the account and its token: the command wrote to its data, not a new one.
    assert _whoami(live, token.stdout.strip()) == name
    assert not (tmp_path / "csghub-data").exists()


def test_admin_command_uses_csghub_data_in_the_current_directory(live: LiveHub, tmp_path: Path) -> None:
    (tmp_path / "csghub-data").symlink_to(live.data_dir)
    user, _ = live.user()
    made = _csghub("admin", "create-token", user, "--name", "from-cwd", cwd=tmp_path, env=live.env)
    assert made.returncode == 0, made.stderr
    assert _whoami(live, made.stdout.strip()) == user


def test_admin_command_without_hub_data_refuses_and_creates_nothing(live: LiveHub, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "csghub-data"
    env = {**live.env, "CSGHUB_DATA_DIR": str(missing)}
    refused = _csghub("admin", "create-user", "alice", "--password", "long-enough-1", cwd=tmp_path, env=env)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "--data-dir" in lines[0], refused.stderr
    assert "created user" not in refused.stderr
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "csghub-data").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("which", "setting"), [("--port", "CSGHUB_PORT or --port"), ("--ssh-port", "CSGHUB_SSH_PORT or --ssh-port")]
)
def test_serve_on_a_taken_port_says_which_setting_to_change(
    taken_port: int, which: str, setting: str, tmp_path: Path
) -> None:
    ports = {"--port": "0", "--ssh-port": "0", which: str(taken_port)}
    data = tmp_path / "data"
    args = [item for pair in ports.items() for item in pair]
    served = _csghub("serve", *args, "--data-dir", str(data), cwd=tmp_path, env=server_env())
    assert served.returncode == 1
    assert served.stderr == f"error: port {taken_port} is in use; set {setting}\n"
    assert served.stdout == ""
    # Refused before anything was set up or announced.
    assert not data.exists()


def _readme_credential_helper(live: LiveHub, user: str) -> str:
    """The README's `git config ... credential...helper` command, pointed at this hub and user."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("git config --global credential.")
    command = text[start : text.index("\n", text.index("\n", start) + 1)]
    return command.replace("http://127.0.0.1:8080", live.url).replace("username=alice", f"username={user}")


def test_readme_credential_helper_serves_git_and_lfs_without_showing_the_token(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/secret-weights"
    create_repo(live.url, token, repo, private=True)
    env = {**setup_git_home(tmp_path / "home"), "HF_TOKEN": token}
    subprocess.run(["bash", "-c", _readme_credential_helper(live, user)], env=env, check=True, timeout=60)
    work = tmp_path / "work"
    said = [git("clone", f"{live.url}/{repo}", str(work), cwd=tmp_path, env=env)]
    weights = os.urandom(300_000)
    (work / "weights.bin").write_bytes(weights)
    said.append(git("add", "weights.bin", cwd=work, env=env))
    said.append(git("commit", "-m", "Add weights", cwd=work, env=env))
    said.append(git("push", cwd=work, env=env))
    said.append(git("lfs", "push", "--all", "origin", cwd=work, env=env))
    assert all(token not in proc.stdout + proc.stderr for proc in said)
    assert token not in (work / ".git" / "config").read_text()
    with api(live.url, token) as client:
        fetched = client.get(f"/{repo}/resolve/main/weights.bin", follow_redirects=True)
    assert fetched.content == weights
