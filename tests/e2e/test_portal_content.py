"""What the portal says, seen in a real browser (Debian's Chromium through Playwright) against a live hub:
a README's front matter shown as metadata, labels and "Use this" snippets that match each repository
type (and work when run), datasets found by their task_categories, the Chinese portal speaking Chinese
through an upload, its default commit messages and the server's errors, and a gated repository that
shows its gate, not download links, to someone without access."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import start_hub
from tests.support.browser import sign_in
from tests.support.clients import api, client_env, create_repo
from tests.support.live import LiveHub

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "content passphrase 4"
LFS_THRESHOLD = 64 * 1024
CARD = """---
license: mit
task_categories:
- {task}
task_ids:
- sentiment-classification
language: [en, zh]
configs:
- config_name: default
  data_files: train.csv
---
# demo

The **body** only.
"""
TYPES = ("model", "dataset", "space", "code")
PLURAL = {"model": "", "dataset": "datasets/", "space": "spaces/", "code": "codes/"}
CARD_TAB = {
    "en": {"model": "Model card", "dataset": "Dataset card", "space": "Space card", "code": "Code card"},
    "zh": {"model": "模型卡片", "dataset": "数据集卡片", "space": "应用空间卡片", "code": "代码卡片"},
}
USE_THIS = {
    "en": {
        "model": "Use this model",
        "dataset": "Use this dataset",
        "space": "Use this space",
        "code": "Use this code",
    },
    "zh": {"model": "使用此模型", "dataset": "使用此数据集", "space": "使用此应用空间", "code": "使用此代码"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """A hub whose LFS threshold is small, so a browser upload goes through hashing and the LFS API."""
    hub = start_hub(tmp_path_factory.mktemp("live") / "data", {"CSGHUB_LFS_THRESHOLD": str(LFS_THRESHOLD)})
    yield hub
    hub.stop()


def _commit(live: LiveHub, token: str, repo_type: str, repo: str, files: dict[str, bytes]) -> None:
    lines = [{"key": "header", "value": {"summary": "Add files", "description": ""}}]
    for path, content in files.items():
        encoded = base64.b64encode(content).decode()
        lines.append({"key": "file", "value": {"path": path, "content": encoded, "encoding": "base64"}})
    body = "\n".join(json.dumps(line) for line in lines).encode()
    with api(live.url, token) as client:
        r = client.post(f"/api/{repo_type}s/{repo}/commit/main", content=body)
        assert r.status_code == 200, r.text


def _repo_with_card(live: LiveHub, repo_type: str, task: str = "text-classification") -> tuple[str, str, str]:
    owner, token = live.user("own", password=PASSWORD)
    repo = f"{owner}/demo"
    create_repo(live.url, token, repo, repo_type=repo_type)
    _commit(live, token, repo_type, repo, {"README.md": CARD.format(task=task).encode()})
    return owner, token, repo


def _zh(context: BrowserContext, live: LiveHub) -> None:
    context.add_cookies([{"name": "lang", "value": "zh", "url": live.url}])


def test_readme_blob_shows_front_matter_as_metadata_and_renders_only_the_body(browser: Browser, live: LiveHub) -> None:
    page = browser.new_page()
    for repo_type in TYPES:
        _, _, repo = _repo_with_card(live, repo_type)
        page.goto(f"{live.url}/{PLURAL[repo_type]}{repo}/blob/main/README.md")
        metadata = page.locator("details.front-matter")
        expect(metadata).to_have_count(1)
        expect(metadata.locator("table")).to_be_hidden()  # collapsed until asked for, as on the Hub
        body = page.locator("article.markdown")
        expect(body.locator("h1")).to_have_text("demo")
        expect(body.locator("strong")).to_have_text("body")
        # Rendered as markdown, the YAML became a rule and a heading full of keys.
        assert body.locator("hr, h2").count() == 0, repo_type
        assert "task_categories" not in body.inner_text() and "license" not in body.inner_text()
        metadata.locator("summary").click()
        expect(metadata.locator("tr", has_text="license").locator("td")).to_have_text("mit")
        expect(metadata.locator("tr", has_text="language").locator("td")).to_have_text("en, zh")
        expect(metadata.locator("tr", has_text="configs").locator("td pre")).to_contain_text("data_files: train.csv")
    page.close()


def _snippet(page: Page, label: str) -> str:
    return (
        page.locator(".use .snippet", has=page.locator(".snippet-head span", has_text=label))
        .locator("code")
        .inner_text()
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_labels_and_use_snippets_match_each_repository_type(
    browser: Browser, live: LiveHub, lang: str, tmp_path: Path
) -> None:
    context = browser.new_context()
    if lang == "zh":
        _zh(context, live)
    page = context.new_page()
    for repo_type in TYPES:
        _, _, repo = _repo_with_card(live, repo_type)
        page.goto(f"{live.url}/{PLURAL[repo_type]}{repo}")
        # A space's first tab is its app (web/space_pages.py); its card is shown below the app.
        first_tab = {"en": "App", "zh": "应用"}[lang] if repo_type == "space" else CARD_TAB[lang][repo_type]
        expect(page.locator("nav.tabs a").first).to_have_text(first_tab)
        expect(page.locator(".use h2")).to_have_text(USE_THIS[lang][repo_type])
        other_labels = [label for kind, label in CARD_TAB[lang].items() if kind != repo_type]
        text = page.locator("main").inner_text()
        assert not any(label in text for label in other_labels), (repo_type, text)
        clone = _snippet(page, "HTTPS" if lang == "en" else "HTTPS 克隆")
        assert clone == f"git clone {live.url}/{PLURAL[repo_type]}{repo}"
        hf_labels = page.locator(".use .snippet-head span", has_text="huggingface_hub")
        if repo_type == "code":
            # huggingface_hub has no code repositories: git and csghub-cli are the ways in.
            assert hf_labels.count() == 0
            assert _snippet(page, "csghub-sdk").endswith(f"csghub-cli download {repo} -t code")
            done = subprocess.run(clone.split(), cwd=tmp_path, env=client_env(tmp_path / "home"), capture_output=True)
            assert done.returncode == 0, done.stderr
            assert (tmp_path / "demo" / "README.md").read_text().startswith("---\nlicense: mit")
            continue
        python = _snippet(page, "huggingface_hub")
        wanted = "" if repo_type == "model" else f', repo_type="{repo_type}"'
        assert python.endswith(f'snapshot_download("{repo}"{wanted})'), python
        if repo_type == "space":
            # The snippet as a user would paste it, with the endpoint it names.
            env = client_env(tmp_path / "hf", {"HF_ENDPOINT": live.url, "HF_HUB_CACHE": str(tmp_path / "cache")})
            *setup, call = python.splitlines()
            ran = subprocess.run(
                [sys.executable, "-c", "\n".join([*setup, f"print({call})"])],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert ran.returncode == 0, ran.stderr
            assert (Path(ran.stdout.strip()) / "README.md").read_text().endswith("The **body** only.\n")
    context.close()


def test_dataset_task_categories_are_tags_facets_and_task_filters(browser: Browser, live: LiveHub) -> None:
    task = "tabular-regression"
    owner, _, repo = _repo_with_card(live, "dataset", task=task)
    other_owner, other_token = live.user("oth")
    create_repo(live.url, other_token, f"{other_owner}/plain", repo_type="dataset")
    page = browser.new_page()

    page.goto(f"{live.url}/datasets/{repo}")
    expect(page.locator(".facts .tags")).to_contain_text(f"task_categories:{task}")
    expect(page.locator(".facts dl")).to_contain_text(task)
    page.goto(f"{live.url}/datasets")
    option = page.locator(f"#facet-task option[value='{task}']")
    expect(option).to_have_text(f"{task} (1)")
    page.fill(".filter-form input[name=task]", task)
    page.click(".filter-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/datasets\?.*task={task}"))
    expect(page.locator(".repo-list .repo-card .name")).to_have_text([repo])
    expect(page.locator(".repo-card .meta")).to_contain_text(task)
    page.close()

    found = HfApi(endpoint=live.url).list_datasets(task_categories=task)
    assert [d.id for d in found] == [repo]
    by_id = HfApi(endpoint=live.url).list_datasets(filter="task_ids:sentiment-classification", author=owner)
    assert [d.id for d in by_id] == [repo]


def _watch_progress(page: Page) -> list[str]:
    """Every text the upload's progress line shows, kept across the navigation that ends the upload."""
    seen: list[str] = []
    page.expose_function("recordProgress", lambda text: seen.append(text))
    page.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
          const line = document.querySelector("[data-progress-text]");
          // Each assignment adds a new text node: read them all, not only the last one.
          const record = (changes) => changes.forEach((change) =>
            change.addedNodes.forEach((node) => window.recordProgress(node.textContent)));
          if (line) new MutationObserver(record)
            .observe(line, { childList: true, characterData: true, subtree: true });
        });"""
    )
    return seen


def test_chinese_portal_speaks_chinese_through_upload_commits_and_server_errors(
    browser: Browser, live: LiveHub
) -> None:
    owner, token = live.user("zh", password=PASSWORD)
    repo = f"{owner}/demo"
    create_repo(live.url, token, repo)
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    _zh(context, live)
    page.on("dialog", lambda dialog: dialog.accept())
    progress = _watch_progress(page)

    page.goto(f"{live.url}/{repo}/upload/main")
    page.set_input_files(
        "[data-file-input]",
        files=[
            {"name": "weights.bin", "mimeType": "application/octet-stream", "buffer": b"\x01" * (LFS_THRESHOLD * 2)},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello\n"},
        ],
    )
    expect(page.locator("[data-chosen] li").first).to_contain_text("字节")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{repo}/tree/main")
    expect(page.locator("tr", has_text="weights.bin").locator(".badge.lfs")).to_have_text("LFS")
    assert any(text.startswith("正在计算校验和：weights.bin") for text in progress), progress
    assert any(text.startswith("正在上传：weights.bin") for text in progress), progress
    assert "已准备：notes.txt — " in " ".join(progress) and progress[-1] == "正在提交 — 100%", progress
    assert not any(re.search(r"Hashing|Uploading|Prepared|Committing", text) for text in progress), progress

    # Default commit messages, from the script (upload) and from the server (edit, delete).
    page.goto(f"{live.url}/{repo}/edit/main/notes.txt")
    page.fill("textarea[name=content]", "changed\n")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.url}/{repo}/blob/main/notes.txt")
    page.click(".file-bar button:has-text('删除')")
    page.wait_for_url(f"{live.url}/{repo}/tree/main")
    page.goto(f"{live.url}/{repo}/commits/main")
    titles = page.locator("ul.commits a.title").all_inner_texts()
    assert titles[:3] == ["删除 notes.txt", "更新 notes.txt", "上传 2 个文件"], titles

    # A server error answered to the page's script: the new branch already exists.
    page.goto(f"{live.url}/{repo}/upload/main")
    page.set_input_files("[data-file-input]", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"a"}])
    page.fill("input[name=new_branch]", "main")
    page.click("main form button[type=submit]")
    expect(page.locator("[data-error]")).to_have_text("分支“main”已存在")

    # Server errors on pages: a form's and an error page's.
    page.goto(f"{live.url}/new")
    page.fill("input[name=name]", "demo")
    page.click("main form button[type=submit]")
    expect(page.locator("main p.error")).to_have_text(f"您已经创建过此仓库：{repo}")
    _commit(live, token, "model", repo, {"blob.dat": b"\x00\x01binary"})
    page.goto(f"{live.url}/{repo}/edit/main/blob.dat")
    expect(page.locator(".error-page .detail")).to_have_text("二进制文件无法在浏览器中编辑")
    assert problems == []
    context.close()


def test_gated_repository_shows_its_gate_instead_of_download_links(
    browser: Browser, live: LiveHub, tmp_path: Path
) -> None:
    owner, token = live.user("own", password=PASSWORD)
    repo = f"{owner}/gated"
    create_repo(live.url, token, repo)
    _commit(live, token, "model", repo, {"README.md": b"# gated\n", "config.json": b"{}\n"})
    HfApi(endpoint=live.url, token=token).update_repo_settings(repo, gated="manual")
    stranger, stranger_token = live.user("str", password=PASSWORD)
    context, page, problems = sign_in(browser, live.url, stranger, PASSWORD)

    page.goto(f"{live.url}/{repo}/tree/main")
    expect(page.locator("table.files")).to_contain_text("config.json")
    assert page.locator("table.files a", has_text="Download").count() == 0
    assert page.locator("a[href*='/resolve/']").count() == 0
    page.goto(f"{live.url}/{repo}/blob/main/config.json")
    assert page.locator(".file-bar a", has_text=re.compile("Raw|Download")).count() == 0
    page.click(".file-bar a:has-text('Request access')")
    page.wait_for_url(f"{live.url}/{repo}#gate")
    expect(page.locator("#gate button")).to_have_text("Request access")

    # A file link opened anyway: a page with the way in, not JSON.
    opened = page.goto(f"{live.url}/{repo}/resolve/main/config.json")
    assert opened is not None and opened.status == 403
    assert opened.headers["content-type"].startswith("text/html")
    expect(page.locator("h1")).to_have_text("Gated repository")
    page.click(".error-page a:has-text('Request access')")
    page.wait_for_url(f"{live.url}/{repo}#gate")
    _zh(context, live)
    page.goto(f"{live.url}/{repo}/resolve/main/config.json")
    expect(page.locator(".error-page .detail")).to_have_text("申请访问此仓库后才能下载其文件。")
    assert problems == []
    context.close()

    # Clients still get JSON with the Hub's headers, and huggingface_hub its own error.
    answer = httpx.get(
        f"{live.url}/{repo}/resolve/main/config.json", headers={"Authorization": f"Bearer {stranger_token}"}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "GatedRepo"
    assert answer.headers["x-error-code"] == "GatedRepo"
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "config.json", endpoint=live.url, token=stranger_token, cache_dir=str(tmp_path))
