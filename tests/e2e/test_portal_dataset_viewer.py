"""The dataset viewer tab, seen in Chromium against a live hub: a dataset pushed through the commit API is
converted by the hub's own background job, then its rows are paged, searched and sorted, its columns show
statistics, the SQL console runs a query and downloads its result; Chinese labels; a broken CSV's error; an
empty dataset's explanation; a private dataset's tab and its forms are a 404 for everyone else; a phone's
width scrolls the table inside its box, never the page."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from collections.abc import Iterator

import httpx
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import shot, sign_in, watch
from tests.support.clients import api, create_repo
from tests.support.live import LiveHub
from tests.support.waiting import wait_until

pytestmark = pytest.mark.transport_bound  # scripts/test runs it on SQLite only (pyproject.toml)

PASSWORD = "viewer passphrase 7"
TRAIN_ROWS = 250  # three pages of 100
LONG_TEXT = "long " * 80 + "END-OF-LONG"
NEEDLE_ROW = 137


def _train_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "label", "text", "score"])
    for i in range(TRAIN_ROWS):
        text = LONG_TEXT if i == 5 else ("a needle in the hay" if i == NEEDLE_ROW else f"row {i} words")
        score = "" if i == 3 else f"{i * 0.5}"  # an empty field: a null
        writer.writerow([i, "pos" if i % 2 else "neg", text, score])
    return out.getvalue().encode()


def _test_csv() -> bytes:
    return ("id,label,text,score\n" + "".join(f"{i},neg,test row {i},{i}.0\n" for i in range(20))).encode()


def _commit(live: LiveHub, token: str, repo: str, files: dict[str, bytes]) -> None:
    lines = [{"key": "header", "value": {"summary": "Add data", "description": ""}}]
    for path, content in files.items():
        encoded = base64.b64encode(content).decode()
        lines.append({"key": "file", "value": {"path": path, "content": encoded, "encoding": "base64"}})
    body = "\n".join(json.dumps(line) for line in lines).encode()
    with api(live.url, token) as client:
        r = client.post(f"/api/datasets/{repo}/commit/main", content=body)
        assert r.status_code == 200, r.text


def _wait_converted(live: LiveHub, token: str, repo: str, *, timeout: float = 90.0) -> dict[str, object]:
    """Poll the tab's status route until the conversion has ended (ready, failed or empty)."""
    deadline = time.monotonic() + timeout
    with api(live.url, token) as client:
        while True:
            r = client.get(f"/datasets/{repo}/viewer/status")
            assert r.status_code == 200, r.text
            status: dict[str, object] = r.json()
            if status["state"] not in ("queued", "running", "absent"):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"{repo} was not converted in {timeout:g} s: {status}")
            time.sleep(0.2)


def _dataset(live: LiveHub, files: dict[str, bytes], *, private: bool = False) -> tuple[str, str, str]:
    owner, token = live.user("own", password=PASSWORD)
    repo = f"{owner}/data"
    create_repo(live.url, token, repo, repo_type="dataset", private=private)
    _commit(live, token, repo, files)
    return owner, token, repo


@pytest.fixture(scope="module")
def ready(live: LiveHub) -> tuple[str, str, str]:
    """One converted dataset with two splits, shared read-only by the tests that look at it."""
    owner, token, repo = _dataset(live, {"train.csv": _train_csv(), "test.csv": _test_csv()})
    status = _wait_converted(live, token, repo)
    assert status["state"] == "ready", status
    return owner, token, repo


@pytest.fixture
def signed_in(browser: Browser, live: LiveHub, ready: tuple[str, str, str]) -> Iterator[tuple[Page, list[str]]]:
    context, page, problems = sign_in(browser, live.url, ready[0], PASSWORD)
    yield page, problems
    context.close()


def _viewer_url(live: LiveHub, repo: str) -> str:
    return f"{live.url}/datasets/{repo}/viewer"


def _column_cells(page: Page, column: int) -> list[str]:
    """The texts of one column of the rows table (0 is the row number)."""
    return page.locator("#rows tbody tr").evaluate_all(
        f"rows => rows.map(r => r.children[{column}] ? r.children[{column}].innerText.trim() : '')"
    )


