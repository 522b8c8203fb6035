"""Files as Hugging Face shows them, in a real browser (Debian's Chromium through Playwright) against a
live hub filled by huggingface_hub: the latest commit and commit count over the tree and each entry's
last commit, a safetensors file's LFS/Xet details and parameters read from its header, the model's size
and its downloads-last-month chart on the card, and a file's own history; at 1280 and 390 px, light and
dark, English and Chinese, with no sideways scrolling and no console error. A private repository's new
pages are a 404 to everyone else."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from csghub.core.names import RepoId, RepoType
from csghub.db.models import Repo, RepoDownloadDay
from csghub.services.permissions import ANONYMOUS
from csghub.services.repositories import repos
from tests.support.browser import shot, watch
from tests.support.clients import create_repo
from tests.support.live import LiveHub
from tests.support.safetensors_files import safetensors_bytes
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

# Two shards of a model: 1,536,000 BF16 and 1,200 F32 parameters in all ("1.54M params"); the first
# holds 1,025,200 ("1.03M").
SHARD_1 = safetensors_bytes({"embed.weight": ("BF16", [1000, 1024]), "norm.weight": ("F32", [1200])})
SHARD_2 = safetensors_bytes({"lm_head.weight": ("BF16", [500, 1024])})
WEIGHT_MAP = {
    "embed.weight": "model-00001-of-00002.safetensors",
    "norm.weight": "model-00001-of-00002.safetensors",
    "lm_head.weight": "model-00002-of-00002.safetensors",
}
INDEX = json.dumps({"metadata": {"total_size": 3_076_800}, "weight_map": WEIGHT_MAP}).encode()
CARD = "---\nlicense: mit\n---\n# Weights\n\nTwo shards.\n"
EARLIER_DOWNLOADS = 41


@dataclass(frozen=True)
class Site:
    owner: str
    token: str
    repo: str  # a model: card, shards in LFS, a config folder, notes.txt changed twice
    dataset: str
    private: str
    shard_sha256: str


@pytest.fixture(scope="module")
def site(live: LiveHub) -> Site:
    owner, token = live.user("files")
    api = HfApi(endpoint=live.url, token=token)
    repo = f"{owner}/weights"
    create_repo(live.url, token, repo)
    api.upload_file(
        path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=repo, commit_message="Add the card"
    )
    api.create_commit(
        repo,
        [
            CommitOperationAdd("model-00001-of-00002.safetensors", SHARD_1),
            CommitOperationAdd("model-00002-of-00002.safetensors", SHARD_2),
            CommitOperationAdd("config/settings.json", b'{"layers": 2}\n'),
            CommitOperationAdd("model.safetensors.index.json", INDEX),
        ],
        commit_message="Add weights",
    )
    api.upload_file(path_or_fileobj=b"first\n", path_in_repo="notes.txt", repo_id=repo, commit_message="Add notes")
    api.upload_file(path_or_fileobj=b"second\n", path_in_repo="notes.txt", repo_id=repo, commit_message="Edit notes")
    dataset = f"{owner}/table"
    create_repo(live.url, token, dataset, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=dataset, repo_type="dataset",
        commit_message="Add data",
    )  # fmt: skip
    private = f"{owner}/hidden"
    create_repo(live.url, token, private, private=True)
    api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="notes.txt", repo_id=private, commit_message="Secret")

    # Downloads: earlier days written as the counter's flush writes them, and one real download today.
    repo_id = repos.get_repo(live.hub, ANONYMOUS, RepoType.MODEL, RepoId.parse(repo)).id
    with live.hub.db() as session:
        session.add(RepoDownloadDay(repo_id=repo_id, day=datetime.now(UTC).date() - timedelta(days=3), count=40))
        session.add(RepoDownloadDay(repo_id=repo_id, day=datetime.now(UTC).date() - timedelta(days=45), count=500))
        # and the total the listing sorts by, as the counter's flush adds to it
        session.execute(update(Repo).where(Repo.id == repo_id).values(downloads=Repo.downloads + 540))
    hf_hub_download(repo, "config/settings.json", endpoint=live.url, token=token, cache_dir=str(live.data_dir / "hf"))
    wait_until(lambda: _chart_total(live, token, repo) == EARLIER_DOWNLOADS, "the download to be counted", timeout=30)
    return Site(owner, token, repo, dataset, private, hashlib.sha256(SHARD_1).hexdigest())


def _chart_total(live: LiveHub, token: str, repo: str) -> int:
    html = httpx.get(f"{live.url}/{repo}", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
    found = re.search(r'<p class="total">([\d,]+)</p>', html)
    return int(found.group(1).replace(",", "")) if found else -1


SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "en": {
        "commits": "5 commits",
        "stored": r"Stored with (Git LFS|Xet)",
        "params": "1.54M params",
        "history": "History",
    },
    "zh": {"commits": "5 次提交", "stored": r"使用 (Git LFS|Xet) 存储", "params": "1.54M 参数", "history": "历史"},
}


@pytest.fixture(scope="module", params=[(s, c, la) for s in SIZES for c in ("light", "dark") for la in ("en", "zh")])
def view(request: pytest.FixtureRequest, browser: Browser, live: LiveHub) -> Iterator[tuple[Page, list[str], str, str]]:
    size, scheme, lang = request.param
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme, is_mobile=size == "phone")
    context.add_cookies([{"name": "lang", "value": lang, "url": live.url}])
    page = context.new_page()
    yield page, watch(page), size, lang
    context.close()


def _fits(page: Page, size: str) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width == SIZES[size]["width"], f"{page.url} is {width}px wide at {SIZES[size]['width']}px"


def test_file_pages_in_every_size_theme_and_language(
    view: tuple[Page, list[str], str, str], live: LiveHub, site: Site
) -> None:
    page, problems, size, lang = view
    words = WORDS[lang]

    # The tree: the latest commit, the count (a link to the history), each entry's last commit.
    page.goto(f"{live.url}/{site.repo}/tree/main")
    head = page.locator(".last-commit")
    expect(head.locator(".title")).to_have_text("Edit notes")
    expect(head.locator(".commit-count")).to_have_text(words["commits"])
    assert head.locator(".commit-count").get_attribute("href") == f"/{site.repo}/commits/main"
    assert re.fullmatch(r"[0-9a-f]{7}", head.locator(".sha").inner_text())
    row = page.locator("table.files tr", has=page.locator(".fname", has_text="config"))
    expect(row.locator(".fwhen time")).to_be_visible()
    expect(row.locator(".flast")).to_have_text("Add weights")
    if size == "desktop":
        expect(page.locator("table.files tr", has_text="notes.txt").locator(".flast a")).to_be_visible()
    else:
        expect(row.locator(".flast")).to_be_hidden()  # a phone keeps name, size and age
    _fits(page, size)
    keep = (size, lang) in (("desktop", "en"), ("phone", "zh"))  # for reviewers: two of the eight views
    if keep:
        shot(page, f"files-tree-{size}-{lang}")

    # A shard's page: where its bytes live, its sha256, and the parameters from its header.
    page.goto(f"{live.url}/{site.repo}/blob/main/model-00001-of-00002.safetensors")
    details = page.locator(".file-details")
    expect(details.locator("h2").first).to_have_text(re.compile(words["stored"]))
    expect(details.locator("code.hash").first).to_have_text(site.shard_sha256)
    expect(details.locator(".params strong")).to_have_text("1.03M")
    expect(details.locator("table.dtypes tbody tr")).to_have_count(2)
    expect(details.locator("table.dtypes tbody tr").first).to_contain_text("BF16")
    expect(page.locator(".file-bar a", has_text=words["history"])).to_be_visible()
    _fits(page, size)
    if keep:
        shot(page, f"files-safetensors-{size}-{lang}")

    # The card: the model's size over both shards, and the chart of the month's downloads.
    page.goto(f"{live.url}/{site.repo}")
    expect(page.locator(".model-size strong")).to_have_text(words["params"])
    expect(page.locator(".model-size .dtype")).to_have_text(["BF16", "F32"])
    expect(page.locator(".downloads .total")).to_have_text(str(EARLIER_DOWNLOADS))
    expect(page.locator(".downloads svg.downloads-chart rect.bar")).to_have_count(30)
    box = page.locator(".downloads svg.downloads-chart").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] == 60
    _fits(page, size)
    if keep:
        shot(page, f"files-card-{size}-{lang}")

    # A file's own history.
    page.goto(f"{live.url}/{site.repo}/commits/main/notes.txt")
    expect(page.locator("ul.commits .title")).to_have_text(["Edit notes", "Add notes"])
    _fits(page, size)
    assert problems == []


def test_dataset_card_charts_downloads_and_its_files_have_history(browser: Browser, live: LiveHub, site: Site) -> None:
    page = browser.new_page()
    problems = watch(page)
    page.goto(f"{live.url}/datasets/{site.dataset}")
    expect(page.locator(".downloads svg.downloads-chart rect.bar")).to_have_count(30)
    expect(page.locator(".downloads .total")).to_have_text("0")
    expect(page.locator(".model-size")).to_have_count(0)
    page.goto(f"{live.url}/datasets/{site.dataset}/blob/main/data.csv")
    page.locator(".file-bar a", has_text="History").click()
    expect(page).to_have_url(f"{live.url}/datasets/{site.dataset}/commits/main/data.csv")
    expect(page.locator("ul.commits .title")).to_have_text(["Add data"])
    assert problems == []
    page.close()


def test_a_private_repositorys_file_pages_are_not_found_for_others(live: LiveHub, site: Site) -> None:
    _, stranger = live.user("stranger")
    paths = ["/commits/main/notes.txt", "/commits/main", "/tree/main", "/blob/main/notes.txt", ""]
    for token in (None, stranger):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for path in paths:
            r = httpx.get(f"{live.url}/{site.private}{path}", headers=headers, timeout=10)
            assert r.status_code == 404, (path, r.status_code)
            main = r.text.split("<main", 1)[-1].split("</main>", 1)[0]
            assert "Page not found" in main and "Secret" not in main and "notes.txt" not in main, path
    mine = httpx.get(
        f"{live.url}/{site.private}/commits/main/notes.txt", headers={"Authorization": f"Bearer {site.token}"}
    )
    assert mine.status_code == 200 and "Secret" in mine.text


@pytest.mark.parametrize(
    ("path", "status"),
    [("/commits/main/no/such.txt", 404), ("/commits/nobranch/notes.txt", 404), ("/commits/main/a%5Cb", 400)],
)
def test_a_bad_history_path_is_a_readable_error_page(live: LiveHub, site: Site, path: str, status: int) -> None:
    r = httpx.get(f"{live.url}/{site.repo}{path}", timeout=10)
    assert r.status_code == status and "<main" in r.text and "Traceback" not in r.text


def test_huggingface_hub_reads_the_parameters_the_card_shows(live: LiveHub, site: Site) -> None:
    """huggingface_hub's own header reader (Range requests on resolve) agrees with the hub's."""
    found = HfApi(endpoint=live.url, token=site.token).get_safetensors_metadata(site.repo)
    assert found.sharded and set(found.files_metadata) == {
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    }
    assert found.parameter_count == {"BF16": 1_536_000, "F32": 1_200}
