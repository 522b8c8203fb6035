"""Mirroring in a real browser (Debian's Chromium through Playwright) against two live hubs, one the
upstream of the other on loopback (allowed on the mirroring hub by outbound_allow_hosts): a site admin
adds a source (its token shows only as "set"), creates a mirror of a model with an LFS file from
"+ New" → "New mirror", lands on the mirror's page, sees its first sync finish in the panel (source,
upstream, last sync with the commit), presses Sync now and sees the second task on the admin's tasks
page; the mirror's pages offer no upload, edit or new branch. Someone who is not a site administrator
sees neither the admin pages nor "New mirror" (mirror_creators = "admins"); with "users", a user mirrors
into their own namespace and not into another's. The panel speaks Chinese.
Screenshots land in docs/screenshots/."""

from __future__ import annotations

import secrets

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, expect

from csghub.core.names import RepoId, RepoType
from csghub.services.identity import accounts
from csghub.services.mirrors import mirrors, sources
from csghub.services.permissions import Actor
from tests.conftest import LiveHubFactory
from tests.support.browser import shot, sign_in
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "mirror passphrase 7"
SYNC_TIMEOUT = 120.0  # a bound: a sync is a job process that clones and fetches LFS on a loaded 2-core machine
WEIGHTS = secrets.token_bytes(200_000)


def _upstream_model(upstream: LiveHub) -> str:
    """A model on the upstream hub with a README and an LFS file, made with huggingface_hub."""
    owner, token = upstream.user("up")
    api = HfApi(endpoint=upstream.url, token=token)
    repo = f"{owner}/tiny"
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"# Tiny\n\nA model to mirror.\n", path_in_repo="README.md", repo_id=repo)
    api.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="weights.bin", repo_id=repo)
    return repo


def _admin(live: LiveHub) -> str:
    name = f"root{secrets.token_hex(3)}"
    accounts.create_user(live.hub, name, email=f"{name}@example.com", password=PASSWORD, is_admin=True)
    return name


def _user_id(live: LiveHub, name: str) -> int:
    found = accounts.find_user_view(live.hub, name)
    assert found is not None
    return found.id


def _task_state(live: LiveHub, repo: str) -> str:
    view = mirrors.get_mirror(live.hub, Actor(user_id=0, is_admin=True), RepoType.MODEL, RepoId.parse(repo))
    return view.task.state if view.task is not None else ""


def _finished_tasks(live: LiveHub, repo: str) -> int:
    admin = Actor(user_id=0, is_admin=True)
    view = mirrors.get_mirror(live.hub, admin, RepoType.MODEL, RepoId.parse(repo))
    found, _ = mirrors.list_tasks(live.hub, admin, mirror_id=view.id, state="finished")
    if view.task is not None and view.task.state == "failed":
        raise AssertionError(f"the sync failed: {view.task.reason}")
    return len(found)


