"""Likes and discussions through the real huggingface_hub client (its own paths and JSON shapes), and
what stays hidden: someone else's private repository cannot be liked or discussed, only not found."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import get_session

from csghub.services import audit
from csghub.services.permissions import Actor
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub


def _hf(live: LiveHub, token: str | None) -> HfApi:
    return HfApi(endpoint=live.url, token=token or False)


def _like(live: LiveHub, token: str, repo_id: str, repo_type: str = "model") -> int:
    # huggingface_hub has no like() (the Hub refuses scripted likes); it sends this request for unlike.
    r = get_session().post(f"{live.url}/api/{repo_type}s/{repo_id}/like", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return int(r.json()["likes"])


def test_like_unlike_and_list_liked_repos_with_huggingface_hub(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    fan, fan_token = live.user("fan")
    model, dataset = f"{owner}/liked-model", f"{owner}/liked-data"
    create_repo(live.url, owner_token, model)
    create_repo(live.url, owner_token, dataset, repo_type="dataset")

    assert _like(live, fan_token, model) == 1
    assert _like(live, fan_token, model) == 1  # liking twice counts once
    assert _like(live, owner_token, model) == 2
    assert _like(live, fan_token, dataset, "dataset") == 1
    assert _hf(live, None).model_info(model).likes == 2

    liked = _hf(live, fan_token).list_liked_repos()
    assert liked.user == fan and liked.models == [model] and liked.datasets == [dataset] and liked.total == 2
    assert _hf(live, None).list_liked_repos(fan).models == [model]

    _hf(live, fan_token).unlike(model)
    _hf(live, fan_token).unlike(model)  # unliking twice is harmless
    assert _hf(live, None).model_info(model).likes == 1
    assert _hf(live, fan_token).list_liked_repos().models == []

    admin = Actor(user_id=0, name="root", is_admin=True)
    events = audit.list_events(live.hub, admin, namespace=owner, action="repo.unlike")
    assert [(e.actor, e.target) for e in events] == [(fan, f"model:{model}")]


def test_anonymous_and_read_tokens_cannot_like(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    _, read_token = live.user("reader", scope="read")
    model = f"{owner}/no-anonymous-likes"
    create_repo(live.url, owner_token, model)
    with api(live.url) as anonymous:
        r = anonymous.post(f"/api/models/{model}/like")
        assert r.status_code == 401 and "Sign in to like" in r.json()["error"]
    with api(live.url, read_token) as reader:
        r = reader.post(f"/api/models/{model}/like")
        assert r.status_code == 403 and "write token" in r.json()["error"]
    assert _hf(live, None).model_info(model).likes == 0


def test_private_repository_likes_and_discussions_are_not_found_for_others(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    _, stranger_token = live.user("stranger")
    secret = f"{owner}/secret-model"
    create_repo(live.url, owner_token, secret, private=True)
    assert _like(live, owner_token, secret) == 1
    _hf(live, owner_token).create_discussion(secret, "Internal notes", description="only for us")

    other = _hf(live, stranger_token)
    with pytest.raises(RepositoryNotFoundError):
        other.unlike(secret)
    with pytest.raises(RepositoryNotFoundError):
        list(other.get_repo_discussions(secret))
    with pytest.raises(RepositoryNotFoundError):
        other.create_discussion(secret, "Let me in", description="?")
    with pytest.raises(RepositoryNotFoundError):
        other.comment_discussion(secret, 1, "hello?")
    with pytest.raises(RepositoryNotFoundError):
        other.get_discussion_details(secret, 1)
    with api(live.url, stranger_token) as client:
        r = client.post(f"/api/models/{secret}/like")
        assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    # The owner's likes list does not reveal the private repository to others.
    assert other.list_liked_repos(owner).models == []
    assert _hf(live, owner_token).list_liked_repos().models == [secret]


def test_discussions_open_comment_close_and_reopen_with_huggingface_hub(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    author, author_token = live.user("author")
    bystander, bystander_token = live.user("bystander")
    model = f"{owner}/discussed"
    create_repo(live.url, owner_token, model)

    opened = _hf(live, author_token).create_discussion(model, "Does it run on CPU?", description="Asking **boldly**.")
    assert (opened.num, opened.title, opened.author, opened.status) == (1, "Does it run on CPU?", author, "open")
    assert opened.is_pull_request is False
    assert opened.events[0].content == "Asking **boldly**." and opened.events[0].author == author
    second = _hf(live, bystander_token).create_discussion(model, "Second thread")
    assert second.num == 2 and "huggingface_hub" in second.events[0].content

    reply = _hf(live, owner_token).comment_discussion(model, 1, "Yes, slowly.")
    assert reply.type == "comment" and reply.content == "Yes, slowly." and reply.author == owner
    assert reply.edited is False and reply.hidden is False
    edited = _hf(live, owner_token).edit_discussion_comment(model, 1, reply.id, "Yes, slowly (about 2 tokens/s).")
    assert edited.content == "Yes, slowly (about 2 tokens/s)." and edited.edited is True
    with pytest.raises(HfHubHTTPError) as not_theirs:
        _hf(live, author_token).edit_discussion_comment(model, 1, reply.id, "hijacked")
    assert not_theirs.value.response.status_code == 403

    with pytest.raises(HfHubHTTPError) as refused:
        _hf(live, bystander_token).change_discussion_status(model, 1, "closed")
    assert refused.value.response.status_code == 403
    closed = _hf(live, author_token).change_discussion_status(model, 1, "closed", comment="Thanks!")
    assert closed.new_status == "closed" and closed.author == author
    reopened = _hf(live, owner_token).change_discussion_status(model, 1, "open")
    assert reopened.new_status == "open"

    details = _hf(live, None).get_discussion_details(model, 1)
    assert [e.type for e in details.events] == ["comment", "comment", "comment", "status-change", "status-change"]
    texts = [getattr(e, "content", None) for e in details.events[:3]]
    assert texts == ["Asking **boldly**.", "Yes, slowly (about 2 tokens/s).", "Thanks!"]
    assert details.status == "open"

    listed = list(_hf(live, None).get_repo_discussions(model))
    assert [(d.num, d.title, d.author) for d in listed] == [
        (2, "Second thread", bystander),
        (1, "Does it run on CPU?", author),
    ]
    assert all(d.repo_id == model and d.repo_type == "model" for d in listed)
    _hf(live, bystander_token).change_discussion_status(model, 2, "closed")
    assert [d.num for d in _hf(live, None).get_repo_discussions(model, discussion_status="closed")] == [2]
    assert [d.num for d in _hf(live, None).get_repo_discussions(model, author=author)] == [1]
    assert list(_hf(live, None).get_repo_discussions(model, discussion_type="pull_request")) == []
    with api(live.url) as client:
        page = client.get(f"/api/models/{model}/discussions").json()
        assert page["count"] == 2 and page["numClosedDiscussions"] == 1
        assert {d["num"]: d["numComments"] for d in page["discussions"]} == {1: 3, 2: 1}


def test_discussions_and_pull_requests_refuse_anonymous_writers(live: LiveHub) -> None:
    owner, owner_token = live.user("owner")
    dataset = f"{owner}/quiet-data"
    create_repo(live.url, owner_token, dataset, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as anonymous:
        _hf(live, None).create_discussion(dataset, "Hi", description="x", repo_type="dataset")
    assert anonymous.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as pull:
        _hf(live, None).create_pull_request(dataset, "A change", repo_type="dataset")
    assert pull.value.response.status_code == 401
    # Pull requests are discussions too (tests/e2e/test_pull_requests.py has the rest of their life).
    draft = _hf(live, owner_token).create_pull_request(dataset, "A change", repo_type="dataset")
    assert (draft.num, draft.status, draft.is_pull_request) == (1, "draft", True)
    with pytest.raises(HfHubHTTPError) as missing:
        _hf(live, owner_token).comment_discussion(dataset, 7, "anyone?", repo_type="dataset")
    assert missing.value.response.status_code == 404
    with api(live.url, owner_token) as client:
        r = client.post(f"/api/datasets/{dataset}/discussions", json={"title": " ", "description": "x"})
        assert r.status_code == 400 and "title" in r.json()["error"]
        # The status route also answers PATCH, as some scripts send it.
        made = client.post(f"/api/datasets/{dataset}/discussions", json={"title": "T", "description": "d"}).json()
        r = client.patch(f"/api/datasets/{dataset}/discussions/{made['num']}/status", json={"status": "closed"})
        assert r.status_code == 200 and r.json()["newStatus"]["data"]["status"] == "closed"


def test_collections_with_huggingface_hub(live: LiveHub) -> None:
    owner, token = live.user("curator")
    _, stranger_token = live.user("stranger")
    create_repo(live.url, token, f"{owner}/first")
    create_repo(live.url, token, f"{owner}/second")
    create_repo(live.url, token, f"{owner}/hidden", private=True)
    hf = _hf(live, token)

    made = hf.create_collection("Small models", description="Tiny ones")
    assert made.slug == f"{owner}/small-models" and made.items == [] and made.private is False
    again = hf.create_collection("Small models", exists_ok=True)
    assert again.slug == made.slug
    hf.add_collection_item(made.slug, f"{owner}/first", "model", note="Start here")
    hf.add_collection_item(made.slug, f"{owner}/second", "model")
    hf.add_collection_item(made.slug, f"{owner}/hidden", "model")
    got = hf.get_collection(made.slug)
    assert [(i.item_id, i.item_type, i.note) for i in got.items] == [
        (f"{owner}/first", "model", "Start here"),
        (f"{owner}/second", "model", None),
        (f"{owner}/hidden", "model", None),
    ]
    seen_by_stranger = _hf(live, stranger_token).get_collection(made.slug)
    assert [i.item_id for i in seen_by_stranger.items] == [f"{owner}/first", f"{owner}/second"]

    second = next(i for i in got.items if i.item_id == f"{owner}/second")
    hf.update_collection_item(made.slug, second.item_object_id, position=0, note="Better")
    reordered = hf.get_collection(made.slug)
    assert [(i.item_id, i.note) for i in reordered.items][:2] == [
        (f"{owner}/second", "Better"),
        (f"{owner}/first", "Start here"),
    ]
    hf.delete_collection_item(made.slug, second.item_object_id)
    assert [i.item_id for i in hf.get_collection(made.slug).items] == [f"{owner}/first", f"{owner}/hidden"]

    updated = hf.update_collection_metadata(made.slug, title="Small and private", private=True)
    assert updated.title == "Small and private" and updated.private is True
    with pytest.raises(HfHubHTTPError) as hidden:
        _hf(live, stranger_token).get_collection(made.slug)
    assert hidden.value.response.status_code == 404
    assert [c.slug for c in hf.list_collections(owner=owner)] == [made.slug]
    assert list(_hf(live, stranger_token).list_collections(owner=owner)) == []
    with pytest.raises(HfHubHTTPError) as not_theirs:
        _hf(live, stranger_token).delete_collection(made.slug)
    assert not_theirs.value.response.status_code == 404
    hf.delete_collection(made.slug)
    with pytest.raises(HfHubHTTPError):
        hf.get_collection(made.slug)