def test_viewer_tab_shows_rows_nulls_long_text_and_pages(
    live: LiveHub, ready: tuple[str, str, str], signed_in: tuple[Page, list[str]]
) -> None:
    page, problems = signed_in
    _, _, repo = ready
    page.goto(f"{live.url}/datasets/{repo}")
    page.locator("#viewer-tab").click()
    expect(page.locator("#viewer-tab")).to_have_class("active")
    expect(page.locator("#row-count")).to_have_text(f"{TRAIN_ROWS} rows")
    headers = page.locator("#rows thead th[data-column]")
    expect(headers).to_have_count(4)
    expect(headers.locator(".col-type")).to_have_text(["int64", "string", "string", "float64"])
    assert _column_cells(page, 0)[:3] == ["0", "1", "2"] and len(_column_cells(page, 0)) == 100
    assert _column_cells(page, 3)[:3] == ["row 0 words", "row 1 words", "row 2 words"]
    score_null = page.locator("#rows tbody tr").nth(3).locator("td").nth(4)
    expect(score_null.locator(".null")).to_have_text("null")
    # The long text is clipped with an expand control; expanding shows all of it.
    long_cell = page.locator("#rows tbody tr").nth(5).locator("details.long-cell")
    expect(long_cell.locator(".clip")).to_be_visible()
    assert "END-OF-LONG" not in long_cell.locator(".clip").inner_text()
    expect(long_cell.locator(".text-cell")).to_be_hidden()
    long_cell.locator(".expand").click()
    expect(long_cell.locator(".text-cell")).to_contain_text("END-OF-LONG")
    expect(long_cell.locator(".clip")).to_be_hidden()
    expect(long_cell.locator(".collapse")).to_be_visible()
    shot(page, "dataset-viewer")
    # Page 2 by its number, then the last page by "Next", then page 1 by "Go to page".
    page.locator(".viewer-pages a", has_text="2").first.click()
    expect(page.locator(".viewer-pages .current")).to_have_text("2")
    assert _column_cells(page, 0)[0] == "100" and _column_cells(page, 3)[0] == "row 100 words"
    page.locator(".viewer-pages a[rel=next]").click()
    expect(page.locator(".viewer-pages .current")).to_have_text("3")
    assert _column_cells(page, 0)[-1] == str(TRAIN_ROWS - 1) and len(_column_cells(page, 0)) == 50
    page.fill(".goto input[name=page]", "1")
    page.locator(".goto button").click()
    expect(page.locator(".viewer-pages .current")).to_have_text("1")
    # The other split, through its selector.
    page.select_option("select[name=split]", "test")
    expect(page.locator("#row-count")).to_have_text("20 rows")
    assert _column_cells(page, 3)[0] == "test row 0"
    expect(page.locator(".viewer-pages")).to_have_count(0)
    assert problems == []


def test_viewer_shows_statistics_in_the_headers(
    live: LiveHub, ready: tuple[str, str, str], signed_in: tuple[Page, list[str]]
) -> None:
    page, _ = signed_in
    page.goto(_viewer_url(live, ready[2]))
    score = page.locator("#rows thead th[data-column=score]")
    assert score.locator("svg.hist rect").count() >= 2  # a histogram of the numbers
    expect(score.locator(".range .min")).to_have_text("0.0")
    expect(score.locator(".range .max")).to_have_text(str((TRAIN_ROWS - 1) * 0.5))
    expect(score.locator(".nulls")).to_have_text("null: 1 (0.4%)")
    label = page.locator("#rows thead th[data-column=label]")
    expect(label.locator(".top-values li .label-value")).to_have_text(["neg", "pos"])
    expect(label.locator(".top-values li").first).to_contain_text("50.0%")
    expect(label.locator(".nulls")).to_have_text("null: 0")
    text = page.locator("#rows thead th[data-column=text]")
    expect(text.locator(".range")).to_contain_text("length")  # texts: a histogram of their lengths
    assert text.locator("svg.hist rect").count() >= 2


