"""Webhooks against a live hub: huggingface_hub's webhook calls, and deliveries to a receiver this test
runs (pushes by git and by upload_file, a visibility change, a discussion and a comment), with the
secret header, retries after a failing answer, a manual redelivery, and the rules: an unreadable watched
repository is not found, private and metadata addresses are refused, and a private repository's events
never reach a webhook whose owner cannot read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, WebhookPayload
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from csghub.db.models import Webhook, WebhookDelivery
from csghub.services.identity import orgs
from tests.conftest import start_hub
from tests.support.browser import shot, sign_in
from tests.support.clients import git, setup_git_home
from tests.support.live import LiveHub
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Receiver, running_receiver

# Loopback receivers allowed; failed deliveries tried again at once (three more attempts).
PASSWORD = "webhook-pass-1"
HUB_ENV = {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1", "CSGHUB_WEBHOOK_RETRY_DELAYS": "0.1,0.1,0.1"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    started = start_hub(tmp_path_factory.mktemp("webhooks") / "data", HUB_ENV)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _deliveries(hub: LiveHub, token: str, webhook_id: str) -> list[dict]:
    r = httpx.get(f"{hub.url}/api/settings/webhooks/{webhook_id}/deliveries", headers=_auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_huggingface_hub_creates_lists_updates_switches_and_deletes_webhooks(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("hooks")
    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(f"{owner}/watched")
    made = api.create_webhook(
        url=f"{receiver.url}/crud", watched=[{"type": "user", "name": owner}], domains=["repo"], secret="s3cret"
    )
    assert made.url == f"{receiver.url}/crud" and made.domains == ["repo"] and not made.disabled
    assert [(w.type, w.name) for w in made.watched] == [("user", owner)]
    assert made.secret is None  # sealed at rest, never shown back
    assert [w.id for w in api.list_webhooks()] == [made.id]
    assert api.get_webhook(made.id).url == made.url

    changed = api.update_webhook(
        made.id, url=f"{receiver.url}/crud2", watched=[{"type": "model", "name": f"{owner}/watched"}]
    )
    assert changed.url.endswith("/crud2") and [(w.type, w.name) for w in changed.watched] == [
        ("model", f"{owner}/watched")
    ]
    assert changed.domains == ["repo"]  # what the update did not name stays
    assert api.disable_webhook(made.id).disabled is True
    assert api.get_webhook(made.id).disabled is True
    assert api.enable_webhook(made.id).disabled is False

    # Another user sees none of it.
    _other, other_token = hub.user("stranger")
    with pytest.raises(HfHubHTTPError) as missing:
        HfApi(endpoint=hub.url, token=other_token).get_webhook(made.id)
    assert missing.value.response.status_code == 404
    assert HfApi(endpoint=hub.url, token=other_token).list_webhooks() == []

    api.delete_webhook(made.id)
    assert api.list_webhooks() == []
    with pytest.raises(HfHubHTTPError) as gone:
        api.get_webhook(made.id)
    assert gone.value.response.status_code == 404


def test_pushes_by_git_and_upload_file_are_delivered_with_the_secret(
    hub: LiveHub, receiver: Receiver, tmp_path: Path
) -> None:
    owner, token = hub.user("pusher")
    api = HfApi(endpoint=hub.url, token=token)
    repo = f"{owner}/pushed"
    api.create_repo(repo)
    api.create_webhook(url=f"{receiver.url}/push", watched=[{"type": "user", "name": owner}], secret="top-secret")

    env = setup_git_home(tmp_path / "home")
    work = tmp_path / "work"
    git("clone", "-q", f"http://{owner}:{token}@{hub.host()}/{repo}", str(work), cwd=tmp_path, env=env)
    (work / "notes.txt").write_text("pushed by git\n")
    git("add", "notes.txt", cwd=work, env=env)
    git("commit", "-q", "-m", "notes", cwd=work, env=env)
    before = git("rev-parse", "HEAD~1", cwd=work, env=env).stdout.strip()
    pushed = git("rev-parse", "HEAD", cwd=work, env=env).stdout.strip()
    git("push", "-q", "origin", "main", cwd=work, env=env)
    [by_git] = receiver.wait_for("/push", 1)

    assert by_git.headers["X-Webhook-Secret"] == "top-secret"
    assert by_git.headers["Content-Type"] == "application/json"
    payload = WebhookPayload.model_validate(by_git.body)  # huggingface_hub's own model of the payload
    assert (payload.event.action, payload.event.scope) == ("update", "repo.content")
    assert payload.repo.name == repo and payload.repo.type == "model" and payload.repo.private is False
    assert payload.repo.url.web == f"{hub.url}/{repo}"
    assert by_git.body["repo"]["headSha"] == pushed
    assert [(u.ref, u.oldSha, u.newSha) for u in payload.updatedRefs or []] == [("refs/heads/main", before, pushed)]

    info = api.upload_file(path_or_fileobj=b"uploaded\n", path_in_repo="up.txt", repo_id=repo)
    deliveries = receiver.wait_for("/push", 2)
    by_upload = deliveries[1].body
    assert by_upload["event"] == {"action": "update", "scope": "repo.content"}
    assert by_upload["updatedRefs"] == [{"ref": "refs/heads/main", "oldSha": pushed, "newSha": info.oid}]

    # The delivery log shows both, delivered, with the headers sent but never the secret.
    webhook_id = by_upload["webhook"]["id"]
    logged = _deliveries(hub, token, webhook_id)
    assert [d["state"] for d in logged] == ["delivered", "delivered"]
    assert logged[0]["responseStatus"] == 200 and logged[0]["responseExcerpt"] == '{"ok": true}'
    assert logged[0]["requestHeaders"]["X-Webhook-Secret"] == "(hidden)"
    assert "top-secret" not in json.dumps(logged)


def test_a_visibility_change_and_a_discussion_are_delivered(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("talker")
    api = HfApi(endpoint=hub.url, token=token)
    repo = f"{owner}/talked-about"
    api.create_repo(repo)
    api.create_webhook(url=f"{receiver.url}/config", watched=[{"type": "model", "name": repo}], domains=["repo"])
    api.create_webhook(url=f"{receiver.url}/talk", watched=[{"type": "user", "name": owner}], domains=["discussion"])

    api.update_repo_settings(repo, private=True)
    [config] = receiver.wait_for("/config", 1)
    assert config.body["event"] == {"action": "update", "scope": "repo.config"}
    assert config.body["updatedConfig"]["private"] is True and config.body["repo"]["private"] is True

    discussion = api.create_discussion(repo, title="Is this right?", description="Opening words")
    api.comment_discussion(repo, discussion.num, "A reply")
    opened, commented = receiver.wait_for("/talk", 2)
    assert opened.body["event"] == {"action": "create", "scope": "discussion"}
    assert opened.body["discussion"]["num"] == discussion.num and opened.body["discussion"]["title"] == "Is this right?"
    assert opened.body["discussion"]["status"] == "open"
    assert commented.body["event"] == {"action": "create", "scope": "discussion.comment"}
    assert commented.body["comment"]["content"] == "A reply"
    WebhookPayload.model_validate(commented.body)
    # The repository domain's webhook heard nothing of the discussion, the discussion's nothing of the change.
    assert len(receiver.at("/config")) == 1 and all(
        r.body["event"]["scope"].startswith("discussion") for r in receiver.at("/talk")
    )


def test_a_rename_and_a_deletion_are_delivered(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("mover")
    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(f"{owner}/before")
    api.create_webhook(url=f"{receiver.url}/moves", watched=[{"type": "user", "name": owner}], domains=["repo"])
    api.move_repo(f"{owner}/before", f"{owner}/after")
    api.delete_repo(f"{owner}/after")
    moved, deleted = receiver.wait_for("/moves", 2)
    assert moved.body["event"] == {"action": "move", "scope": "repo"}
    assert moved.body["repo"]["name"] == f"{owner}/before" and moved.body["movedTo"]["name"] == f"{owner}/after"
    assert deleted.body["event"] == {"action": "delete", "scope": "repo"}
    assert deleted.body["repo"]["name"] == f"{owner}/after"
    WebhookPayload.model_validate(moved.body)


def test_an_organization_is_watched_as_a_whole(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("orgowner")
    org = f"team{owner[-8:]}"
    orgs.create_org(hub.hub, org, owner=owner)
    api = HfApi(endpoint=hub.url, token=token)
    api.create_webhook(url=f"{receiver.url}/org", watched=[{"type": "org", "name": org}], domains=["repo"])
    with pytest.raises(HfHubHTTPError) as wrong_kind:  # an organization is not a user
        api.create_webhook(url=f"{receiver.url}/org", watched=[{"type": "user", "name": org}])
    assert wrong_kind.value.response.status_code == 404
    api.create_repo(f"{org}/shared", repo_type="dataset")  # no upload to it: that would start a conversion
    api.create_repo(f"{org}/weights")
    api.upload_file(path_or_fileobj=b"w\n", path_in_repo="w.txt", repo_id=f"{org}/weights")
    dataset, model, pushed = receiver.wait_for("/org", 3)
    assert dataset.body["event"] == {"action": "create", "scope": "repo"} and dataset.body["repo"]["type"] == "dataset"
    assert dataset.body["repo"]["url"]["web"] == f"{hub.url}/datasets/{org}/shared"
    assert model.body["repo"]["name"] == f"{org}/weights" and pushed.body["event"]["scope"] == "repo.content"


def test_a_read_token_may_not_manage_webhooks(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("reader", scope="read")
    r = httpx.post(
        f"{hub.url}/api/settings/webhooks",
        json={"url": f"{receiver.url}/read", "watched": [{"type": "user", "name": owner}]},
        headers=_auth(token),
        timeout=30,
    )
    assert r.status_code == 403 and r.json()["error"], r.text


def test_a_failing_receiver_is_retried_and_a_delivery_can_be_sent_again(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("flaky")
    api = HfApi(endpoint=hub.url, token=token)
    repo = f"{owner}/retried"
    api.create_repo(repo)
    receiver.answer("/flaky", 500, 500)
    made = api.create_webhook(url=f"{receiver.url}/flaky", watched=[{"type": "model", "name": repo}])

    api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=repo)
    attempts = receiver.wait_for("/flaky", 3)
    assert len({json.dumps(a.body, sort_keys=True) for a in attempts}) == 1  # the same payload each time
    wait_until(
        lambda: _deliveries(hub, token, made.id)[0]["state"] == "delivered", "the delivery to succeed", timeout=30
    )
    [logged] = _deliveries(hub, token, made.id)
    assert logged["attempts"] == 3 and logged["responseStatus"] == 200 and logged["error"] == ""

    r = httpx.post(
        f"{hub.url}/api/settings/webhooks/{made.id}/deliveries/{logged['id']}/redeliver", headers=_auth(token)
    )
    assert r.status_code == 200, r.text
    assert r.json()["delivery"]["redeliveryOf"] == logged["id"]
    again = receiver.wait_for("/flaky", 4)[3]
    assert again.body == attempts[0].body
    wait_until(lambda: _deliveries(hub, token, made.id)[0]["state"] == "delivered", "the redelivery", timeout=30)


def test_a_receiver_that_always_fails_ends_failed_after_the_retries(hub: LiveHub, receiver: Receiver) -> None:
    owner, token = hub.user("down")
    api = HfApi(endpoint=hub.url, token=token)
    repo = f"{owner}/never"
    api.create_repo(repo)
    receiver.answer("/down", 503, 503, 503, 503, 503)
    made = api.create_webhook(url=f"{receiver.url}/down", watched=[{"type": "model", "name": repo}])
    api.upload_file(path_or_fileobj=b"y\n", path_in_repo="y.txt", repo_id=repo)
    receiver.wait_for("/down", 4)
    wait_until(lambda: _deliveries(hub, token, made.id)[0]["state"] == "failed", "the delivery to fail", timeout=30)
    [logged] = _deliveries(hub, token, made.id)
    assert logged["attempts"] == 4 and logged["responseStatus"] == 503
    assert "503" in logged["error"] and logged["responseExcerpt"] == "receiver failing on purpose"


def test_watching_what_the_owner_cannot_read_is_not_found(hub: LiveHub, receiver: Receiver) -> None:
    other, other_token = hub.user("private")
    HfApi(endpoint=hub.url, token=other_token).create_repo(f"{other}/secret", private=True)
    _me, token = hub.user("snoop")
    api = HfApi(endpoint=hub.url, token=token)
    for watched in ({"type": "model", "name": f"{other}/secret"}, {"type": "org", "name": "no-such-org"}):
        with pytest.raises(HfHubHTTPError) as refused:
            api.create_webhook(url=f"{receiver.url}/snoop", watched=[watched])
        assert refused.value.response.status_code == 404
    r = httpx.post(
        f"{hub.url}/api/settings/webhooks", json={"url": f"{receiver.url}/x", "watched": "nope"}, headers=_auth(token)
    )
    assert r.status_code == 400 and "watched" in r.json()["error"]
    assert api.list_webhooks() == []


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook", "http://[::1]:9/hook", "ftp://x/"]
)
def test_private_and_metadata_targets_are_refused(hub: LiveHub, target: str) -> None:
    owner, token = hub.user("ssrf")
    r = httpx.post(
        f"{hub.url}/api/settings/webhooks",
        json={"url": target, "watched": [{"type": "user", "name": owner}]},
        headers=_auth(token),
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert r.headers["X-Error-Code"] == "OutboundRefused"


def test_a_target_refused_at_delivery_time_fails_with_the_reason(hub: LiveHub, receiver: Receiver) -> None:
    """A name checked when saved may point elsewhere later: the rules run again at every connection.
    Here the stored URL is changed under the hub, as a DNS answer would change."""
    owner, token = hub.user("rebind")
    api = HfApi(endpoint=hub.url, token=token)
    repo = f"{owner}/rebound"
    api.create_repo(repo)
    made = api.create_webhook(url=f"{receiver.url}/rebind", watched=[{"type": "model", "name": repo}])
    with hub.hub.db() as session:
        session.execute(
            update(Webhook).where(Webhook.id == int(made.id)).values(url="http://169.254.169.254/latest/meta-data")
        )
    api.upload_file(path_or_fileobj=b"z\n", path_in_repo="z.txt", repo_id=repo)
    wait_until(lambda: _deliveries(hub, token, made.id)[0]["state"] == "failed", "the delivery to fail", timeout=30)
    [logged] = _deliveries(hub, token, made.id)
    assert logged["attempts"] == 4 and logged["responseStatus"] is None
    assert "169.254.169.254" in logged["error"] and "link-local" in logged["error"]
    assert receiver.at("/rebind") == []


def test_loopback_is_refused_where_it_is_not_allowed(tmp_path: Path) -> None:
    plain = start_hub(tmp_path / "plain")
    try:
        owner, token = plain.user("local")
        for target in ("http://localhost:8080/hook", "http://127.0.0.1:8080/hook", "http://2130706433/hook"):
            r = httpx.post(
                f"{plain.url}/api/settings/webhooks",
                json={"url": target, "watched": [{"type": "user", "name": owner}]},
                headers=_auth(token),
                timeout=30,
            )
            assert r.status_code == 400 and r.headers["X-Error-Code"] == "OutboundRefused", (target, r.text)
    finally:
        plain.stop()


def test_private_repositories_never_reach_a_webhook_whose_owner_cannot_read_them(
    hub: LiveHub, receiver: Receiver
) -> None:
    author, author_token = hub.user("author")
    author_api = HfApi(endpoint=hub.url, token=author_token)
    author_api.create_repo(f"{author}/open")
    author_api.create_repo(f"{author}/closed", private=True)
    _watcher, token = hub.user("watcher")
    made = HfApi(endpoint=hub.url, token=token).create_webhook(
        url=f"{receiver.url}/watcher", watched=[{"type": "user", "name": author}]
    )
    # The author watches too: what the watcher must not hear of reaches the author, so it did happen.
    author_api.create_webhook(url=f"{receiver.url}/author", watched=[{"type": "user", "name": author}])

    author_api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="s.txt", repo_id=f"{author}/closed")
    author_api.upload_file(path_or_fileobj=b"open\n", path_in_repo="o.txt", repo_id=f"{author}/open")
    [first] = receiver.wait_for("/watcher", 1)
    assert first.body["repo"]["name"] == f"{author}/open"

    # A delivery queued while the watcher could read the repository, whose retry comes after it turned
    # private: the check at delivery time stops it.
    receiver.answer("/watcher", 500)
    receiver.hold("/watcher")
    author_api.upload_file(path_or_fileobj=b"more\n", path_in_repo="m.txt", repo_id=f"{author}/open")
    receiver.wait_for("/watcher", 2)
    author_api.update_repo_settings(f"{author}/open", private=True)
    receiver.release("/watcher")
    receiver.wait_for("/author", 4)  # closed, open, more, the visibility change

    def skipped() -> bool:
        with hub.hub.db() as session:
            states = session.scalars(select(WebhookDelivery.state).where(WebhookDelivery.webhook_id == int(made.id)))
            return sorted(states) == ["delivered", "skipped"]

    wait_until(skipped, "the retry to be skipped", timeout=30)
    assert [r.body["repo"]["name"] for r in receiver.at("/watcher")] == [f"{author}/open"] * 2
    # Nor does the delivery log show the watcher anything of the now private repository.
    assert _deliveries(hub, token, made.id) == []


def test_the_portal_adds_a_webhook_shows_its_deliveries_and_redelivers(
    browser: Browser, hub: LiveHub, receiver: Receiver
) -> None:
    name, token = hub.user("portal", password=PASSWORD)
    context, page, problems = sign_in(browser, hub.url, name, PASSWORD)
    page.goto(f"{hub.url}/settings")
    page.click("#webhooks a")
    expect(page.locator("main h1")).to_have_text("Webhooks")
    page.fill("input[name=url]", f"{receiver.url}/portal")
    page.fill("textarea[name=watched]", f"user:{name}")
    page.fill("input[name=secret]", "from-the-form")
    page.click("#new-webhook button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Webhook created")
    webhook_page = page.url

    HfApi(endpoint=hub.url, token=token).create_repo(f"{name}/from-portal")
    [created] = receiver.wait_for("/portal", 1)
    assert created.body["event"] == {"action": "create", "scope": "repo"}
    assert created.headers["X-Webhook-Secret"] == "from-the-form"
    wait_until(
        lambda: _deliveries(hub, token, webhook_page.rsplit("/", 1)[1])[0]["state"] == "delivered", "it", timeout=30
    )
    page.goto(webhook_page)
    row = page.locator("tr[data-delivery]")
    expect(row).to_have_count(1)
    expect(row.first).to_have_attribute("data-state", "delivered")
    assert "from-the-form" not in page.content()  # the secret is never shown back
    shot(page, "webhook-deliveries")
    row.first.locator("button", has_text="Redeliver").click()
    expect(page.locator("p.notice")).to_have_text("Delivery queued again")
    assert receiver.wait_for("/portal", 2)[1].body == created.body

    page.click("button:has-text('Disable')")
    expect(page.locator("p.notice")).to_have_text("Webhook disabled")
    expect(page.locator("main h1 .badge")).to_have_text("Disabled")
    page.click("button:has-text('Delete')")
    expect(page.locator("p.notice")).to_have_text("Webhook deleted")
    expect(page.locator("tr[data-webhook]")).to_have_count(0)

    # The same page in Chinese.
    context.add_cookies([{"name": "lang", "value": "zh", "url": hub.url}])
    page.goto(f"{hub.url}/settings/webhooks")
    expect(page.locator("#new-webhook h2")).to_have_text("添加 Webhook")
    assert problems == []
    context.close()
