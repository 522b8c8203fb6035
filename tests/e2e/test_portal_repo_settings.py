"""Repository management in a real browser (Debian's Chromium through Playwright) against a live hub:
an owner changes visibility, gates the files and accepts a request, adds a collaborator who then edits a
file, renames and deletes the repository, creates and deletes a branch, and reads a commit's diff.
Screenshots of the settings and diff pages land in docs/screenshots/."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import shot, sign_in, watch
from tests.support.clients import create_repo, write_file
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "settings passphrase 9"
SUBMIT = "button[type=submit]"


def _signed_in(browser: Browser, live: LiveHub, name: str) -> tuple[BrowserContext, Page]:
    context, page, _ = sign_in(browser, live.url, name, PASSWORD, height=900)
    # Every dialog a form asks (remove, delete) is answered yes.
    page.on("dialog", lambda dialog: dialog.accept())
    return context, page


def _owner_with_repo(live: LiveHub, repo: str = "demo", *, private: bool = False) -> tuple[str, str, str]:
    owner, token = live.user("own", password=PASSWORD)
    create_repo(live.url, token, f"{owner}/{repo}", private=private)
    write_file(
        live.url, token, f"{owner}/{repo}", "README.md", f"# {repo}\n\nThis model repository was created on CSGHub.\n"
    )
    return owner, token, f"{live.url}/{owner}/{repo}"


def test_owner_makes_a_repository_private_and_a_stranger_gets_the_404_page(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live)
    stranger, _ = live.user("str", password=PASSWORD)
    context, page = _signed_in(browser, live, owner)
    problems = watch(page)
    page.goto(base)
    page.click("nav.tabs >> text=Settings")
    page.wait_for_url(f"{base}/settings")
    expect(page.locator("#visibility input[value=public]")).to_be_checked()

    other, seen = _signed_in(browser, live, stranger)
    seen.goto(base)
    assert seen.locator("nav.tabs a", has_text="Settings").count() == 0, "only admins see the Settings tab"
    forbidden = seen.goto(f"{base}/settings")
    assert forbidden is not None and forbidden.status == 403
    expect(seen.locator(".error-page")).to_contain_text("You are not allowed to admin")

    page.check("#visibility input[value=private]")
    page.click(f"#visibility {SUBMIT}")
    expect(page.locator("p.notice")).to_have_text("Visibility saved")
    expect(page.locator(".repo-head .badge")).to_have_text("Private")
    page.reload()
    assert page.locator("p.notice").count() == 0, "the notice is shown once"

    for url in (base, f"{base}/settings", f"{base}/branches"):
        hidden = seen.goto(url)
        assert hidden is not None and hidden.status == 404
        expect(seen.locator("h1")).to_have_text("Page not found")
    anonymous = httpx.get(base)
    assert anonymous.status_code == 404 and "Page not found" in anonymous.text
    # Signed out, settings ask for a sign-in first, the same for every path: nothing is given away.
    sign_in = httpx.get(f"{base}/settings")
    assert sign_in.status_code == 303 and sign_in.headers["location"] == f"/login?next=/{owner}/demo/settings"
    assert problems == []
    other.close()
    context.close()


def test_manual_gating_request_accepted_in_settings_opens_the_files(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live)
    asker, asker_token = live.user("ask", password=PASSWORD)
    context, page = _signed_in(browser, live, owner)
    page.goto(f"{base}/settings")
    page.select_option("#gating select[name=gated]", "manual")
    page.click(f"#gating {SUBMIT}")
    expect(page.locator("p.notice")).to_have_text("Access requests saved")
    expect(page.locator(".repo-head")).to_contain_text("Gated")
    expect(page.locator("#gating")).to_contain_text("Pending (0)")

    resolve = f"{live.url}/{owner}/demo/resolve/main/README.md"
    refused = httpx.get(resolve, headers={"authorization": f"Bearer {asker_token}"})
    assert refused.status_code == 403 and refused.headers["x-error-code"] == "GatedRepo"

    other, seen = _signed_in(browser, live, asker)
    # The history is public, the changed lines are file contents: those wait for the owner's yes.
    seen.goto(f"{base}/commits/main")
    seen.click(".commits li >> nth=0 >> a.title")
    expect(seen.locator(".file-diff", has_text="README.md")).to_contain_text("Request access to this repository")
    assert seen.locator("table.diff").count() == 0
    seen.goto(f"{base}/blob/main/.gitattributes")
    expect(seen.locator(".blob")).to_have_text("Request access to this repository to see the contents of its files.")
    seen.goto(base)
    seen.click("#gate button:has-text('Request access')")
    seen.wait_for_url(base)
    expect(seen.locator("#gate")).to_contain_text("Your request is pending")
    assert seen.locator("#gate button").count() == 0

    page.reload()
    row = page.locator(f"table.requests.pending tr[data-user={asker}]")
    expect(row).to_contain_text(f"{asker}@example.com")
    row.locator("button:has-text('Accept')").click()
    expect(page.locator("p.notice")).to_have_text("Request accepted")
    expect(page.locator(f"table.requests.accepted tr[data-user={asker}]")).to_be_visible()
    expect(page.locator("#gating")).to_contain_text("Pending (0)")
    shot(page, "repository-settings")

    fetched = httpx.get(resolve, headers={"authorization": f"Bearer {asker_token}"}, follow_redirects=True)
    assert fetched.status_code == 200 and "# demo" in fetched.text
    seen.goto(f"{base}/blob/main/.gitattributes")
    expect(seen.locator(".blob")).to_contain_text("filter=lfs")
    seen.goto(base)
    expect(seen.locator("#gate")).to_contain_text("You have access")

    # Rejecting takes the files away again.
    page.locator(f"table.requests.accepted tr[data-user={asker}] button:has-text('Reject')").click()
    expect(page.locator(f"table.requests.rejected tr[data-user={asker}]")).to_be_visible()
    again = httpx.get(resolve, headers={"authorization": f"Bearer {asker_token}"})
    assert again.status_code == 403
    other.close()
    context.close()


def test_a_collaborator_given_write_edits_a_file_in_the_browser(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live, private=True)
    helper, _ = live.user("col", password=PASSWORD)
    context, page = _signed_in(browser, live, owner)
    page.goto(f"{base}/settings")
    page.fill("#collaborators input[name=user]", "nobody-at-all")
    page.click(f"#collaborators form.row-form {SUBMIT}")
    expect(page.locator("p.error")).to_contain_text("nobody-at-all")

    page.fill("#collaborators input[name=user]", helper)
    page.select_option("#collaborators form.row-form select[name=role]", "write")
    page.click(f"#collaborators form.row-form {SUBMIT}")
    expect(page.locator("p.notice")).to_have_text("Collaborator saved")
    expect(page.locator(f"#collaborators tr[data-user={helper}] select")).to_have_value("write")

    other, theirs = _signed_in(browser, live, helper)
    theirs.goto(f"{base}/edit/main/README.md")
    theirs.fill("textarea[name=content]", "# demo\n\nEdited by a collaborator.\n")
    theirs.fill("input[name=summary]", "Collaborator edit")
    theirs.click(f"main form {SUBMIT}")
    theirs.wait_for_url(f"{base}/blob/main/README.md")
    expect(theirs.locator("article, .blob").first).to_contain_text("Edited by a collaborator.")
    assert theirs.locator("nav.tabs a", has_text="Settings").count() == 0, "write is not admin"

    # Down to read (the select submits itself), then removed: the repository disappears for them.
    page.select_option(f"#collaborators tr[data-user={helper}] select", "read")
    expect(page.locator("p.notice")).to_have_text("Collaborator saved")
    expect(page.locator(f"#collaborators tr[data-user={helper}] select")).to_have_value("read")
    # A reader may only propose a change: the edit page turns it into a pull request.
    proposal = theirs.goto(f"{base}/edit/main/README.md")
    assert proposal is not None and proposal.status == 200
    expect(theirs.locator("p.pull-option")).to_contain_text("proposed as a pull request")
    page.click(f"#collaborators tr[data-user={helper}] button:has-text('Remove')")
    expect(page.locator("p.notice")).to_have_text("Collaborator removed")
    expect(page.locator("#collaborators")).to_contain_text("No collaborators yet.")
    gone = theirs.goto(base)
    assert gone is not None and gone.status == 404
    other.close()
    context.close()


def test_renaming_moves_the_pages_and_the_old_url_is_gone(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live)
    context, page = _signed_in(browser, live, owner)
    page.goto(f"{base}/settings")
    page.fill("#rename input[name=new_name]", f"{owner}/no such/name")
    page.click(f"#rename {SUBMIT}")
    expect(page.locator("p.error")).to_contain_text("Invalid repo id")

    page.fill("#rename input[name=new_name]", f"{owner}/renamed")
    page.click(f"#rename {SUBMIT}")
    page.wait_for_url(f"{live.url}/{owner}/renamed/settings")
    expect(page.locator("p.notice")).to_have_text("Repository renamed")
    expect(page.locator(".repo-head h1")).to_contain_text("renamed")
    old = page.goto(base)
    assert old is not None and old.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    new = page.goto(f"{live.url}/{owner}/renamed")
    assert new is not None and new.status == 200
    expect(page.locator("article.card h1")).to_have_text("demo")
    context.close()


def test_deleting_needs_the_full_name_typed(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live, "doomed")
    context, page = _signed_in(browser, live, owner)
    page.goto(f"{base}/settings")
    page.fill("#delete input[name=confirm]", "doomed")
    page.click(f"#delete {SUBMIT}")
    expect(page.locator("p.error")).to_have_text(f"Type {owner}/doomed to confirm that you want to delete it")
    still = httpx.get(base)
    assert still.status_code == 200 and "doomed" in still.text

    page.fill("#delete input[name=confirm]", f"{owner}/doomed")
    page.click(f"#delete {SUBMIT}")
    page.wait_for_url(f"{live.url}/{owner}")
    gone = page.goto(base)
    assert gone is not None and gone.status == 404
    assert httpx.get(f"{live.url}/api/models/{owner}/doomed").status_code in (401, 404)
    context.close()


def test_branches_are_created_from_a_revision_and_deleted(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live)
    context, page = _signed_in(browser, live, owner)
    problems = watch(page)
    page.goto(base)
    page.click("nav.tabs >> text=Branches")
    page.wait_for_url(f"{base}/branches")
    main = page.locator("tr[data-branch=main]")
    expect(main).to_contain_text("Default")
    assert main.locator("button").count() == 0, "the default branch cannot be deleted"

    page.fill("#new-branch input[name=branch]", "bad..name")
    page.click(f"#new-branch {SUBMIT}")
    expect(page.locator("p.error")).to_contain_text("Invalid branch name")
    page.fill("#new-branch input[name=branch]", "dev")
    page.fill("#new-branch input[name=start]", "main")
    page.click(f"#new-branch {SUBMIT}")
    page.wait_for_url(f"{base}/branches")
    dev = page.locator("tr[data-branch=dev]")
    expect(dev).to_be_visible()
    assert dev.locator("code").inner_text() == main.locator("code").inner_text()
    page.click("tr[data-branch=dev] a:has-text('dev')")
    page.wait_for_url(f"{base}/tree/dev")
    expect(page.locator("table.files")).to_contain_text("README.md")

    page.goto(f"{base}/branches")
    page.click("tr[data-branch=dev] button:has-text('Delete')")
    page.wait_for_url(f"{base}/branches")
    expect(page.locator("tr[data-branch=dev]")).to_have_count(0)
    missing = page.goto(f"{base}/tree/dev")
    assert missing is not None and missing.status == 404
    assert problems == []
    context.close()


def test_a_commit_page_shows_the_changed_lines(browser: Browser, live: LiveHub) -> None:
    owner, _, base = _owner_with_repo(live)
    context, page = _signed_in(browser, live, owner)
    problems = watch(page)
    page.goto(f"{base}/edit/main/README.md")
    original = page.input_value("textarea[name=content]")
    assert "This model repository was created on CSGHub." in original
    page.fill("textarea[name=content]", original.replace("was created on CSGHub", "now has a diff page"))
    page.fill("input[name=summary]", "Say what changed")
    page.fill("textarea[name=description]", "A longer explanation.")
    page.click(f"main form {SUBMIT}")
    page.wait_for_url(f"{base}/blob/main/README.md")

    page.click("nav.tabs >> text=Commits")
    page.click(".commits li >> nth=0 >> a.title")
    expect(page.locator(".commit-title")).to_have_text("Say what changed")
    expect(page.locator(".commit-body")).to_have_text("A longer explanation.")
    expect(page.locator(".commit-head")).to_contain_text(owner)
    sha = page.url.rsplit("/", 1)[1]
    assert len(sha) == 40
    diff = page.locator(".file-diff", has_text="README.md")
    expect(diff.locator("tr.add")).to_have_text(["3+This model repository now has a diff page."])
    expect(diff.locator("tr.del")).to_have_text(["3-This model repository was created on CSGHub."])
    expect(diff.locator(".file-diff-head")).to_contain_text("+1 -1")
    assert page.evaluate(
        "getComputedStyle(document.querySelector('tr.add')).backgroundColor"
        " !== getComputedStyle(document.querySelector('tr.del')).backgroundColor"
    ), "added and removed lines are coloured apart"
    assert page.locator("[style]").count() == 0, "no inline styles"
    shot(page, "commit-diff")

    page.click(".parents a >> nth=0")
    expect(page.locator(".commit-title")).to_have_text("Add README.md")
    page.click(".parents a >> nth=0")
    expect(page.locator(".commit-title")).to_have_text("Initial commit")
    expect(page.locator(".parents")).to_contain_text("The first commit of this repository.")
    expect(page.locator(".file-diff-head .badge").first).to_have_text("Added")
    expect(page.locator(".file-diff", has_text=".gitattributes")).to_be_visible()
    bogus = page.goto(f"{base}/commit/{'0' * 40}")
    assert bogus is not None and bogus.status == 404
    assert problems == []
    context.close()


def test_dataset_settings_and_branches_live_under_datasets_and_speak_chinese(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("dso", password=PASSWORD)
    # A dataset named "settings" keeps its page: the settings routes never shadow a repository.
    create_repo(live.url, token, f"{owner}/settings", repo_type="dataset")
    base = f"{live.url}/datasets/{owner}/settings"
    context, page = _signed_in(browser, live, owner)
    page.goto(base)
    expect(page.locator(".repo-head h1")).to_contain_text(f"{owner} / settings")
    # A new repository has no README: the card says how to add one, with a link for those who may.
    expect(page.locator("#empty-card")).to_contain_text("This repository has no README yet.")
    expect(page.locator("#empty-card a.button")).to_have_attribute("href", f"/datasets/{owner}/settings/new/main")
    page.click("nav.tabs >> text=Settings")
    page.wait_for_url(f"{base}/settings")
    page.click("a.lang")
    expect(page.locator("#visibility h2")).to_have_text("可见性")
    expect(page.locator("#delete button")).to_have_text("删除此仓库")
    page.check("#visibility input[value=internal]")
    page.click(f"#visibility {SUBMIT}")
    expect(page.locator("p.notice")).to_have_text("可见性已保存")
    page.goto(f"{base}/branches")
    expect(page.locator("#branches h2")).to_contain_text("分支")
    page.fill("#new-branch input[name=branch]", "v2")
    page.click(f"#new-branch {SUBMIT}")
    expect(page.locator("tr[data-branch=v2]")).to_be_visible()
    page.click("a.lang")
    context.close()
