"""Running the real client programs (git, git-lfs) in an isolated home directory."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import httpx


def client_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HF_", "CSGHUB_"))}
    env.update(
        {
            "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test User",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test User",
            "GIT_COMMITTER_EMAIL": "test@example.com",
        }
    )
    env.update(extra or {})
    return env


def git(*args: str, cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def setup_git_home(home: Path) -> dict[str, str]:
    env = client_env(home)
    subprocess.run(["git", "lfs", "install", "--skip-repo"], env=env, check=True, capture_output=True)
    return env


def api(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def create_repo(url: str, token: str, repo_id: str, *, repo_type: str = "model", private: bool = False) -> None:
    namespace, name = repo_id.split("/")
    with api(url, token) as client:
        r = client.post(
            "/api/repos/create",
            json={"name": name, "organization": namespace, "type": repo_type, "private": private},
        )
        assert r.status_code == 200, r.text


def write_file(url: str, token: str, repo_id: str, path: str, text: str, *, repo_type: str = "model") -> None:
    """Commit one file through the CSGHub API (new repositories start with only .gitattributes)."""
    with api(url, token) as client:
        r = client.post(
            f"/api/v1/{repo_type}s/{repo_id}/raw/{path}",
            json={"content": base64.b64encode(text.encode()).decode(), "message": f"Add {path}"},
        )
        assert r.status_code == 200, r.text
