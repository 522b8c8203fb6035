"""The portal in a real browser (Debian's Chromium driven by Playwright) against a live hub: a new
person signs up, finds a model by search and filters, reads its card (hostile HTML stays inert), copies
the clone command and uses it, browses and downloads files, switches language and theme; a stranger
gets a 404 page for a private model. Screenshots of the main pages land in docs/screenshots/."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.conftest import LiveHubFactory
from tests.support.browser import shot, watch
from tests.support.clients import client_env, git
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "portal passphrase 7"
HOSTILE_README = """---
license: mit
pipeline_tag: text-classification
library_name: transformers
language: [en]
---
# demo

A **tiny** classifier.

<script>window.__pwned = "script"</script>
<img src="/nothing.png" onerror="window.__pwned = 'onerror'">
<a href="javascript:window.__pwned = 'link'">click me</a>
<div style="position:fixed;inset:0" onclick="window.__pwned = 'click'">overlay</div>

```python
print("hello")
```
"""
TRAIN_PY = b"import torch\n\nprint(torch.__version__)\n"


def _context(browser: Browser, live: LiveHub, **options: object) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True, **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    return context


def test_new_user_signs_up_finds_reads_copies_and_downloads(browser: Browser, live: LiveHub, tmp_path: Path) -> None:
    name = f"web{secrets.token_hex(3)}"
    context = _context(browser, live)
    page = context.new_page()
    problems = watch(page)

    page.goto(f"{live.url}/join")
    shot(page, "sign-up")
    page.fill("input[name=username]", name)
    page.fill("input[name=email]", f"{name}@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    expect(page.locator("a.me")).to_have_text(name)

    page.click("header a:has-text('New')")
    page.select_option("select[name=type]", "model")
    page.fill("input[name=name]", "demo")
    page.select_option("select[name=license]", "mit")
    page.check("input[name=visibility][value=public]")
    shot(page, "new-repository")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{name}/demo")

    # A token is shown once, on the page that made it.
    page.click("header a:has-text('Settings')")
    page.fill("#tokens input[name=name]", "laptop")
    page.select_option("#tokens select[name=scope]", "write")
    page.click("#tokens button:has-text('Create token')")
    token = page.inner_text("#new-token")
    assert token.startswith("csg_")
    page.reload()
    assert page.locator("#new-token").count() == 0 and token not in page.content()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    page.fill("#keys input[name=name]", "laptop")
    page.fill("#keys textarea[name=content]", (tmp_path / "key.pub").read_text())
    page.click("#keys button:has-text('Add SSH key')")
    expect(page.locator("#keys table")).to_contain_text("SHA256:")
    shot(page, "settings")

    # Files arrive by drag and drop; a big one goes to LFS storage as a push would send it.
    page.goto(f"{live.url}/{name}/demo/tree/main")
    page.click("text=Upload files")
    page.wait_for_url(f"{live.url}/{name}/demo/upload/main")
    # Wait for the page's load event: until upload.js has run, a drop or a file choice goes nowhere.
    page.wait_for_url(f"{live.url}/{name}/demo/upload/main")
    dropped = page.evaluate_handle(
        "(text) => { const dt = new DataTransfer(); dt.items.add(new File([text], 'train.py')); return dt; }",
        TRAIN_PY.decode(),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    expect(page.locator("[data-chosen] li")).to_contain_text(["train.py"])
    page.fill("input[name=folder]", "src")
    page.fill("input[name=summary]", "Add the training script")
    shot(page, "upload")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{name}/demo/tree/main")
    expect(page.locator("table.files")).to_contain_text("src")
    weights = os.urandom(12_000_000)
    page.click("text=Upload files")
    page.set_input_files(
        "[data-file-input]", files=[{"name": "weights.bin", "mimeType": "application/octet-stream", "buffer": weights}]
    )
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{name}/demo/tree/main")
    expect(page.locator("tr", has_text="weights.bin").locator(".badge.lfs")).to_have_text("LFS")
    fetched = httpx.get(f"{live.url}/{name}/demo/resolve/main/weights.bin", follow_redirects=True)
    assert hashlib.sha256(fetched.content).digest() == hashlib.sha256(weights).digest()

    # The card is written in the browser, hostile HTML and all.
    page.goto(f"{live.url}/{name}/demo/new/main")
    page.fill("input[name=path]", "README.md")
    page.fill("textarea[name=content]", HOSTILE_README)
    page.fill("input[name=summary]", "Write the model card")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{name}/demo/blob/main/README.md")
    assert token.startswith("csg_")

    # Search from the header (every type), then the models' listing narrows with filters; the URL keeps the state.
    page.fill("header input[name=search]", name)
    page.press("header input[name=search]", "Enter")
    expect(page.locator(".repo-card .name")).to_have_text([f"{name}/demo"])
    page.click("section[data-type=models] a.all")
    expect(page.locator(".results .repo-card .name")).to_have_text([f"{name}/demo"])
    # The search box looks at metadata too, not only at names.
    page.goto(f"{live.url}/models?search=text-classification&author={name}")
    expect(page.locator(".repo-card .name")).to_have_text([f"{name}/demo"])
    page.go_back()
    # The filters suggest the values public repositories use.
    assert page.locator("#facet-license option[value=mit]").count() == 1
    assert page.locator("#facet-task option[value=text-classification]").count() == 1
    page.fill("aside input[name=license]", "apache-2.0")
    page.click("aside button[type=submit]")
    expect(page.locator(".results .empty")).to_be_visible()
    assert "license=apache-2.0" in page.url
    page.fill("aside input[name=license]", "mit")
    page.fill("aside input[name=task]", "text-classification")
    page.click("aside button[type=submit]")
    expect(page.locator(".repo-card .name")).to_have_text([f"{name}/demo"])
    shot(page, "models-listing")

    page.click(f".repo-card a:has-text('{name}/demo')")
    page.wait_for_url(f"{live.url}/{name}/demo")
    expect(page.locator("article.card h1")).to_have_text("demo")
    expect(page.locator("article.card strong")).to_have_text("tiny")
    expect(page.locator(".facts")).to_contain_text("mit")
    assert page.locator("article.card script").count() == 0
    evil = page.locator("article.card a", has_text="click me")
    assert evil.count() == 1 and evil.get_attribute("href") is None
    page.click("text=overlay")
    evil.click()
    assert page.evaluate("window.__pwned === undefined"), "the README's HTML must stay inert"
    shot(page, "model-page")
    # A tag on the card filters the listing; the chip takes the filter off again.
    page.click(".facts .tags a:has-text('text-classification')")
    expect(page.locator(".active-tags")).to_contain_text("text-classification")
    expect(page.locator(".repo-card .name")).to_have_text([f"{name}/demo"])
    page.click(".active-tags a")
    expect(page.locator(".active-tags")).to_have_count(0)
    page.goto(f"{live.url}/{name}/demo")

    page.click(".snippet:has-text('Clone with HTTPS') button.copy")
    command = page.evaluate("navigator.clipboard.readText()")
    assert command == f"git clone {live.url}/{name}/demo"
    ssh_clone = page.locator(".snippet:has-text('Clone with SSH') code").inner_text()
    assert ssh_clone == f"git clone ssh://git@127.0.0.1:{live.ssh_port}/{name}/demo.git"
    # ...and it works with the key added on the settings page.
    env = client_env(tmp_path / "home")
    env["GIT_SSH_COMMAND"] = (
        f"ssh -i {tmp_path / 'key'} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    )
    git(*ssh_clone.split()[1:], str(tmp_path / "over-ssh"), cwd=tmp_path, env=env)
    assert (tmp_path / "over-ssh" / "src" / "train.py").read_bytes() == TRAIN_PY
    git(*command.split()[1:], str(tmp_path / "clone"), cwd=tmp_path, env=env)
    assert (tmp_path / "clone" / "src" / "train.py").read_bytes() == TRAIN_PY

    page.click("nav.tabs >> text=Files and versions")
    expect(page.locator("table.files")).to_contain_text("README.md")
    page.click("table.files a:has-text('src')")
    page.click("table.files a:has-text('train.py')")
    expect(page.locator("pre.hl")).to_contain_text("torch.__version__")
    assert page.locator("pre.hl span").count() > 3, "code is highlighted"
    shot(page, "file-view")
    with page.expect_download() as download:
        page.click(".file-bar a:has-text('Download')")
    assert Path(download.value.path()).read_bytes() == TRAIN_PY
    assert download.value.suggested_filename == "train.py"

    page.click("nav.tabs >> text=Commits")
    expect(page.locator(".commits li").first).to_contain_text("Write the model card")
    expect(page.locator(".commits")).to_contain_text("Add the training script")

    page.click("a.lang")
    expect(page.locator("nav.main-nav")).to_contain_text("模型")
    shot(page, "model-commits-zh")
    page.click("a.lang")
    expect(page.locator("nav.main-nav")).to_contain_text("Models")

    page.click("[data-theme-toggle]")
    theme = page.evaluate("document.documentElement.dataset.theme")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == theme, "the theme choice is remembered"

    page.click("header button:has-text('Sign out')")
    expect(page.locator("header")).to_contain_text("Sign in")
    assert problems == []
    context.close()


def test_sign_in_page_refuses_a_wrong_password_and_keeps_the_name(browser: Browser, live: LiveHub) -> None:
    name, _ = live.user(password=PASSWORD)
    context = _context(browser, live)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "not it at all")
    page.click("main form button[type=submit]")
    expect(page.locator("p.error")).to_have_text("Invalid username or password")
    expect(page.locator("input[name=username]")).to_have_value(name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("a.me")).to_have_text(name)
    context.close()


def test_a_stranger_gets_a_404_page_for_a_private_model(browser: Browser, live: LiveHub) -> None:
    from tests.support.clients import create_repo

    owner, token = live.user()
    create_repo(live.url, token, f"{owner}/hidden", private=True)
    context = _context(browser, live)
    page = context.new_page()
    response = page.goto(f"{live.url}/{owner}/hidden")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    assert page.locator(".repo-card").count() == 0
    missing = page.goto(f"{live.url}/{owner}/never-made/tree/main")
    assert missing is not None and missing.status == 404
    shot(page, "not-found")
    page.goto(f"{live.url}/models?search={owner}")
    expect(page.locator(".results .empty")).to_be_visible()
    context.close()


def test_forms_without_the_csrf_token_are_refused(live: LiveHub) -> None:
    name, _ = live.user(password=PASSWORD)
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/login", data={"username": name, "password": PASSWORD})
        assert r.status_code == 403 and "csghub_session" not in r.cookies
        page = client.get("/login")
        assert (
            "content-security-policy" in page.headers and "script-src 'self'" in page.headers["content-security-policy"]
        )
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        ok = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
        assert ok.status_code == 303 and "csghub_session" in ok.cookies


def test_a_large_file_goes_through_lfs_multipart_from_the_browser(
    browser: Browser, live_hub_factory: LiveHubFactory, tmp_path: Path
) -> None:
    from tests.support.clients import create_repo

    hub = live_hub_factory({"CSGHUB_LFS_PART_SIZE": str(5 * 1024 * 1024)})
    owner, token = hub.user(password=PASSWORD)
    create_repo(hub.url, token, f"{owner}/big")
    big = tmp_path / "model.safetensors"
    with open(big, "wb") as fh:
        for _ in range(23):
            fh.write(os.urandom(1_000_000))
    context = _context(browser, hub)
    page = context.new_page()
    parts: list[str] = []
    page.on("request", lambda r: parts.append(r.url) if r.method == "PUT" and "/lfs/parts/" in r.url else None)
    page.goto(f"{hub.url}/login")
    page.fill("input[name=username]", owner)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("a.me")).to_have_text(owner)
    page.goto(f"{hub.url}/{owner}/big/upload/main")
    page.set_input_files("[data-file-input]", str(big))
    page.fill("input[name=new_branch]", "weights")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{hub.url}/{owner}/big/tree/weights")
    expect(page.locator("tr", has_text="model.safetensors").locator(".badge.lfs")).to_have_text("LFS")
    assert len(parts) == 5, "23 MB in 5 MB parts"
    with httpx.stream("GET", f"{hub.url}/{owner}/big/resolve/weights/model.safetensors", follow_redirects=True) as r:
        digest = hashlib.sha256()
        for block in r.iter_bytes():
            digest.update(block)
    assert digest.hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
    info = httpx.get(f"{hub.url}/api/models/{owner}/big/revision/weights", params={"blobs": "true"}).json()
    sibling = next(s for s in info["siblings"] if s["rfilename"] == "model.safetensors")
    assert sibling["lfs"]["sha256"] == digest.hexdigest() and sibling["lfs"]["size"] == 23_000_000
    context.close()


def test_the_first_administrator_is_made_with_the_printed_link(
    browser: Browser, live_hub_factory: LiveHubFactory
) -> None:
    import re

    hub = live_hub_factory()
    assert hub.log_path is not None
    match = re.search(r"open (http://\S+/setup\?token=\S+)", hub.log_path.read_text())
    assert match, hub.log_path.read_text()
    context = _context(browser, hub)
    page = context.new_page()
    # A link with another token (say, from an earlier start) says so, without a form.
    page.goto(f"{hub.url}/setup?token=setup_not-the-printed-one")
    expect(page.locator("main [role=alert]")).to_contain_text("This setup link is not valid")
    assert page.locator("main form").count() == 0
    page.goto(match[1])
    page.fill("input[name=password]", "first passphrase 1")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{hub.url}/admin", page.inner_text("main")
    expect(page.locator("a.me")).to_have_text("root")
    shot(page, "admin-after-setup")
    # The link is spent: it says so and leads to the sign-in page, with no form left to fill.
    other = _context(browser, hub).new_page()
    other.goto(match[1])
    expect(other.locator("main [role=status]")).to_have_text(
        "This setup link has been used: the first administrator already exists."
    )
    assert other.locator("main form").count() == 0 and other.locator("input[name=password]").count() == 0
    other.click("main a:has-text('Sign in as the administrator')")
    other.wait_for_url(f"{hub.url}/login?next=/admin")
    other.fill("input[name=username]", "root")
    other.fill("input[name=password]", "first passphrase 1")
    other.click("main form button[type=submit]")
    other.wait_for_url(f"{hub.url}/admin")
    context.close()
