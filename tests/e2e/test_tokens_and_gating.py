"""Access tokens (shown once, hashed, expiring, revocable, fine-grained) and gated repositories, seen
through the real huggingface_hub client where it has a say: whoami, RepositoryNotFoundError,
GatedRepoError and its access-request calls."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from tests.support.clients import api, create_repo, write_file
from tests.support.live import LiveHub


def _hf(live: LiveHub, token: str | None) -> HfApi:
    return HfApi(endpoint=live.url, token=token or False)


def test_tokens_are_shown_once_stored_hashed_and_revocable(live: LiveHub) -> None:
    from csghub.db.models import AccessToken

    user, token = live.user()
    with api(live.url, token) as client:
        made = client.post("/api/v1/user/tokens", json={"name": "laptop", "scope": "write", "expires_in_days": 30})
        assert made.status_code == 201, made.text
        secret = made.json()["data"]["token"]
        listed = client.get("/api/v1/user/tokens").json()["data"]
    assert secret not in str(listed) and token not in str(listed)
    laptop = next(t for t in listed if t["name"] == "laptop")
    assert laptop["scope"] == "write" and laptop["expires_at"] and laptop["last_used_at"] is None
    with live.hub.db() as session:
        stored = {row.token_hash for row in session.query(AccessToken).all()}
    assert hashlib.sha256(secret.encode()).hexdigest() in stored and secret not in stored

    me = _hf(live, secret).whoami()
    assert me["name"] == user
    assert me["auth"]["accessToken"]["displayName"] == "laptop" and me["auth"]["accessToken"]["role"] == "write"
    with api(live.url, token) as client:
        used = next(t for t in client.get("/api/v1/user/tokens").json()["data"] if t["name"] == "laptop")
        assert used["last_used_at"] is not None
        assert client.delete(f"/api/v1/user/tokens/{laptop['id']}").status_code == 200
        revoked = next(t for t in client.get("/api/v1/user/tokens").json()["data"] if t["name"] == "laptop")
        assert revoked["revoked_at"] and revoked["active"] is False
    with pytest.raises(HfHubHTTPError) as caught:
        _hf(live, secret).whoami()
    assert caught.value.response.status_code == 401


def test_someone_elses_token_cannot_be_revoked(live: LiveHub) -> None:
    _, owner_token = live.user()
    _, other_token = live.user()
    with api(live.url, owner_token) as owner:
        token_id = owner.get("/api/v1/user/tokens").json()["data"][0]["id"]
    with api(live.url, other_token) as other:
        r = other.delete(f"/api/v1/user/tokens/{token_id}")
        assert r.status_code == 404
    assert _hf(live, owner_token).whoami()["auth"]["accessToken"]["role"] == "write"


def test_token_requests_with_bad_input_are_refused(live: LiveHub) -> None:
    _, token = live.user()
    with api(live.url, token) as client:
        for body, needle in (
            ({"scope": "read"}, "name"),
            ({"name": "x", "scope": "admin"}, "scope"),
            ({"name": "x", "expires_in_days": 0}, "lifetime"),
            ({"name": "x", "expires_in_days": "soon"}, "days"),
            ({"name": "x", "scope": "fine"}, "grant"),
            ({"name": "x", "scope": "fine", "grants": [{"target": "model:nobody/none", "actions": ["read"]}]}, "exist"),
            ({"name": "x", "scope": "fine", "grants": [{"target": "wat", "actions": ["read"]}]}, "target"),
            ({"name": "x", "scope": "read", "grants": [{"target": "namespace:x", "actions": ["read"]}]}, "fine"),
        ):
            r = client.post("/api/v1/user/tokens", json=body)
            assert r.status_code in (400, 404) and needle in r.json()["error"].lower(), (body, r.text)
        assert len(client.get("/api/v1/user/tokens").json()["data"]) == 1, "nothing half-created"


def test_fine_grained_token_reaches_only_its_repository(live: LiveHub, tmp_path: Path) -> None:
    user, token = live.user()
    create_repo(live.url, token, f"{user}/granted", private=True)
    create_repo(live.url, token, f"{user}/other", private=True)
    with api(live.url, token) as client:
        r = client.post(
            "/api/v1/user/tokens",
            json={"name": "ci", "scope": "fine", "grants": [{"target": f"model:{user}/granted", "actions": ["read"]}]},
        )
        fine = r.json()["data"]["token"]
    hf = _hf(live, fine)
    described = hf.whoami()["auth"]["accessToken"]
    assert described["role"] == "fineGrained"
    assert described["fineGrained"]["scoped"] == [
        {"entity": {"type": "repo", "name": f"model:{user}/granted"}, "permissions": ["repo.content.read"]}
    ]
    assert hf.model_info(f"{user}/granted").id == f"{user}/granted"
    assert [m.id for m in hf.list_models(author=user)] == [f"{user}/granted"]
    with pytest.raises(RepositoryNotFoundError):
        hf.model_info(f"{user}/other")
    with pytest.raises(HfHubHTTPError) as caught:
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{user}/granted")
    assert caught.value.response.status_code == 403


def test_private_repo_is_repository_not_found_for_others(live: LiveHub, tmp_path: Path) -> None:
    owner, owner_token = live.user()
    _, other_token = live.user()
    repo = f"{owner}/secret"
    create_repo(live.url, owner_token, repo, private=True)
    assert _hf(live, owner_token).model_info(repo).private is True
    for token in (other_token, None):
        with pytest.raises(RepositoryNotFoundError):
            _hf(live, token).model_info(repo)
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(repo, "README.md", endpoint=live.url, token=token or False, cache_dir=tmp_path / "c")


def test_gated_repo_needs_an_accepted_request(live: LiveHub, tmp_path: Path) -> None:
    owner, owner_token = live.user()
    fan, fan_token = live.user()
    repo = f"{owner}/gated"
    create_repo(live.url, owner_token, repo)
    write_file(live.url, owner_token, repo, "README.md", "# gated\n")
    owner_api = _hf(live, owner_token)
    owner_api.update_repo_settings(repo, gated="manual")
    fan_api = _hf(live, fan_token)
    assert fan_api.model_info(repo).gated == "manual", "gated repos are listed and described publicly"

    def fetch() -> str:
        return hf_hub_download(repo, "README.md", endpoint=live.url, token=fan_token, cache_dir=tmp_path / "c")

    with pytest.raises(GatedRepoError):
        fetch()
    with api(live.url, fan_token) as client:
        asked = client.post(f"/api/models/{repo}/ask-access", json={"reason": "research"})
        assert asked.json() == {"status": "pending"}
    with pytest.raises(GatedRepoError):
        fetch()
    pending = owner_api.list_pending_access_requests(repo)
    assert [(r.username, r.status, r.fields) for r in pending] == [(fan, "pending", {"reason": "research"})]
    with pytest.raises(HfHubHTTPError):
        list(fan_api.list_pending_access_requests(repo))
    owner_api.accept_access_request(repo, fan)
    assert Path(fetch()).read_text().startswith("# gated")
    assert [r.username for r in owner_api.list_accepted_access_requests(repo)] == [fan]
    owner_api.reject_access_request(repo, fan, rejection_reason="changed my mind")
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "README.md", endpoint=live.url, token=fan_token, cache_dir=tmp_path / "c2")


def test_auto_gated_repo_accepts_requests_at_once_and_grant_needs_no_request(live: LiveHub, tmp_path: Path) -> None:
    owner, owner_token = live.user()
    _, fan_token = live.user()
    friend, friend_token = live.user()
    repo = f"{owner}/auto"
    create_repo(live.url, owner_token, repo)
    write_file(live.url, owner_token, repo, "README.md", "# auto\n")
    _hf(live, owner_token).update_repo_settings(repo, gated="auto")
    with api(live.url, fan_token) as client:
        assert client.post(f"/api/models/{repo}/ask-access").json() == {"status": "accepted"}
    hf_hub_download(repo, "README.md", endpoint=live.url, token=fan_token, cache_dir=tmp_path / "a")
    _hf(live, owner_token).update_repo_settings(repo, gated="manual")
    _hf(live, owner_token).grant_access(repo, friend)
    hf_hub_download(repo, "README.md", endpoint=live.url, token=friend_token, cache_dir=tmp_path / "b")
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "README.md", endpoint=live.url, token=False, cache_dir=tmp_path / "c")