def test_config_selector_and_console_tables_of_a_dataset_with_several_configs(browser: Browser, live: LiveHub) -> None:
    readme = (
        "---\nconfigs:\n- config_name: first\n  data_files: a.csv\n- config_name: second\n  data_files:\n"
        "  - split: train\n    path: b.csv\n  - split: extra\n    path: c.csv\n---\n# two configs\n"
    )
    files = {"README.md": readme.encode(), "a.csv": _test_csv(), "b.csv": _train_csv(), "c.csv": _test_csv()}
    owner, token, repo = _dataset(live, files)
    assert _wait_converted(live, token, repo)["state"] == "ready"
    context, page, _ = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(_viewer_url(live, repo))
    expect(page.locator("select[name=config] option")).to_have_text(["first", "second"])
    expect(page.locator("select[name=split] option")).to_have_text(["train"])
    expect(page.locator("#row-count")).to_have_text("20 rows")
    page.select_option("select[name=config]", "second")
    expect(page.locator("select[name=split] option")).to_have_text(["train", "extra"])
    expect(page.locator("#row-count")).to_have_text(f"{TRAIN_ROWS} rows")
    page.select_option("select[name=split]", "extra")
    expect(page.locator("#row-count")).to_have_text("20 rows")
    assert page.url.endswith("/viewer?config=second&split=extra")
    page.locator("#sql-console summary").click()
    expect(page.locator("code.table-name")).to_have_text(["first_train", "second_train", "second_extra"])
    page.locator("#sql-console textarea[name=sql]").fill("SELECT count(*) AS n FROM second_train")
    page.locator("#sql-console button", has_text="Run").click()
    expect(page.locator("#sql-result tbody td")).to_have_text(str(TRAIN_ROWS))
    # The console keeps the split that was shown.
    expect(page.locator("select[name=split]")).to_have_value("extra")
    context.close()


def test_viewer_search_and_sort_by_header(
    live: LiveHub, ready: tuple[str, str, str], signed_in: tuple[Page, list[str]]
) -> None:
    page, _ = signed_in
    page.goto(_viewer_url(live, ready[2]))
    page.fill(".viewer-search input[name=q]", "NEEDLE")
    page.locator(".viewer-search button").click()
    expect(page.locator("#row-count")).to_have_text(f"1 matching rows of {TRAIN_ROWS}")
    assert _column_cells(page, 0) == [str(NEEDLE_ROW)]
    assert _column_cells(page, 3) == ["a needle in the hay"]
    page.locator(".viewer-search a", has_text="Clear").click()
    expect(page.locator("#row-count")).to_have_text(f"{TRAIN_ROWS} rows")
    # One click sorts ascending (nulls last), the next descending.
    page.locator("#rows thead th[data-column=score] a.col-sort").click()
    expect(page.locator("#rows thead th[data-column=score] a.col-sort")).to_have_text("score ▲")
    assert _column_cells(page, 4)[:2] == ["0.0", "0.5"]
    page.locator("#rows thead th[data-column=score] a.col-sort").click()
    expect(page.locator("#rows thead th[data-column=score] a.col-sort")).to_have_text("score ▼")
    assert _column_cells(page, 0)[0] == str(TRAIN_ROWS - 1)
    # A search the split cannot run is said next to the table, never a failed page.
    response = page.goto(_viewer_url(live, ready[2]) + "?q=" + "x" * 201)
    assert response is not None and response.status == 200
    expect(page.locator("#rows-error")).to_contain_text("longer than 200 characters")


