"""Organizations (create, invitations, roles, the last admin), collaborators, and the audit log that
records who did what from where, readable by site admins and by an organization's admins."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub


def _ok(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_org_invitation_gives_a_member_the_orgs_private_model(live: LiveHub) -> None:
    admin, admin_token = live.user("adm")
    member, member_token = live.user("mem")
    org = f"org{secrets.token_hex(3)}"
    with api(live.url, admin_token) as a:
        made = _ok(a.post("/api/v1/organizations", json={"name": org, "full_name": "Research Lab"}))["data"]
        assert made == {**made, "name": org, "full_name": "Research Lab", "members": 1}
        _ok(a.post("/api/repos/create", json={"name": "secret", "organization": org, "private": True}))
    with api(live.url, member_token) as m:
        assert m.get(f"/api/models/{org}/secret").status_code == 404
        assert m.post(f"/api/v1/organizations/{org}/invitations", json={"user": member}).status_code == 403
    with api(live.url, admin_token) as a:
        invitation = _ok(a.post(f"/api/v1/organizations/{org}/invitations", json={"user": member, "role": "write"}))
        assert invitation["data"]["role"] == "write"
        assert a.post(f"/api/v1/organizations/{org}/invitations", json={"user": "no-such-user"}).status_code == 404
    with api(live.url, member_token) as m:
        mine = _ok(m.get("/api/v1/user/invitations"))["data"]
        assert [(i["organization"], i["role"], i["invited_by"]) for i in mine] == [(org, "write", admin)]
        assert m.get(f"/api/models/{org}/secret").status_code == 404, "an invitation is not membership"
        _ok(m.post(f"/api/v1/user/invitations/{mine[0]['id']}/accept"))
        assert m.get(f"/api/models/{org}/secret").json()["id"] == f"{org}/secret"
        assert _ok(m.get("/api/v1/user/invitations"))["data"] == []
    members = _ok(httpx.get(f"{live.url}/api/v1/organizations/{org}/members"))["data"]
    assert [(x["user"], x["role"]) for x in members] == sorted([(admin, "admin"), (member, "write")])


def test_the_last_admin_cannot_leave_or_be_demoted(live: LiveHub) -> None:
    admin, admin_token = live.user("adm")
    other, _ = live.user("oth")
    org = f"org{secrets.token_hex(3)}"
    with api(live.url, admin_token) as a:
        _ok(a.post("/api/v1/organizations", json={"name": org}))
        r = a.delete(f"/api/v1/organizations/{org}/members/{admin}")
        assert r.status_code == 409 and "last admin" in r.json()["error"]
        r = a.put(f"/api/v1/organizations/{org}/members/{admin}", json={"role": "read"})
        assert r.status_code == 409
        _ok(a.put(f"/api/v1/organizations/{org}/members/{other}", json={"role": "admin"}))
        assert a.put(f"/api/v1/organizations/{org}/members/{other}", json={"role": "owner"}).status_code == 400
        _ok(a.delete(f"/api/v1/organizations/{org}/members/{admin}"))
        assert a.put(f"/api/v1/organizations/{org}/members/{admin}", json={"role": "admin"}).status_code == 403


def test_org_names_share_the_user_namespace(live: LiveHub) -> None:
    user, token = live.user()
    with api(live.url, token) as c:
        for name, status in ((user, 409), (user.upper(), 409), ("api", 400), ("datasets", 400), ("a/b", 400)):
            r = c.post("/api/v1/organizations", json={"name": name})
            assert r.status_code == status, (name, r.text)
    with api(live.url) as anon:
        assert anon.post("/api/v1/organizations", json={"name": f"o{secrets.token_hex(3)}"}).status_code == 401


def test_collaborator_gets_a_role_on_one_repository(live: LiveHub) -> None:
    owner, owner_token = live.user()
    helper, helper_token = live.user()
    create_repo(live.url, owner_token, f"{owner}/shared", private=True)
    create_repo(live.url, owner_token, f"{owner}/unshared", private=True)
    with api(live.url, owner_token) as o:
        _ok(o.put(f"/api/v1/models/{owner}/shared/collaborators/{helper}", json={"role": "write"}))
        assert _ok(o.get(f"/api/v1/models/{owner}/shared/collaborators"))["data"] == [{"user": helper, "role": "write"}]
    with api(live.url, helper_token) as h:
        assert h.get(f"/api/models/{owner}/shared").status_code == 200
        assert h.get(f"/api/models/{owner}/unshared").status_code == 404
        assert [m["id"] for m in h.get("/api/models", params={"author": owner}).json()] == [f"{owner}/shared"]
        assert h.put(f"/api/v1/models/{owner}/shared/collaborators/{helper}", json={"role": "admin"}).status_code == 403
    with api(live.url, owner_token) as o:
        _ok(o.delete(f"/api/v1/models/{owner}/shared/collaborators/{helper}"))
    with api(live.url, helper_token) as h:
        assert h.get(f"/api/models/{owner}/shared").status_code == 404


def _events(client: httpx.Client, path: str = "/api/v1/admin/audit", **params: str) -> list[dict]:
    return _ok(client.get(path, params={"limit": "1000", **params}))["data"]


def test_audit_log_records_who_did_what_from_where(live: LiveHub, tmp_path: Path) -> None:
    from csghub.services.identity import accounts, tokens

    admin = f"root{secrets.token_hex(3)}"
    accounts.create_user(live.hub, admin, email=f"{admin}@x.org", password="audit passphrase", is_admin=True)
    admin_token = tokens.create_token(live.hub, admin)[0]
    owner, owner_token = live.user("own")
    org = f"aud{secrets.token_hex(3)}"
    with api(live.url, owner_token) as o:
        _ok(o.post("/api/v1/organizations", json={"name": org}))
        member, _ = live.user("mem")
        _ok(o.put(f"/api/v1/organizations/{org}/members/{member}", json={"role": "read"}))
        _ok(o.put(f"/api/v1/organizations/{org}/members/{member}", json={"role": "write"}))
        _ok(o.delete(f"/api/v1/organizations/{org}/members/{member}"))
        _ok(o.post("/api/repos/create", json={"name": "m", "organization": org}))
        _ok(o.put(f"/api/models/{org}/m/settings", json={"visibility": "private"}))
        _ok(o.post("/api/repos/move", json={"fromRepo": f"{org}/m", "toRepo": f"{org}/m2", "type": "model"}))
        made = _ok(o.post("/api/v1/user/tokens", json={"name": "temp", "scope": "read"}))["data"]
        _ok(o.delete(f"/api/v1/user/tokens/{made['id']}"))
        key = tmp_path / "k"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        added = _ok(o.post("/api/v1/user/ssh_keys", json={"name": "k", "content": key.with_suffix(".pub").read_text()}))
        _ok(o.delete(f"/api/v1/user/ssh_keys/{added['data']['id']}"))
    with api(live.url) as anon:
        anon.post("/api/v1/auth/login", json={"username": owner, "password": "wrong password"})

    env = setup_git_home(tmp_path / "home")
    url = f"http://{owner}:{owner_token}@{live.host()}/{org}/m2.git"
    git("clone", "-q", url, str(tmp_path / "w"), cwd=tmp_path, env=env)
    (tmp_path / "w" / "a.txt").write_text("a")
    git("add", ".", cwd=tmp_path / "w", env=env)
    git("commit", "-qm", "a", cwd=tmp_path / "w", env=env)
    git("push", "-q", "origin", "main", cwd=tmp_path / "w", env=env)
    git("commit", "-q", "--amend", "-m", "rewritten", cwd=tmp_path / "w", env=env)
    git("push", "-q", "--force", "origin", "main", cwd=tmp_path / "w", env=env)
    with api(live.url, owner_token) as o:
        _ok(o.post(f"/api/models/{org}/m2/branch/dev"))
        _ok(o.delete(f"/api/models/{org}/m2/branch/dev"))
        _ok(o.request("DELETE", "/api/repos/delete", json={"name": "m2", "organization": org, "type": "model"}))

    with api(live.url, admin_token) as a:
        site = _events(a)
    mine = [e for e in site if e["actor"] == owner or e["target"] == owner]
    actions = [e["action"] for e in reversed(mine)]
    for expected in (
        "org.create",
        "org.member_role",
        "org.member_remove",
        "repo.create",
        "repo.visibility",
        "repo.rename",
        "token.create",
        "token.revoke",
        "ssh_key.add",
        "ssh_key.remove",
        "login.failed",
        "repo.push",
        "repo.force_push",
        "repo.branch_create",
        "repo.branch_delete",
        "repo.delete",
    ):
        assert expected in actions, (expected, actions)
    assert actions.index("repo.push") < actions.index("repo.force_push") < actions.index("repo.delete")
    forced = next(e for e in mine if e["action"] == "repo.force_push")
    assert forced["detail"]["forced"] == ["refs/heads/main"] and forced["remote_addr"] == "127.0.0.1"
    assert all(e["time"].endswith("Z") for e in mine)
    roles = [e["detail"]["role"] for e in reversed(mine) if e["action"] == "org.member_role"]
    assert roles == ["read", "write"]
    visibility = next(e for e in mine if e["action"] == "repo.visibility")
    assert visibility["detail"] == {"from": "public", "to": "private"}

    with api(live.url, owner_token) as o:
        org_events = _events(o, f"/api/v1/organizations/{org}/audit")
        assert {e["namespace"] for e in org_events} == {org.lower()}
        assert "repo.force_push" in {e["action"] for e in org_events}
        assert o.get("/api/v1/admin/audit").status_code == 403
    _, stranger_token = live.user()
    with api(live.url, stranger_token) as s:
        assert s.get(f"/api/v1/organizations/{org}/audit").status_code == 403
