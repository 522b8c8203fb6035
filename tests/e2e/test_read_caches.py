"""The hot read paths (model info, resolve) keep repository rows, credentials and encoded answers in
memory; each change is still seen by the very next request: visibility, deletion, a push over git,
a revoked token, a removed collaborator."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.clients import api, create_repo, git, setup_git_home
from tests.support.live import LiveHub


def _warm(client: httpx.Client, *paths: str) -> None:
    """Ask twice: the second answer comes from what the first one left in memory."""
    for path in paths:
        for _ in range(2):
            r = client.get(path)
            assert r.status_code == 200, r.text


def test_model_info_and_resolve_hide_a_repo_made_private_then_show_it_again(live: LiveHub) -> None:
    user, token = live.user()
    repo = f"{user}/turns-private"
    create_repo(live.url, token, repo)
    info, small = f"/api/models/{repo}", f"/{repo}/resolve/main/.gitattributes"
    with api(live.url) as anonymous, api(live.url, token) as owner:
        _warm(anonymous, info, small)
        assert anonymous.get(info).json()["private"] is False
        assert owner.put(f"/api/models/{repo}/settings", json={"private": True}).status_code == 200
        hidden = anonymous.get(info)
        assert hidden.status_code in (401, 404) and hidden.json()["code"] == "RepoNotFound"
        assert anonymous.get(small).headers["x-error-code"] == "RepoNotFound"
        assert owner.get(info).json()["private"] is True
        assert owner.put(f"/api/models/{repo}/settings", json={"private": False}).status_code == 200
        assert anonymous.get(info).json()["private"] is False


def test_deleted_repo_is_gone_from_model_info_and_resolve_at_once(live: LiveHub) -> None:
    user, token = live.user()
    repo = f"{user}/short-lived"
    create_repo(live.url, token, repo)
    info, small = f"/api/models/{repo}", f"/{repo}/resolve/main/.gitattributes"
    with api(live.url) as anonymous, api(live.url, token) as owner:
        _warm(anonymous, info, small)
        assert owner.request("DELETE", "/api/repos/delete", json={"name": repo}).status_code == 200
        assert anonymous.get(info).headers["x-error-code"] == "RepoNotFound"
        assert anonymous.get(small).headers["x-error-code"] == "RepoNotFound"


def test_a_push_shows_in_model_info_and_resolve_on_the_next_request(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    repo = f"{user}/pushed"
    create_repo(live.url, token, repo)
    info, small = f"/api/models/{repo}", f"/{repo}/resolve/main/.gitattributes"
    with api(live.url) as anonymous:
        _warm(anonymous, info, small)
        before = anonymous.get(info).json()
        env = setup_git_home(tmp_path / "home")
        work = tmp_path / "work"
        git("clone", f"http://{user}:{token}@{live.host()}/{repo}", str(work), cwd=tmp_path, env=env)
        (work / "README.md").write_text("---\nlicense: mit\n---\n# pushed\n")
        (work / "config.json").write_text("{}\n")
        git("add", "-A", cwd=work, env=env)
        git("commit", "-m", "new card", cwd=work, env=env)
        git("push", "origin", "HEAD:main", cwd=work, env=env)
        pushed = git("rev-parse", "HEAD", cwd=work, env=env).stdout.strip()
        after = anonymous.get(info).json()
        assert after["sha"] == pushed != before["sha"]
        assert "config.json" in {s["rfilename"] for s in after["siblings"]}
        assert after["cardData"] == {"license": "mit"}
        assert anonymous.get(small).headers["x-repo-commit"] == pushed
        card = anonymous.get(f"/{repo}/resolve/main/README.md")
        assert card.text.endswith("# pushed\n") and card.headers["x-repo-commit"] == pushed


def test_revoked_token_and_removed_collaborator_are_refused_on_the_next_request(live: LiveHub) -> None:
    owner_name, owner_token = live.user()
    helper_name, helper_token = live.user()
    repo = f"{owner_name}/secret"
    create_repo(live.url, owner_token, repo, private=True)
    info, small = f"/api/models/{repo}", f"/{repo}/resolve/main/.gitattributes"
    with api(live.url, owner_token) as owner:
        made = owner.post("/api/v1/user/tokens", json={"name": "ci", "scope": "read"}).json()["data"]
        collaborator = f"/api/v1/models/{repo}/collaborators/{helper_name}"
        assert owner.put(collaborator, json={"role": "read"}).status_code == 200
        with api(live.url, made["token"]) as ci, api(live.url, helper_token) as helper:
            _warm(ci, info, small)
            _warm(helper, info, small)
            assert owner.delete(f"/api/v1/user/tokens/{made['id']}").status_code == 200
            refused = ci.get(info)
            assert refused.status_code == 401 and refused.json()["error"]
            assert ci.get(small).status_code == 401
            assert owner.delete(collaborator).status_code == 200
            assert helper.get(info).headers["x-error-code"] == "RepoNotFound"
            assert helper.get(small).headers["x-error-code"] == "RepoNotFound"
        assert owner.get(info).json()["id"] == repo