def test_sql_console_runs_a_query_shows_errors_and_downloads(
    live: LiveHub, ready: tuple[str, str, str], signed_in: tuple[Page, list[str]]
) -> None:
    page, problems = signed_in
    page.goto(_viewer_url(live, ready[2]))
    console = page.locator("#sql-console")
    console.locator("summary").click()
    expect(console.locator("code.table-name")).to_have_text(["train", "test"])
    console.locator("textarea[name=sql]").fill(
        "SELECT label, count(*) AS n, max(score) AS top FROM train GROUP BY label ORDER BY label"
    )
    console.locator("button", has_text="Run").click()
    result = page.locator("#sql-result")
    expect(result.locator("thead th")).to_have_count(3)
    expect(result.locator("tbody tr")).to_have_count(2)
    expect(result.locator("tbody tr").first).to_contain_text("neg")
    expect(result.locator("tbody tr").first).to_contain_text("125")
    expect(page.locator("#sql-summary")).to_have_text("2 rows")
    # The query stays in the box; its download is the same rows as CSV.
    expect(console.locator("textarea[name=sql]")).to_have_value(
        "SELECT label, count(*) AS n, max(score) AS top FROM train GROUP BY label ORDER BY label"
    )
    with page.expect_download() as caught:
        console.locator("button[value=csv]").click()
    download = caught.value
    assert download.suggested_filename == "data-query.csv"
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert rows == [["label", "n", "top"], ["neg", "125", "124"], ["pos", "125", "124.5"]]
    with page.expect_download() as caught:
        console.locator("button[value=parquet]").click()
    table = pq.read_table(caught.value.path())
    assert table.column_names == ["label", "n", "top"] and table.column("label").to_pylist() == ["neg", "pos"]
    # The files the downloads streamed are gone from the hub's temporary folder once sent.
    exports = live.hub.settings.tmp_dir
    wait_until(lambda: not list(exports.glob("csg-sql-*")), "the exported files to be removed", timeout=10, poll=0.05)
    # More rows than the console shows: the result says it was cut.
    console.locator("textarea[name=sql]").fill("SELECT * FROM train CROSS JOIN test")
    console.locator("button", has_text="Run").click()
    expect(page.locator("#sql-summary .truncated")).to_be_visible()
    # A statement that is not a read is refused inline, with the console still there.
    console.locator("textarea[name=sql]").fill("COPY train TO '/tmp/out.csv'")
    console.locator("button", has_text="Run").click()
    expect(page.locator("#sql-error")).to_be_visible()
    expect(page.locator("#sql-result")).to_have_count(0)
    expect(page.locator("#rows tbody tr")).to_have_count(100)
    assert problems == []


def test_viewer_speaks_chinese(browser: Browser, live: LiveHub, ready: tuple[str, str, str]) -> None:
    context, page, _ = sign_in(browser, live.url, ready[0], PASSWORD)
    context.add_cookies([{"name": "lang", "value": "zh", "url": live.url}])
    page.goto(_viewer_url(live, ready[2]))
    expect(page.locator("#viewer-tab")).to_have_text("数据预览")
    expect(page.locator("#row-count")).to_have_text(f"{TRAIN_ROWS} 行")
    expect(page.locator("#sql-console summary h2")).to_have_text("SQL 控制台")
    expect(page.locator(".viewer-search button")).to_have_text("搜索")
    expect(page.locator("#rows thead th[data-column=score] .nulls")).to_contain_text("空值")
    expect(page.locator(".viewer-pages a[rel=next]")).to_have_text("下一页")
    context.close()


