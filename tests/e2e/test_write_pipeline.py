"""Every way a change reaches a repository ends in the same after-write step: an audit record naming
the actor, the refs (old -> new) and the door, and the listed head and lastModified following."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx
from huggingface_hub import HfApi
from pycsghub.file_upload import http_upload_file

from tests.support.clients import api, git, setup_git_home
from tests.support.live import LiveHub

ZERO = "0" * 40
PASSWORD = "pipeline passphrase"


def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


class _Watch:
    """The repository as its readers see it, and the audit log as an administrator reads it."""

    def __init__(self, live: LiveHub, admin_token: str, repo: str) -> None:
        self.live, self.repo, self.target = live, repo, f"model:{repo}"
        self.admin = api(live.url, admin_token)
        self.seen = {e["id"] for e in self._events()}
        self.listed = self._listed()

    def _events(self) -> list[dict]:
        return _ok(self.admin.get("/api/v1/admin/audit", params={"limit": "200"}))["data"]

    def _listed(self) -> dict:
        author = self.repo.split("/")[0]
        return {r["id"]: r for r in _ok(self.admin.get("/api/models", params={"author": author}))}[self.repo]

    def main_sha(self) -> str:
        branches = _ok(self.admin.get(f"/api/models/{self.repo}/refs"))["branches"]
        return next(b["targetCommit"] for b in branches if b["name"] == "main")

    def change(self, actor: str, action: str, via: str, ref: str, *, moves_main: bool = True) -> list[str]:
        """The one new audit entry of a change, checked; returns its [old, new] for `ref`."""
        new = [e for e in self._events() if e["id"] not in self.seen and e["target"] == self.target]
        self.seen |= {e["id"] for e in new}
        assert [(e["actor"], e["action"], e["detail"]["via"]) for e in new] == [(actor, action, via)], new
        entry = new[0]
        assert list(entry["detail"]["refs"]) == [ref] and entry["remote_addr"] == "127.0.0.1"
        old, sha = entry["detail"]["refs"][ref]
        assert old != sha
        listed = self._listed()
        assert listed["lastModified"] > self.listed["lastModified"]
        if moves_main:
            assert listed["sha"] == sha and self.main_sha() == sha
        else:
            assert listed["sha"] == self.listed["sha"]
        self.listed = listed
        return [old, sha]


def _keypair(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


def _commit_and_push(work: Path, env: dict[str, str], name: str) -> str:
    (work / name).write_text(f"{name}\n")
    git("add", ".", cwd=work, env=env)
    git("commit", "-qm", f"add {name}", cwd=work, env=env)
    git("push", "-q", "origin", "main", cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work, env=env).stdout.strip()


def test_every_way_of_writing_is_audited_and_refreshes_the_listing(live: LiveHub, tmp_path: Path) -> None:
    from csghub.services.identity import accounts, tokens

    admin = f"root{secrets.token_hex(3)}"
    accounts.create_user(live.hub, admin, email=f"{admin}@x.org", password=PASSWORD, is_admin=True)
    owner, owner_token = live.user("own")
    member, member_token = live.user("mem", password=PASSWORD)
    org = f"pipe{secrets.token_hex(3)}"
    repo = f"{org}/m"
    with api(live.url, owner_token) as o:
        _ok(o.post("/api/v1/organizations", json={"name": org}))
        _ok(o.put(f"/api/v1/organizations/{org}/members/{member}", json={"role": "write"}))
        _ok(o.post("/api/repos/create", json={"name": "m", "organization": org}))
    watch = _Watch(live, tokens.create_token(live.hub, admin)[0], repo)
    env = setup_git_home(tmp_path / "home")

    # git over HTTP, by the owner
    work = tmp_path / "w"
    git("clone", "-q", f"http://{owner}:{owner_token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    start = watch.main_sha()
    pushed = _commit_and_push(work, env, "http.txt")
    assert watch.change(owner, "repo.push", "git-http", "refs/heads/main") == [start, pushed]

    # git over SSH, by the member
    key = tmp_path / "id_member"
    with api(live.url, member_token) as m:
        _ok(m.post("/api/v1/user/ssh_keys", json={"name": "k", "content": _keypair(key)}))
    ssh_env = {**env, "GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "}
    ssh_env["GIT_SSH_COMMAND"] += "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    git("remote", "set-url", "origin", f"ssh://git@127.0.0.1:{live.ssh_port}/{repo}.git", cwd=work, env=ssh_env)
    over_ssh = _commit_and_push(work, ssh_env, "ssh.txt")
    assert watch.change(member, "repo.push", "git-ssh", "refs/heads/main") == [pushed, over_ssh]

    # huggingface_hub: a file, a branch, a deletion on that branch
    hf = HfApi(endpoint=live.url, token=owner_token)
    uploaded = hf.upload_file(path_or_fileobj=b"weights", path_in_repo="w.bin", repo_id=repo).oid
    assert watch.change(owner, "repo.commit", "api", "refs/heads/main") == [over_ssh, uploaded]
    HfApi(endpoint=live.url, token=member_token).create_branch(repo, branch="dev")
    assert watch.change(member, "repo.branch_create", "api", "refs/heads/dev", moves_main=False) == [ZERO, uploaded]
    hf.delete_file("http.txt", repo_id=repo, revision="dev")
    old, _ = watch.change(owner, "repo.commit", "api", "refs/heads/dev", moves_main=False)
    assert old == uploaded

    # the portal: a plain form POST with a signed-in session, by the member
    with api(live.url) as browser:
        _ok(browser.post("/api/v1/auth/login", json={"username": member, "password": PASSWORD}))
        page = browser.get(f"/{repo}/edit/main/README.md").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"path": "README.md", "content": "# edited on the web\n", "csrf_token": csrf}
        saved = browser.post(f"/{repo}/edit/main", data=form)
        assert saved.status_code == 303 and saved.headers["location"].endswith(f"/{repo}/blob/main/README.md")
    _, edited = watch.change(member, "repo.commit", "web", "refs/heads/main")

    # csghub-sdk's single-file upload, by the owner
    local = tmp_path / "notes.txt"
    local.write_text("from the sdk\n")
    http_upload_file(repo, "model", str(local), path_in_repo="docs", endpoint=live.url, token=owner_token)
    old, _ = watch.change(owner, "repo.commit", "csghub-api", "refs/heads/main")
    assert old == edited

    with api(live.url, owner_token) as o:
        paths = {entry["path"] for entry in _ok(o.get(f"/api/models/{repo}/tree/main"))}
    assert {"http.txt", "ssh.txt", "w.bin", "README.md", "docs"} <= paths
