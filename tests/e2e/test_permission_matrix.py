"""The permission matrix: every kind of actor against every door of the hub, on public, internal,
private and gated repositories of one organization, with the real git, ssh and LFS protocols.

Each cell names the exact outcome:
  ok    the action succeeded (for `list`: the repository is listed)
  hide  answered as if the repository did not exist: 404 for a signed-in caller, 401 with the
        RepoNotFound code for an anonymous one (for `list`: not listed)
  gate  a gated repository's files, refused with the GatedRepo code
  401   the credential itself was refused (or, for anonymous git, credentials were asked for)
  403   the repository is visible but the action is not allowed
  -     the door does not take this credential: SSH authenticates with keys, not tokens

`delete` is tried on a fresh repository of the same kind wherever it is expected to succeed.
`watch` creates (then deletes) a webhook watching the repository: a webhook belongs to its owner's
settings, so it needs an account and a credential that may change them, and then read access to what
it watches. `open_pr` opens a pull request (Hugging Face's rule: a signed-in reader whose credential
may write); merging one is a write (tests/e2e/test_pull_requests.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import git, setup_git_home
from tests.support.live import LiveHub

PASSWORD = "matrix passphrase 1"
KINDS = ("public", "internal", "private", "gated")
COLUMNS = (
    *("list", "info", "resolve", "clone_http", "clone_ssh", "lfs_get"),
    *("push_http", "push_ssh", "lfs_put", "commit"),
    *("settings", "collab", "delete", "watch", "open_pr"),
)
READS = "ok ok ok ok ok ok"
NO_WRITES = "403 403 403 403 403 403 403"
ALL_WRITES = "ok ok ok ok ok ok ok"
WRITES_ONLY = "ok ok ok ok 403 403 403"
TOKEN_READS = "ok ok ok ok - ok"
TOKEN_NO_WRITES = "403 - 403 403 403 403 403"
HIDDEN = "hide hide hide hide hide hide hide hide hide hide hide hide hide hide"
REFUSED = "401 401 401 401 401 401 401 401 401 401 401 401 401 401"
TOKEN_REFUSED = "401 401 401 401 - 401 401 - 401 401 401 401 401 401"

EXPECTED: dict[str, dict[str, str]] = {
    "anonymous": {
        "public": "ok ok ok ok - ok 401 - 401 401 401 401 401 401",
        "internal": "hide hide hide 401 - hide 401 - hide hide hide hide hide 401",
        "private": "hide hide hide 401 - hide 401 - hide hide hide hide hide 401",
        "gated": "ok ok gate 401 - gate 401 - 401 401 401 401 401 401",
    },
    "other user": {
        "public": f"{READS} {NO_WRITES} ok",
        "internal": f"{READS} {NO_WRITES} ok",
        "private": HIDDEN,
        "gated": f"ok ok gate gate gate gate {NO_WRITES} ok",
    },
    "reader": {kind: f"{READS} {NO_WRITES} ok" for kind in KINDS},
    "writer": {kind: f"{READS} {WRITES_ONLY} ok" for kind in KINDS},
    "org admin": {kind: f"{READS} {ALL_WRITES} ok" for kind in KINDS},
    "site admin": {kind: f"{READS} {ALL_WRITES} ok" for kind in KINDS},
    "read token": {kind: f"{TOKEN_READS} {TOKEN_NO_WRITES} 403" for kind in KINDS},
    "write token": {kind: "ok ok ok ok - ok ok - ok ok 403 403 403 ok" for kind in KINDS},
    # Its grants name another repository only: it may not change its owner's settings.
    "token for another repo": {
        "public": f"{TOKEN_READS} {TOKEN_NO_WRITES} 403",
        "internal": "hide hide hide hide - hide hide - hide hide hide hide hide 403",
        "private": "hide hide hide hide - hide hide - hide hide hide hide hide 403",
        "gated": f"ok ok gate gate - gate {TOKEN_NO_WRITES} 403",
    },
    "expired token": {kind: TOKEN_REFUSED for kind in KINDS},
    "revoked token": {kind: TOKEN_REFUSED for kind in KINDS},
    "disabled user": {kind: REFUSED for kind in KINDS},
}
# Opening a pull request (create_pull_request, services/community/pulls.py): anyone signed in who may read
# the repository, with a credential that may write (Hugging Face's rule); merging one is a write.
_OPEN_PR = {
    "anonymous": {"public": "401", "internal": "hide", "private": "hide", "gated": "401"},
    "other user": {"public": "ok", "internal": "ok", "private": "hide", "gated": "ok"},
    "read token": dict.fromkeys(KINDS, "403"),
    "token for another repo": {"public": "403", "internal": "hide", "private": "hide", "gated": "403"},
    **{label: dict.fromkeys(KINDS, "401") for label in ("expired token", "revoked token", "disabled user")},
}
for _label, _row in EXPECTED.items():
    for _kind in KINDS:
        _row[_kind] += " " + _OPEN_PR.get(_label, {}).get(_kind, "ok")
# git sends the credentials in a URL only when the server asks for them, and a public repository's
# clone never asks: the clone works, as it would for anyone.
for _label in ("expired token", "revoked token", "disabled user"):
    _cells = EXPECTED[_label]["public"].split()
    _cells[COLUMNS.index("clone_http")] = "ok"
    EXPECTED[_label]["public"] = " ".join(_cells)


@dataclass
class Who:
    label: str
    name: str = ""
    secret: str = ""  # password or token, sent as Basic credentials like git does
    key: Path | None = None

    @property
    def anonymous(self) -> bool:
        return not self.secret

    def auth(self) -> tuple[str, str] | None:
        return (self.name or "x", self.secret) if self.secret else None


@dataclass
class World:
    live: LiveHub
    org: str
    repos: dict[str, str]  # kind -> "org/name"
    lfs: dict[str, tuple[str, int]]  # kind -> (oid, size) of an LFS object in it
    actors: list[Who]
    bystander: str
    admin_token: str
    home: Path
    work: Path


def _keypair(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _client(live: LiveHub, who: Who | None = None, token: str = "") -> httpx.Client:
    auth = who.auth() if who else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=live.url, auth=auth, headers=headers, timeout=60)


def _ok(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture(scope="module")
def world(live: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> World:
    from csghub.db.models import AccessToken, utcnow
    from csghub.services.identity import accounts, orgs, tokens

    tmp = tmp_path_factory.mktemp("matrix")
    hub = live.hub
    tag = secrets.token_hex(3)
    org = f"mx{tag}"
    people = {label: f"{label.split()[0][:5]}{tag}" for label in ("org admin", "reader", "writer", "other user")}
    people["site admin"] = f"site{tag}"
    people["disabled user"] = f"dis{tag}"
    for label, name in people.items():
        accounts.create_user(hub, name, email=f"{name}@example.com", password=PASSWORD, is_admin=label == "site admin")
    bystander = f"by{tag}"
    accounts.create_user(hub, bystander, email=f"{bystander}@example.com")
    orgs.create_org(hub, org, owner=people["org admin"])
    for label, role in (("reader", "read"), ("writer", "write"), ("disabled user", "write")):
        orgs.set_member_role(hub, None, org, people[label], role)
    admin_token = tokens.create_token(hub, people["org admin"], name="setup")[0]

    actors = [Who("anonymous")]
    for label in ("other user", "reader", "writer", "org admin", "site admin", "disabled user"):
        key = tmp / f"key-{label.replace(' ', '-')}"
        public = _keypair(key)
        token = tokens.create_token(hub, people[label], name="keys")[0]
        with _client(live, token=token) as c:
            _ok(c.post("/api/v1/user/ssh_keys", json={"name": "k", "content": public}))
        actors.append(Who(label, people[label], PASSWORD, key))

    repos: dict[str, str] = {}
    with _client(live, token=admin_token) as c:
        for kind in (*KINDS, "elsewhere"):
            name = f"{kind}-{tag}"
            visibility = {"gated": "public", "elsewhere": "private"}.get(kind, kind)
            _ok(c.post("/api/repos/create", json={"name": name, "organization": org, "visibility": visibility}))
            if kind == "gated":
                _ok(c.put(f"/api/models/{org}/{name}/settings", json={"gated": "manual"}))
            repos[kind] = f"{org}/{name}"

    read_token = tokens.create_token(hub, people["org admin"], name="ro", scope="read")[0]
    write_token = tokens.create_token(hub, people["writer"], name="rw", scope="write")[0]
    fine = tokens.create_token(
        hub,
        people["org admin"],
        name="fine",
        scope="fine",
        grants=[tokens.GrantSpec(f"model:{repos['elsewhere']}", ("read", "write", "manage"))],
    )[0]
    expired, expired_view = tokens.create_token(hub, people["org admin"], name="old", expires_in_days=1)
    with hub.db() as session:
        row = session.get(AccessToken, expired_view.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    revoked, revoked_view = tokens.create_token(hub, people["org admin"], name="gone")
    with _client(live, token=revoked) as c:
        assert c.get("/api/whoami-v2").status_code == 200
    with _client(live, token=admin_token) as c:
        assert c.delete(f"/api/v1/user/tokens/{revoked_view.id}").status_code == 200
    for label, secret in (
        ("read token", read_token),
        ("write token", write_token),
        ("token for another repo", fine),
        ("expired token", expired),
        ("revoked token", revoked),
    ):
        actors.append(Who(label, people["writer"] if label == "write token" else people["org admin"], secret))

    # Every repository holds one LFS object, pushed by the org admin with the real git-lfs.
    home = tmp / "home"
    env = setup_git_home(home)
    lfs: dict[str, tuple[str, int]] = {}
    work = tmp / "work"
    for kind in KINDS:
        checkout = work / kind
        git("clone", _http_url(live, repos[kind], people["org admin"], PASSWORD), str(checkout), cwd=tmp, env=env)
        data = os.urandom(2048)
        (checkout / "weights.bin").write_bytes(data)
        git("add", ".", cwd=checkout, env=env)
        git("commit", "-qm", "weights", cwd=checkout, env=env)
        git("push", "-q", "origin", "main", cwd=checkout, env=env)
        lfs[kind] = (hashlib.sha256(data).hexdigest(), len(data))

    # Disabled last, through the API, so the running server forgets the account's cached credentials.
    with _client(live, token=tokens.create_token(hub, people["site admin"], name="adm")[0]) as c:
        _ok(c.patch(f"/api/v1/admin/users/{people['disabled user']}", json={"disabled": True}))
    return World(live, org, repos, lfs, actors, bystander, admin_token, home, work)


def _http_url(live: LiveHub, repo: str, user: str = "", secret: str = "") -> str:
    creds = f"{quote(user or 'x', safe='')}:{quote(secret, safe='')}@" if secret else ""
    return f"http://{creds}{live.host()}/{repo}.git"


def _ssh_url(live: LiveHub, repo: str) -> str:
    return f"ssh://git@127.0.0.1:{live.ssh_port}/{repo}.git"


def _http_outcome(who: Who, r: httpx.Response) -> str:
    if r.status_code < 300:
        return "ok"
    code = r.headers.get("x-error-code", "")
    if code == "GatedRepo":
        return "gate"
    if code == "RepoNotFound":
        return "hide" if r.status_code == (401 if who.anonymous else 404) else f"{r.status_code} {code}"
    if r.status_code in (401, 403):
        return str(r.status_code)
    return f"{r.status_code} {code}: {r.text[:200]}"


def _git_outcome(proc: subprocess.CompletedProcess[str]) -> str:
    if proc.returncode == 0:
        return "ok"
    err = proc.stderr
    if "Repository not found" in err:
        return "hide"
    if "is restricted" in err:
        return "gate"
    if "Permission denied (publickey)" in err or "could not read Username" in err or "Authentication" in err:
        return "401"
    if "403" in err or "not allowed" in err or "does not allow" in err or "read-only" in err:
        return "403"
    return f"git failed: {err[-300:]}"


def _git_env(world: World, who: Who) -> dict[str, str]:
    env = setup_git_home(world.home)
    env["GIT_LFS_SKIP_SMUDGE"] = "1"
    if who.key is not None:
        env["GIT_SSH_COMMAND"] = (
            f"ssh -i {who.key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o LogLevel=ERROR -o BatchMode=yes"
        )
    return env


def _clone(world: World, who: Who, url: str) -> str:
    target = world.work / f"clone-{secrets.token_hex(4)}"
    proc = git("clone", "-q", url, str(target), cwd=world.work, env=_git_env(world, who), check=False)
    return _git_outcome(proc)


def _push(world: World, who: Who, kind: str, url: str) -> str:
    checkout = world.work / kind
    env = _git_env(world, who)
    branch = f"probe-{secrets.token_hex(4)}"
    git("checkout", "-q", "-B", branch, "origin/main", cwd=checkout, env=env)
    (checkout / "probe.txt").write_text(branch)
    git("add", "probe.txt", cwd=checkout, env=env)
    git("commit", "-qm", branch, cwd=checkout, env=env)
    return _git_outcome(git("push", "-q", url, f"{branch}:refs/heads/{branch}", cwd=checkout, env=env, check=False))


def _lfs_batch(world: World, who: Who, repo: str, operation: str, oid: str, size: int) -> str:
    with _client(world.live, who) as c:
        r = c.post(
            f"/{repo}.git/info/lfs/objects/batch",
            json={"operation": operation, "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]},
            headers={"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"},
        )
    outcome = _http_outcome(who, r)
    if outcome == "ok":
        obj = r.json()["objects"][0]
        assert "error" not in obj and operation in obj.get("actions", {}), r.text
    return outcome


def _commit(world: World, who: Who, repo: str) -> str:
    lines = [
        {"key": "header", "value": {"summary": "probe commit", "description": ""}},
        {
            "key": "file",
            "value": {
                "path": f"probe-{secrets.token_hex(4)}.txt",
                "encoding": "base64",
                "content": base64.b64encode(b"probe").decode(),
            },
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines)
    with _client(world.live, who) as c:
        r = c.post(f"/api/models/{repo}/commit/main", content=body, headers={"Content-Type": "application/x-ndjson"})
    return _http_outcome(who, r)


def _delete(world: World, who: Who, kind: str, expected: str) -> str:
    repo = world.repos[kind]
    if expected == "ok":
        # A fresh repository of the same kind, so the matrix keeps its repositories.
        name = f"del-{secrets.token_hex(4)}"
        visibility = "public" if kind == "gated" else kind
        with _client(world.live, token=world.admin_token) as c:
            _ok(c.post("/api/repos/create", json={"name": name, "organization": world.org, "visibility": visibility}))
            if kind == "gated":
                _ok(c.put(f"/api/models/{world.org}/{name}/settings", json={"gated": "manual"}))
        repo = f"{world.org}/{name}"
    ns, name = repo.split("/")
    with _client(world.live, who) as c:
        r = c.request("DELETE", "/api/repos/delete", json={"name": name, "organization": ns, "type": "model"})
    return _http_outcome(who, r)


def _watch(world: World, who: Who, repo: str) -> str:
    # A global address written as one: checked without DNS, and never sent to (the webhook is deleted
    # before anything happens in the repository).
    body = {"url": "https://1.1.1.1/matrix-hook", "watched": [{"type": "model", "name": repo}]}
    with _client(world.live, who) as c:
        r = c.post("/api/settings/webhooks", json=body)
        if r.status_code < 300:
            made = r.json()["webhook"]["id"]
            assert c.delete(f"/api/settings/webhooks/{made}").status_code == 200
    return _http_outcome(who, r)


def _run(world: World, who: Who, kind: str, column: str, expected: str) -> str:
    live, repo = world.live, world.repos[kind]
    if column == "list":
        with _client(live, who) as c:
            r = c.get("/api/models", params={"author": world.org, "limit": 100})
            quick = c.get("/api/quicksearch", params={"q": repo, "limit": 20})
        if r.status_code != 200:
            return _http_outcome(who, r)
        listed = "ok" if repo in {m["id"] for m in r.json()} else "hide"
        # The header's quick results are a listing too, and agree with it.
        quick_listed = (
            "ok" if quick.status_code == 200 and repo in {m["id"] for m in quick.json()["models"]} else "hide"
        )
        return listed if listed == quick_listed else f"{listed}, but {quick_listed} in /api/quicksearch"
    if column == "info":
        with _client(live, who) as c:
            return _http_outcome(who, c.get(f"/api/models/{repo}"))
    if column == "resolve":  # the Hugging Face URL and CSGHub's /api/v1 one (pycsghub's) answer alike
        with _client(live, who) as c:
            hf = _http_outcome(who, c.get(f"/{repo}/resolve/main/.gitattributes"))
            v1 = _http_outcome(who, c.get(f"/api/v1/models/{repo}/resolve/.gitattributes", params={"ref": "main"}))
        return hf if hf == v1 else f"{hf}, but {v1} under /api/v1"
    if column == "clone_http":
        return _clone(world, who, _http_url(live, repo, who.name, who.secret))
    if column in ("clone_ssh", "push_ssh") and who.key is None:
        return "-"
    if column == "clone_ssh":
        return _clone(world, who, _ssh_url(live, repo))
    if column == "lfs_get":
        return _lfs_batch(world, who, repo, "download", *world.lfs[kind])
    if column == "push_http":
        return _push(world, who, kind, _http_url(live, repo, who.name, who.secret))
    if column == "push_ssh":
        return _push(world, who, kind, _ssh_url(live, repo))
    if column == "lfs_put":
        return _lfs_batch(world, who, repo, "upload", secrets.token_hex(32), 10)
    if column == "commit":
        return _commit(world, who, repo)
    if column == "settings":
        visibility = "public" if kind == "gated" else kind
        with _client(live, who) as c:
            return _http_outcome(who, c.put(f"/api/models/{repo}/settings", json={"visibility": visibility}))
    if column == "collab":
        with _client(live, who) as c:
            r = c.put(f"/api/v1/models/{repo}/collaborators/{world.bystander}", json={"role": "read"})
        return _http_outcome(who, r)
    if column == "watch":
        return _watch(world, who, repo)
    if column == "open_pr":
        body = {"title": "A matrix cell", "description": "Proposed", "pullRequest": True}
        with _client(live, who) as c:
            return _http_outcome(who, c.post(f"/api/models/{repo}/discussions", json=body))
    assert column == "delete"
    return _delete(world, who, kind, expected)


@pytest.mark.parametrize("label", list(EXPECTED))
def test_permission_matrix(world: World, label: str) -> None:
    who = next(a for a in world.actors if a.label == label)
    wrong = []
    for kind in KINDS:
        expected = EXPECTED[label][kind].split()
        assert len(expected) == len(COLUMNS), (label, kind)
        for column, want in zip(COLUMNS, expected, strict=True):
            got = _run(world, who, kind, column, want)
            if got != want:
                wrong.append(f"{kind:8} {column:10} expected {want!r}, got {got!r}")
    assert not wrong, f"{label}:\n" + "\n".join(wrong)