def test_viewer_tab_opened_during_the_conversion_shows_the_rows_when_ready(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("own", password=PASSWORD)
    repo = f"{owner}/fresh"
    create_repo(live.url, token, repo, repo_type="dataset")
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    _commit(live, token, repo, {"train.csv": _train_csv(), "test.csv": _test_csv()})
    page.goto(_viewer_url(live, repo))
    seen: list[str] = []
    page.on("framenavigated", lambda frame: seen.append(frame.url))
    if page.locator("#viewer-converting").count():
        # While it converts the page says so, with how many splits are done when the job has counted them.
        expect(page.locator("#viewer-converting h2")).to_have_text("Converting to Parquet")
        progress = page.locator("#viewer-progress")
        if progress.count():
            assert re.fullmatch(r"\d+ of 2 splits", progress.inner_text()), progress.inner_text()
    # The page polls the status route and reloads itself once the rows are there: the test never reloads it.
    expect(page.locator("#row-count")).to_have_text(f"{TRAIN_ROWS} rows", timeout=90_000)
    assert all(url.startswith(_viewer_url(live, repo)) for url in seen)
    assert problems == []
    context.close()


def test_images_lists_and_structs_are_shown_compactly(browser: Browser, live: LiveHub) -> None:
    records = [
        {"img": {"src": "/static/favicon.svg", "height": 16, "width": 16}, "tags": ["a", "b"], "meta": {"k": 1}},
        {"img": {"src": "javascript:alert(1)", "height": 1, "width": 1}, "tags": [], "meta": {"k": 2}},
        {"img": None, "tags": None, "meta": None},
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    owner, token, repo = _dataset(live, {"train.jsonl": body})
    assert _wait_converted(live, token, repo)["state"] == "ready"
    context, page, problems = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(_viewer_url(live, repo))
    rows = page.locator("#rows tbody tr")
    expect(rows).to_have_count(3)
    thumb = rows.nth(0).locator("img.thumb")
    expect(thumb).to_have_attribute("src", "/static/favicon.svg")
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    # An address that is not http(s) or this site's is never loaded: a placeholder instead.
    expect(rows.nth(1).locator("img")).to_have_count(0)
    expect(rows.nth(1).locator(".media-placeholder")).to_be_visible()
    assert _column_cells(page, 2) == ['["a","b"]', "[]", "null"]
    assert _column_cells(page, 3) == ['{"k":1}', '{"k":2}', "null"]
    expect(page.locator("#rows thead th[data-column=tags] .col-type")).to_have_text("list<string>")
    # Lists and structs cannot be sorted, and a split without a text column has no search box.
    expect(page.locator("#rows thead th[data-column=tags] a.col-sort")).to_have_count(0)
    expect(page.locator(".viewer-search")).to_have_count(0)
    assert problems == []
    context.close()


def test_broken_csv_shows_the_conversions_error(browser: Browser, live: LiveHub) -> None:
    good = "".join(f"{i},word{i}\n" for i in range(40_000))
    owner, token, repo = _dataset(live, {"train.csv": ("a,b\n" + good + "40000,x,extra,fields\n").encode()})
    assert _wait_converted(live, token, repo)["state"] == "failed"
    context, page, _ = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(_viewer_url(live, repo))
    failed = page.locator("#viewer-failed")
    expect(failed).to_be_visible()
    expect(failed.locator(".conversion-error")).to_contain_text("Cannot read train.csv, line")
    expect(page.locator("#rows")).to_have_count(0)
    context.close()


def test_dataset_without_data_files_says_what_the_viewer_reads(browser: Browser, live: LiveHub) -> None:
    owner, token, repo = _dataset(live, {"README.md": b"# only a card\n", "notes.txt": b"no data here\n"})
    assert _wait_converted(live, token, repo)["state"] == "empty"
    context, page, _ = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(_viewer_url(live, repo))
    empty = page.locator("#viewer-empty")
    expect(empty).to_contain_text("CSV, TSV, JSON, JSON Lines and Parquet")
    expect(empty).to_contain_text("docs/datasets.md")
    expect(page.locator("#sql-console")).to_have_count(0)
    context.close()


def test_private_dataset_viewer_is_a_404_for_others(browser: Browser, live: LiveHub) -> None:
    owner, token, repo = _dataset(live, {"train.csv": _test_csv()}, private=True)
    assert _wait_converted(live, token, repo)["state"] == "ready"
    stranger, stranger_token = live.user("other", password=PASSWORD)
    # The owner sees the rows.
    context, page, _ = sign_in(browser, live.url, owner, PASSWORD)
    page.goto(_viewer_url(live, repo))
    expect(page.locator("#row-count")).to_have_text("20 rows")
    context.close()
    # Another user and an anonymous visitor get the portal's 404 page, for the tab and its status.
    context, page, _ = sign_in(browser, live.url, stranger, PASSWORD)
    for path in ("/viewer", "/viewer/status", "/viewer?split=train&page=2"):
        response = page.goto(f"{live.url}/datasets/{repo}{path}")
        assert response is not None and response.status == 404, path
        expect(page.locator("h1")).to_have_text("Page not found")
        assert "test row" not in page.content()
    # The console's forms too, with a valid CSRF token of the stranger's own.
    csrf = page.goto(f"{live.url}/datasets")
    assert csrf is not None
    token_value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    for path, extra in (("/viewer/sql", {}), ("/viewer/sql/download", {"format": "csv"})):
        posted = page.request.post(
            f"{live.url}/datasets/{repo}{path}",
            form={"csrf_token": token_value or "", "sql": "SELECT * FROM train", **extra},
        )
        assert posted.status == 404, path
        assert "test row" not in posted.text()
    context.close()
    with httpx.Client(base_url=live.url) as anonymous:
        for path in ("/viewer", "/viewer/status"):
            r = anonymous.get(f"/datasets/{repo}{path}", headers={"Accept": "text/html"})
            assert r.status_code == 404 and "test row" not in r.text
    with api(live.url, stranger_token) as client:
        assert client.get(f"/datasets/{repo}/viewer/status").status_code == 404


def test_gated_dataset_viewer_shows_the_gate_until_access_is_accepted(browser: Browser, live: LiveHub) -> None:
    _owner, token, repo = _dataset(live, {"train.csv": _test_csv()})
    assert _wait_converted(live, token, repo)["state"] == "ready"
    owner_api = HfApi(endpoint=live.url, token=token)
    owner_api.update_repo_settings(repo, gated="manual", repo_type="dataset")
    asker, asker_token = live.user("asker", password=PASSWORD)
    context, page, _ = sign_in(browser, live.url, asker, PASSWORD)
    page.goto(_viewer_url(live, repo))
    expect(page.locator("#viewer-gated")).to_be_visible()
    expect(page.locator("#rows")).to_have_count(0)
    assert "test row" not in page.content()
    token_value = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    posted = page.request.post(
        f"{_viewer_url(live, repo)}/sql", form={"csrf_token": token_value, "sql": "SELECT * FROM train"}
    )
    assert "test row" not in posted.text()
    with api(live.url, asker_token) as client:
        asked = client.post(f"/api/datasets/{repo}/ask-access", json={"reason": "research"})
        assert asked.json() == {"status": "pending"}, asked.text
    page.reload()
    expect(page.locator("#viewer-gated")).to_be_visible()
    owner_api.accept_access_request(repo, asker, repo_type="dataset")
    page.reload()
    expect(page.locator("#row-count")).to_have_text("20 rows")
    assert _column_cells(page, 3)[0] == "test row 0"
    context.close()


def test_viewer_forms_refuse_bad_input(live: LiveHub, ready: tuple[str, str, str], browser: Browser) -> None:
    context, page, _ = sign_in(browser, live.url, ready[0], PASSWORD)
    url = _viewer_url(live, ready[2])
    # Odd addresses fall back to something sensible: page "abc" is page 1, an unknown split the first one,
    # a page past the end the last page.
    for query, current in (("?page=abc", "1"), ("?split=nope&config=nope", "1"), ("?page=999", "3")):
        response = page.goto(url + query)
        assert response is not None and response.status == 200, query
        expect(page.locator(".viewer-pages .current")).to_have_text(current)
    page.goto(url + "?sort=no_such_column")
    expect(page.locator("#rows-error")).to_contain_text("Unknown column")
    page.goto(url)
    token_value = page.locator("#sql-console input[name=csrf_token]").get_attribute("value") or ""
    bad_format = page.request.post(
        f"{url}/sql/download", form={"csrf_token": token_value, "sql": "SELECT 1", "format": "xml"}
    )
    assert bad_format.status == 400 and "format must be csv or parquet" in bad_format.text()
    no_csrf = page.request.post(f"{url}/sql", form={"sql": "SELECT 1"})
    assert no_csrf.status == 403 and "did not come from this site" in no_csrf.text()
    refused = page.request.post(
        f"{url}/sql/download", form={"csrf_token": token_value, "sql": "ATTACH '/tmp/x.db'", "format": "csv"}
    )
    assert refused.status == 400 and "<html" in refused.text().lower()
    context.close()


def test_viewer_fits_a_phone_in_dark_and_light(browser: Browser, live: LiveHub, ready: tuple[str, str, str]) -> None:
    context: BrowserContext = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", ready[0])
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("a.me")).to_have_count(1)  # signed in (behind the phone's menu)
    page.goto(_viewer_url(live, ready[2]))
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, theme
        box = page.locator("#rows")
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")  # the table scrolls inside its box
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(13, 17, 23)" if theme == "dark" else "rgb(255, 255, 255)")
    assert problems == []
    context.close()
