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

The people doors (issue 17) reach repositories indirectly, so they must hide what `info` hides:
`like` likes (then unlikes) the repository: a change to one's own account, so it needs the credential
`watch` needs, asked before the repository is looked at. `liked`: a fan who reads everything liked it;
is it in the fan's likes (API and profile page)? `mention`: the fan @mentioned every actor in a
discussion on it; does the actor have that notification (API list, unread count, the header's count)?
`find`: is it among /api/quicksearch's and /search's results for its name? `collect`: it is an item of a
public collection; is it shown (API, API listing, the collection's page and its count), never on
/collections? A page asked with a refused credential is shown as to anyone (the API answers 401).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
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
    *("like", "liked", "mention", "find", "collect"),
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
# The people doors, in COLUMNS' order: like, liked, mention, find, collect. Liking and reading one's
# notifications need a credential that may change one's account (require_account: no read or fine-grained
# token); the other three list only what the actor may read.
_SEEN, _UNSEEN = "ok ok ok ok ok", "hide hide hide hide hide"
_PEOPLE = {
    "anonymous": {
        "public": "401 ok 401 ok ok",
        "gated": "401 ok 401 ok ok",
        **dict.fromkeys(("internal", "private"), "401 hide 401 hide hide"),
    },
    "other user": {"public": _SEEN, "internal": _SEEN, "private": _UNSEEN, "gated": _SEEN},
    "read token": dict.fromkeys(KINDS, "403 ok 403 ok ok"),
    "token for another repo": {
        **dict.fromkeys(("public", "gated"), "403 ok 403 ok ok"),
        **dict.fromkeys(("internal", "private"), "403 hide 403 hide hide"),
    },
    **{
        label: dict.fromkeys(KINDS, "401 401 401 401 401")
        for label in ("expired token", "revoked token", "disabled user")
    },
}
for _label, _row in EXPECTED.items():
    for _kind in KINDS:
        _row[_kind] += " " + _PEOPLE.get(_label, {}).get(_kind, _SEEN)
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
    fan: str  # reads everything; likes each repository and @mentions everyone in a discussion on each
    fan_token: str
    collection: str  # "org/slug": public, holding every repository


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

    # The people doors: a fan who reads everything (an organization reader) likes each repository and, in
    # a discussion on each, @mentions every person; the organization's public collection holds them all.
    fan = f"fan{tag}"
    accounts.create_user(hub, fan, email=f"{fan}@example.com")
    orgs.set_member_role(hub, None, org, fan, "read")
    fan_token = tokens.create_token(hub, fan, name="fan")[0]
    everyone = " ".join(f"@{name}" for name in people.values())
    with _client(live, token=fan_token) as c:
        for kind in KINDS:
            _ok(c.post(f"/api/models/{repos[kind]}/like"))
            body = {"title": "Matrix mention", "description": f"Have a look, {everyone}"}
            _ok(c.post(f"/api/models/{repos[kind]}/discussions", json=body))
    with _client(live, token=admin_token) as c:
        collection = _ok(c.post("/api/collections", json={"title": f"Matrix picks {tag}", "namespace": org}))["slug"]
        for kind in KINDS:
            _ok(c.post(f"/api/collections/{collection}/items", json={"item": {"id": repos[kind], "type": "model"}}))

    # Disabled last, through the API, so the running server forgets the account's cached credentials.
    with _client(live, token=tokens.create_token(hub, people["site admin"], name="adm")[0]) as c:
        _ok(c.patch(f"/api/v1/admin/users/{people['disabled user']}", json={"disabled": True}))
    return World(live, org, repos, lfs, actors, bystander, admin_token, home, work, fan, fan_token, collection)


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


def _listed(html: str, repo: str) -> str:
    # A repository card links to its page (models at the root); nothing else on these pages does.
    return "ok" if f'href="/{repo}"' in html else "hide"


def _with_page(world: World, who: Who, api: str, path: str, repo: str, params: dict[str, str] | None = None) -> str:
    """`api`'s outcome, if the page at `path` agrees: it lists `repo` exactly when the API does; with a
    refused credential (401), the page is the one anyone gets."""
    with _client(world.live, who) as c:
        page = c.get(path, params=params)
    if api == "401":
        with _client(world.live) as c:
            anyone = c.get(path, params=params)
        same = page.status_code == anyone.status_code == 200 and _listed(page.text, repo) == _listed(anyone.text, repo)
        return api if same else f"401, but the page differs from anyone's ({page.status_code})"
    if page.status_code != 200:
        return f"{api}, but {page.status_code} on {path}"
    shown = _listed(page.text, repo)
    return api if shown == api else f"{api}, but {shown} on {path}"


def _refused(
    world: World, who: Who, r: httpx.Response, path: str, repo: str, params: dict[str, str] | None = None
) -> str:
    """An API's refusal; a refused credential (401) must leave the page as anyone sees it. Asked on the
    public repository only: there anyone's page lists it, and each refused sign-in is slow by design."""
    outcome = _http_outcome(who, r)
    if outcome == "401" and repo == world.repos["public"]:
        return _with_page(world, who, outcome, path, repo, params)
    return outcome


def _like(world: World, who: Who, repo: str) -> str:
    with _client(world.live, who) as c:
        r = c.post(f"/api/models/{repo}/like")
        if r.status_code < 300:  # undone, so that every actor finds the same counts
            assert c.delete(f"/api/models/{repo}/like").status_code == 200
    return _http_outcome(who, r)


def _liked(world: World, who: Who, repo: str) -> str:
    with _client(world.live, who) as c:
        r = c.get(f"/api/users/{world.fan}/likes")
    if r.status_code != 200:
        return _refused(world, who, r, f"/{world.fan}", repo, {"type": "likes"})
    api = "ok" if repo in {item["repo"]["name"] for item in r.json()} else "hide"
    return _with_page(world, who, api, f"/{world.fan}", repo, {"type": "likes"})


def _header_count(html: str) -> int:
    found = re.search(r"data-unread>(\d+)<", html)
    return int(found.group(1)) if found else 0


def _notifications(c: httpx.Client) -> tuple[httpx.Response, list[dict]]:
    """Every notification, paged through; the first refusal, if any."""
    items: list[dict] = []
    for page in range(1, 20):
        r = c.get("/api/v1/notifications", params={"page": page})
        if r.status_code != 200:
            break
        items += r.json()["data"]["items"]
        if len(items) >= r.json()["data"]["total"]:
            break
    return r, items


def _mention(world: World, who: Who, repo: str) -> str:
    """Whether the fan's mention of the actor on `repo` is among their notifications, and counted alike by
    the API and the page header."""
    with _client(world.live, who) as c:
        r, items = _notifications(c)
        outcome = _http_outcome(who, r)
        if outcome == "403":  # a token that may not read them: no count either, and pages show none
            count, home = c.get("/api/v1/notifications/count"), c.get("/")
            if count.status_code != 403 or home.status_code != 200 or _header_count(home.text):
                return f"403, but {count.status_code} for the count and {home.status_code} for a page"
        if who.anonymous and c.get("/api/v1/notifications/count").json() != {"msg": "OK", "data": {"unread": 0}}:
            return f"{outcome}, but anyone's count is not 0"
        if r.status_code != 200:
            return outcome
        counted = c.get("/api/v1/notifications/count").json()["data"]["unread"]
        shown = _header_count(c.get("/notifications").text)
    about = [n for n in items if (n["repo"] or {}).get("name") == repo]
    mine = [n for n in about if n["kind"] == "mention" and n["actor"] == world.fan]
    unread = sum(1 for n in items if not n["read"])
    outcome = "ok" if mine else "hide"
    if counted != unread or shown != unread:
        return f"{outcome}, but {unread} unread listed, {counted} counted, {shown} in the header"
    return outcome


def _find(world: World, who: Who, repo: str) -> str:
    name = repo.split("/")[1]
    with _client(world.live, who) as c:
        r = c.get("/api/quicksearch", params={"q": name})
    if r.status_code != 200:
        return _refused(world, who, r, "/search", repo, {"q": name})
    found = r.json()
    api = "ok" if repo in {m["id"] for m in found["models"]} else "hide"
    if found["modelsCount"] != (1 if api == "ok" else 0):
        return f"{api}, but counted {found['modelsCount']}"
    return _with_page(world, who, api, "/search", repo, {"q": name})


def _collect(world: World, who: Who, repo: str) -> str:
    with _client(world.live, who) as c:
        one = c.get(f"/api/collections/{world.collection}")
        if one.status_code != 200:
            return _refused(world, who, one, f"/collections/{world.collection}", repo)
        listing = c.get("/api/collections", params={"owner": world.org})
        everything = c.get("/collections", params={"search": world.org})
    items = [item["id"] for item in one.json()["items"]]
    api = "ok" if repo in items else "hide"
    listed = next(found for found in listing.json() if found["slug"] == world.collection)
    if [item["id"] for item in listed["items"]] != items:
        return f"{api}, but the listing holds {[item['id'] for item in listed['items']]}"
    # /collections names each collection, never its items; the collection's page counts what it shows.
    if world.collection not in everything.text or repo in everything.text:
        return f"{api}, but /collections shows it wrong"
    with _client(world.live, who) as c:
        page = c.get(f"/collections/{world.collection}")
    if f"{len(items)} repositories" not in page.text:
        return f"{api}, but the page does not count {len(items)}"
    return _with_page(world, who, api, f"/collections/{world.collection}", repo)


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
    if column in _PEOPLE_DOORS:
        return _PEOPLE_DOORS[column](world, who, repo)
    assert column == "delete"
    return _delete(world, who, kind, expected)


_PEOPLE_DOORS = {"like": _like, "liked": _liked, "mention": _mention, "find": _find, "collect": _collect}


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


def _told(world: World, who: Who, repo: str) -> tuple[list[int], int, int, bool]:
    """The actor's unread notifications about `repo` (ids), their unread count by the API and in the page
    header, and whether /notifications names `repo`."""
    with _client(world.live, who) as c:
        listed = _ok(c.get("/api/v1/notifications", params={"filter": "unread"}))["data"]
        count = _ok(c.get("/api/v1/notifications/count"))["data"]["unread"]
        page = c.get("/notifications")
    assert page.status_code == 200, page.text
    ids = [n["id"] for n in listed["items"] if (n["repo"] or {}).get("name") == repo]
    return ids, count, _header_count(page.text), repo in page.text


@pytest.mark.parametrize("loss", ["collaborator removed", "made private"])
def test_a_mention_is_gone_once_its_reader_loses_the_repository(world: World, loss: str) -> None:
    other = next(a for a in world.actors if a.label == "other user")
    repo = f"{world.org}/lost-{secrets.token_hex(3)}"
    ns, name = repo.split("/")
    visibility = "private" if loss == "collaborator removed" else "public"
    with _client(world.live, token=world.admin_token) as c:
        _ok(c.post("/api/repos/create", json={"name": name, "organization": ns, "visibility": visibility}))
        if loss == "collaborator removed":
            _ok(c.put(f"/api/v1/models/{repo}/collaborators/{other.name}", json={"role": "read"}))
    with _client(world.live, token=world.fan_token) as c:
        body = {"title": "For your eyes", "description": f"@{other.name} have a look"}
        _ok(c.post(f"/api/models/{repo}/discussions", json=body))
    ids, count, header, named = _told(world, other, repo)
    assert len(ids) == 1 and count == header and count >= 1 and named

    # Once they may not read it, the notification is neither listed, nor counted (the header's count
    # too, though it was read a moment ago), nor can it be marked read.
    with _client(world.live, token=world.admin_token) as c:
        if loss == "collaborator removed":
            assert c.delete(f"/api/v1/models/{repo}/collaborators/{other.name}").status_code == 200
        else:
            _ok(c.put(f"/api/models/{repo}/settings", json={"visibility": "private"}))
    assert _told(world, other, repo) == ([], count - 1, count - 1, False)
    with _client(world.live, other) as c:
        r = c.put(f"/api/v1/notifications/{ids[0]}", json={"read": True})
    assert r.status_code == 404, r.text


# A private collection of the organization: who may read the organization sees it, by every door.
PRIVATE_COLLECTION = {
    **dict.fromkeys(("anonymous", "other user", "token for another repo"), "hide"),
    **dict.fromkeys(("reader", "writer", "org admin", "site admin", "read token", "write token"), "ok"),
    **dict.fromkeys(("expired token", "revoked token", "disabled user"), "401"),
}


def _private_collection(world: World, who: Who, slug: str) -> str:
    with _client(world.live, who) as c:
        one = c.get(f"/api/collections/{slug}")
    # Pages show a refused credential what they show anyone (and the API refuses it).
    with _client(world.live, None if one.status_code == 401 else who) as c:
        listing = c.get("/api/collections", params={"owner": world.org})
        doors = {
            "the API listing": slug in {found["slug"] for found in listing.json()},
            "/collections": f"/collections/{slug}" in c.get("/collections", params={"search": world.org}).text,
            "the organization's list": f"/collections/{slug}" in c.get(f"/collections/{world.org}").text,
            "its page": c.get(f"/collections/{slug}").status_code == 200,
        }
    outcome = {200: "ok", 404: "hide", 401: "401"}.get(one.status_code, f"{one.status_code}: {one.text[:200]}")
    seen = outcome == "ok"
    wrong = [door for door, shown in doors.items() if shown != seen]
    return outcome if not wrong else f"{outcome}, but not so on {', '.join(wrong)}"


def test_private_collections_show_only_to_readers_of_their_owner(world: World) -> None:
    with _client(world.live, token=world.admin_token) as c:
        title = f"Matrix circle {secrets.token_hex(3)}"
        slug = _ok(c.post("/api/collections", json={"title": title, "namespace": world.org, "private": True}))["slug"]
    got = {who.label: _private_collection(world, who, slug) for who in world.actors}
    assert got == PRIVATE_COLLECTION