@pytest.fixture
def hubs(live_hub_factory: LiveHubFactory) -> tuple[LiveHub, LiveHub]:
    upstream = live_hub_factory()
    downstream = live_hub_factory({"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    return upstream, downstream


def test_admin_mirrors_a_model_and_syncs_it_again_from_the_portal(
    browser: Browser, hubs: tuple[LiveHub, LiveHub]
) -> None:
    upstream, live = hubs
    upstream_repo = _upstream_model(upstream)
    admin = _admin(live)
    context, page, problems = sign_in(browser, live.url, admin, PASSWORD)

    # Sources: add one with a token; the list and the form say "set", never the token.
    page.click("header a.admin-link")
    page.click("nav.admin-tabs a:has-text('Mirrors')")
    page.click("#mirror-tabs a:has-text('Sources')")
    page.wait_for_url(f"{live.url}/admin/mirrors/sources")
    # Cloud metadata is refused by the outbound rules; the form comes back with the reason, without the token.
    page.fill("#source-form input[name=name]", "metadata")
    page.fill("#source-form input[name=base_url]", "http://169.254.169.254/")
    page.fill("#source-form input[name=token]", "hf_typed_secret_456")
    page.click("#source-form button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("169.254.169.254")
    expect(page.locator("#source-form input[name=name]")).to_have_value("metadata")
    assert page.input_value("#source-form input[name=token]") == ""
    assert "hf_typed_secret_456" not in page.content()
    assert page.locator("#source-list tr[data-source]").count() == 0
    page.fill("#source-form input[name=name]", "upstream")
    page.fill("#source-form input[name=base_url]", upstream.url)
    page.fill("#source-form input[name=token]", "hf_not_a_real_token_123")
    page.click("#source-form button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Source added")
    row = page.locator("#source-list tr[data-source=upstream]")
    expect(row.locator(".token-state")).to_have_text("set")
    assert "hf_not_a_real_token_123" not in page.content()
    row.locator("a:has-text('Edit')").click()
    expect(page.locator("#token-state")).to_have_text("(set)")
    assert page.input_value("#source-form input[name=token]") == ""
    # An anonymous upstream: the token is removed, so the public model syncs without one.
    page.check("#source-form input[name=clear_token]")
    page.click("#source-form button[type=submit]")
    expect(page.locator("p.notice")).to_have_text("Source saved")
    expect(row.locator(".token-state")).to_have_text("not set")
    shot(page, "admin-mirror-sources")

    # "+ New" → "New mirror": the local name defaults to the upstream's, in the admin's namespace.
    page.click("header a:has-text('New')")
    page.click("#new-mirror")
    page.wait_for_url(f"{live.url}/new/mirror")
    page.select_option("select[name=source]", "upstream")
    page.fill("input[name=upstream]", upstream_repo)
    page.select_option("select[name=namespace]", admin)
    page.select_option("select[name=interval_seconds]", "3600")
    page.click("#mirror-form button[type=submit]")
    local = f"{admin}/tiny"
    page.wait_for_url(f"{live.url}/{local}")
    expect(page.locator("#mirror-panel")).to_be_visible()
    expect(page.locator("#mirror-source")).to_have_text("upstream")
    # The source is on loopback: its id is plain text, not a link into the inside of the network.
    expect(page.locator("#mirror-upstream")).to_have_text(upstream_repo)
    assert page.locator("#mirror-upstream a").count() == 0
    expect(page.locator("#mirror-badge")).to_be_visible()

    # The page follows the sync by itself (static/mirrors.js) and reloads when it ends.
    panel = page.locator("#mirror-panel")
    expect(panel).to_have_attribute("data-mirror-state", "finished", timeout=SYNC_TIMEOUT * 1000)
    assert _finished_tasks(live, local) == 1
    expect(page.locator("#mirror-task .mirror-state")).to_have_text("Finished")
    expect(page.locator("#mirror-last-sync")).not_to_have_text("Never")
    expect(page.locator("#mirror-last-sync code")).to_have_count(1)
    expect(page.locator("#mirror-next-sync")).to_contain_text("UTC")
    expect(page.locator(".mirror-interval select option:checked")).to_have_text("Every hour")
    expect(page.locator("article.card")).to_contain_text("A model to mirror.")
    shot(page, "mirror-panel")

    # Read-only: no upload, add-file or new-branch offered; the note says why.
    page.click("nav.tabs a:has-text('Files and versions')")
    expect(page.locator("main")).to_contain_text("weights.bin")
    assert page.locator("a:has-text('Upload files')").count() == 0
    assert page.locator("a:has-text('Add file')").count() == 0
    expect(page.locator("#mirror-note")).to_have_text(
        f"A read-only mirror of upstream:{upstream_repo}: its content changes only when it syncs."
    )
    page.goto(f"{live.url}/{local}/blob/main/README.md")
    expect(page.locator("main")).to_contain_text("A model to mirror.")
    assert page.locator("main a:has-text('Edit')").count() == 0
    page.goto(f"{live.url}/{local}")
    page.click("nav.tabs a:has-text('Branches')")
    assert page.locator("main form input[name=branch]").count() == 0

    # Sync now queues a second task, which the admin's tasks page lists and which finishes too.
    page.goto(f"{live.url}/{local}")
    page.click("#mirror-sync-now")
    page.wait_for_url(f"{live.url}/{local}")
    expect(page.locator("#mirror-task")).to_be_visible()
    wait_until(lambda: _finished_tasks(live, local) >= 2, "Sync now's task to finish", timeout=SYNC_TIMEOUT, poll=0.2)
    page.goto(f"{live.url}/admin/mirrors/tasks?state=finished")
    tasks = page.locator(f"#task-list tr[data-state=finished]:has(a:has-text('{local}'))")
    expect(tasks).to_have_count(2)
    expect(page.locator("#task-list")).to_contain_text("manual")
    expect(page.locator("#task-list")).to_contain_text("create")
    shot(page, "admin-mirror-tasks")
    tasks.first.locator("a:has-text('Logs')").click()
    expect(page.locator("#task-log")).to_contain_text("history fetched")
    expect(page.locator("#task-log")).to_contain_text("synced 1 ref(s)")
    page.goto(f"{live.url}/admin/mirrors")
    expect(page.locator(f"#mirror-list tr[data-mirror='{local}']")).to_contain_text("upstream")

    # Pause: the panel says so and offers Resume.
    page.goto(f"{live.url}/{local}")
    page.click("#mirror-pause")
    expect(page.locator("#mirror-paused")).to_be_visible()
    expect(page.locator("#mirror-next-sync")).to_have_text("Paused")
    expect(page.locator("#mirror-pause")).to_have_text("Resume")

    # The interval, from the panel.
    page.select_option(".mirror-interval select", "86400")
    page.click(".mirror-interval button[type=submit]")
    expect(page.locator(".mirror-interval select option:checked")).to_have_text("Every day")

    # A mirror of a repository the upstream lacks fails with its reason, on the tasks page and on its
    # panel; Retry queues it again.
    page.goto(f"{live.url}/new/mirror")
    page.fill("input[name=upstream]", f"{upstream_repo}-missing")
    page.fill("input[name=name]", "missing")
    page.click("#mirror-form button[type=submit]")
    page.wait_for_url(f"{live.url}/{admin}/missing")
    expect(page.locator("#mirror-task .mirror-state")).to_have_text("Failed", timeout=SYNC_TIMEOUT * 1000)
    assert _task_state(live, f"{admin}/missing") == "failed"
    expect(page.locator("#mirror-task [data-reason]")).not_to_be_empty()
    page.goto(f"{live.url}/admin/mirrors/tasks?state=failed")
    failed = page.locator(f"#task-list tr:has(a:has-text('{admin}/missing'))")
    expect(failed.locator("[data-reason]")).not_to_be_empty()
    failed.locator("button:has-text('Retry')").click()
    expect(page.locator("p.notice")).to_have_text("Task queued again")
    shot(page, "admin-mirror-tasks-failed")

    # In Chinese.
    page.goto(f"{live.url}/lang/zh?next=/{local}")
    expect(page.locator("#mirror-panel h2")).to_contain_text("镜像")
    expect(page.locator("#mirror-sync-now")).to_have_text("立即同步")
    assert problems == []
    context.close()


def test_non_admin_sees_no_mirror_admin_pages_nor_new_mirror(browser: Browser, live: LiveHub) -> None:
    user, _ = live.user("plain", password=PASSWORD)
    context, page, problems = sign_in(browser, live.url, user, PASSWORD)
    for path in ("/admin/mirrors", "/admin/mirrors/sources", "/admin/mirrors/tasks", "/admin/mirrors/tasks/1/logs"):
        refused = page.goto(f"{live.url}{path}")
        assert refused is not None and refused.status in (403, 404), path
        assert page.locator("table.admin-table").count() == 0
    page.goto(f"{live.url}/new")
    expect(page.locator("main h1")).to_have_text("New repository")
    assert page.locator("#new-mirror").count() == 0
    missing = page.goto(f"{live.url}/new/mirror")
    assert missing is not None and missing.status == 404
    assert problems == []
    context.close()


def test_users_create_mirrors_into_their_namespace_when_mirror_creators_is_users(
    browser: Browser, live_hub_factory: LiveHubFactory
) -> None:
    live = live_hub_factory({"CSGHUB_MIRROR_CREATORS": "users", "CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    admin = accounts.actor_from_user_id(live.hub, _user_id(live, _admin(live)))
    sources.create_source(live.hub, admin, sources.SourceSpec(name="peer", base_url=live.url))
    user, _ = live.user("maker", password=PASSWORD)
    context, page, problems = sign_in(browser, live.url, user, PASSWORD)
    page.goto(f"{live.url}/new")
    page.click("#new-mirror")
    # A user picks a source by name; its URL and token stay the administrators'.
    expect(page.locator("select[name=source] option")).to_have_text(["peer"])
    assert live.url not in page.content()
    page.fill("input[name=upstream]", "someone/model")
    page.fill("input[name=name]", "copy")
    page.click("#mirror-form button[type=submit]")
    page.wait_for_url(f"{live.url}/{user}/copy")
    expect(page.locator("#mirror-source")).to_have_text("peer")
    expect(page.locator("#mirror-upstream")).to_have_text("someone/model")
    expect(page.locator("#mirror-sync-now")).to_be_visible()  # the owner manages their mirror
    # A space's page (its own template) has the panel too.
    page.goto(f"{live.url}/new/mirror")
    page.select_option("select[name=repo_type]", "space")
    page.fill("input[name=upstream]", "someone/demo")
    page.click("#mirror-form button[type=submit]")
    page.wait_for_url(f"{live.url}/spaces/{user}/demo")
    expect(page.locator("#mirror-panel #mirror-upstream")).to_have_text("someone/demo")
    expect(page.locator("#mirror-badge")).to_be_visible()
    # Not into someone else's namespace: the form says why, and keeps what was typed.
    page.goto(f"{live.url}/new/mirror")
    page.evaluate("document.querySelector('select[name=namespace] option').value = 'root'")
    page.fill("input[name=upstream]", "someone/model")
    page.click("#mirror-form button[type=submit]")
    expect(page.locator("p.error")).to_be_visible()
    expect(page.locator("input[name=upstream]")).to_have_value("someone/model")
    assert problems == []
    context.close()
