"""git and git-lfs over SSH with the real ssh client, keys added through the API."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.files import sha256_of
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)


def _keypair(path: Path, kind: str = "ed25519", bits: int | None = None) -> str:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)]
    if bits:
        args += ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True)
    return (path.with_suffix(".pub")).read_text().strip()


def _ssh_env(home: Path, key: Path) -> dict[str, str]:
    env = setup_git_home(home)
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    return env


def _add_key(live: LiveHub, token: str, public: str) -> dict:
    with api(live.url, token) as client:
        r = client.post("/api/v1/user/ssh_keys", json={"name": "laptop", "content": public})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_git_over_ssh_clone_push_with_lfs(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/over-ssh"
    create_repo(live.url, token, repo)
    key = tmp_path / "id_ed25519"
    added = _add_key(live, token, _keypair(key))
    assert added["fingerprint"].startswith("SHA256:") and added["algorithm"] == "ssh-ed25519"
    env = _ssh_env(tmp_path / "home", key)
    url = f"ssh://git@127.0.0.1:{live.ssh_port}/{repo}.git"
    work = tmp_path / "w"
    git("clone", url, str(work), cwd=tmp_path, env=env)
    assert (work / ".gitattributes").exists()
    (work / "weights.bin").write_bytes(os.urandom(3_000_000))
    git("add", ".", cwd=work, env=env)
    git("commit", "-m", "weights over ssh", cwd=work, env=env)
    git("push", "origin", "main", cwd=work, env=env)
    fresh = tmp_path / "fresh"
    git("clone", f"ssh://git@127.0.0.1:{live.ssh_port}/models/{repo}", str(fresh), cwd=tmp_path, env=env)
    assert sha256_of(fresh / "weights.bin") == sha256_of(work / "weights.bin")
    with api(live.url, token) as client:
        info = client.get(f"/api/models/{repo}", params={"blobs": "true"}).json()
    assert {s["rfilename"]: s.get("lfs", {}).get("size") for s in info["siblings"]}["weights.bin"] == 3_000_000


def test_git_over_ssh_respects_permissions(live: LiveHub, tmp_path: Path) -> None:
    owner, owner_token = live.user()
    _other, other_token = live.user()
    private = f"{owner}/private-ssh"
    public = f"{owner}/public-ssh"
    create_repo(live.url, owner_token, private, private=True)
    create_repo(live.url, owner_token, public)
    key = tmp_path / "other"
    _add_key(live, other_token, _keypair(key))
    env = _ssh_env(tmp_path / "home", key)
    base = f"ssh://git@127.0.0.1:{live.ssh_port}"
    denied = git("clone", f"{base}/{private}.git", str(tmp_path / "p"), cwd=tmp_path, env=env, check=False)
    assert denied.returncode != 0 and "not found" in denied.stderr.lower()
    git("clone", f"{base}/{public}.git", str(tmp_path / "pub"), cwd=tmp_path, env=env)
    (tmp_path / "pub" / "x.txt").write_text("x")
    git("add", ".", cwd=tmp_path / "pub", env=env)
    git("commit", "-m", "x", cwd=tmp_path / "pub", env=env)
    push = git("push", "origin", "main", cwd=tmp_path / "pub", env=env, check=False)
    assert push.returncode != 0 and "not allowed" in push.stderr
    unknown = tmp_path / "unknown"
    _keypair(unknown)
    refused = git(
        "clone",
        f"{base}/{public}.git",
        str(tmp_path / "u"),
        cwd=tmp_path,
        env=_ssh_env(tmp_path / "home2", unknown),
        check=False,
    )
    assert refused.returncode != 0 and "Permission denied" in refused.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "OpenSSH format"), ("ssh-ed25519 AAAAnotbase64", "not a valid"), ("hello world", "not a valid")],
)
def test_ssh_key_bad_input_is_refused(live: LiveHub, content: str, message: str) -> None:
    _, token = live.user()
    with api(live.url, token) as client:
        r = client.post("/api/v1/user/ssh_keys", json={"name": "k", "content": content})
        assert r.status_code == 400 and message in r.json()["error"]
        assert client.get("/api/v1/user/ssh_keys").json()["data"] == []


def test_ssh_keys_weak_duplicate_and_removal(live: LiveHub, tmp_path: Path) -> None:
    _, token = live.user()
    _, other_token = live.user()
    weak = _keypair(tmp_path / "weak", "rsa", 1024) if _rsa_1024_allowed() else None
    public = _keypair(tmp_path / "k")
    with api(live.url, token) as client:
        if weak:
            r = client.post("/api/v1/user/ssh_keys", json={"name": "weak", "content": weak})
            assert r.status_code == 400 and "2048" in r.json()["error"]
        added = client.post("/api/v1/user/ssh_keys", json={"name": "k", "content": public}).json()["data"]
        with api(live.url, other_token) as other:
            dup = other.post("/api/v1/user/ssh_keys", json={"name": "k", "content": public})
            assert dup.status_code == 409
            assert other.delete(f"/api/v1/user/ssh_keys/{added['id']}").status_code == 404
        assert [k["id"] for k in client.get("/api/v1/user/ssh_keys").json()["data"]] == [added["id"]]
        assert client.delete(f"/api/v1/user/ssh_keys/{added['id']}").status_code == 200
        assert client.get("/api/v1/user/ssh_keys").json()["data"] == []
    with api(live.url) as anonymous:
        assert anonymous.get("/api/v1/user/ssh_keys").status_code == 401


def _rsa_1024_allowed() -> bool:
    probe = subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", "/dev/null"], capture_output=True, text=True
    )
    return "Invalid RSA key length" not in probe.stderr
