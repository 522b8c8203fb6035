"""A dataset's metadata as the Hub's seeds show it, against a live hub: its card's task_categories,
task_ids, language and size_categories (and, without one, the size category of the row count its
conversion found) in HF's info and listings as `cardData` and `<field>:<value>` tags, in CSGHub's
/api/v1/datasets listing, on the portal's listing cards and dataset page; and usable as filters the
way huggingface_hub's list_datasets sends them, CSGHub's tag filters, and the portal's filter sidebar,
in English and Chinese. Private datasets stay out of other people's listings."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
from huggingface_hub import HfApi
from playwright.sync_api import Browser, expect

from tests.support.clients import api, create_repo, write_file
from tests.support.live import LiveHub
from tests.support.parquet_ref import wait_for_conversion


def _card(
    tasks: list[str], languages: list[str], size: str | None = None, subtasks: tuple[str, ...] = (), body: str = ""
) -> str:
    lines = ["---", "license: mit", "task_categories:", *[f"- {t}" for t in tasks]]
    if subtasks:
        lines += ["task_ids:", *[f"- {t}" for t in subtasks]]
    lines += ["language:", *[f"- {lang}" for lang in languages]]
    if size:
        lines += ["size_categories:", f"- {size}"]
    return "\n".join([*lines, "---", "# A dataset", "", body or "Rows of text.", ""])


def _dataset(live: LiveHub, token: str, repo: str, card: str, *, private: bool = False) -> None:
    create_repo(live.url, token, repo, repo_type="dataset", private=private)
    write_file(live.url, token, repo, "README.md", card, repo_type="dataset")


def _ids(found: Any) -> set[str]:
    return {d.id for d in found}


def test_dataset_card_metadata_is_in_info_and_listings_as_the_hub_tags_it(live: LiveHub) -> None:
    owner, token = live.user("meta")
    repo = f"{owner}/reviews"
    card = _card(["text-classification"], ["en", "zh"], "1K<n<10K", ("sentiment-classification",))
    _dataset(live, token, repo, card)
    expected_tags = {
        "task_categories:text-classification",
        "task_ids:sentiment-classification",
        "language:en",
        "language:zh",
        "size_categories:1K<n<10K",
        "license:mit",
    }
    info = HfApi(endpoint=live.url).dataset_info(repo)
    assert info.card_data is not None
    assert info.card_data["task_categories"] == ["text-classification"]
    assert info.card_data["language"] == ["en", "zh"] and info.card_data["size_categories"] == ["1K<n<10K"]
    assert set(info.tags or []) == expected_tags
    [listed] = HfApi(endpoint=live.url).list_datasets(author=owner)
    assert set(listed.tags or []) == expected_tags
    with api(live.url) as client:
        raw = client.get("/api/datasets", params={"author": owner}).json()
        csg = client.get("/api/v1/datasets", params={"author": owner}).json()
    assert raw[0]["cardData"]["task_ids"] == ["sentiment-classification"]
    assert csg["total"] == 1 and csg["data"][0]["path"] == repo
    assert set(csg["data"][0]["tags"]) == expected_tags and csg["data"][0]["size_category"] == "1K<n<10K"
    # A model's languages stay bare tags, as the Hub has them.
    model = f"{owner}/tagger"
    create_repo(live.url, token, model)
    write_file(live.url, token, model, "README.md", "---\nlanguage: [en]\npipeline_tag: token-classification\n---\n")
    model_tags = HfApi(endpoint=live.url).model_info(model).tags or []
    assert "en" in model_tags and "language:en" not in model_tags


def test_list_datasets_filters_as_huggingface_hub_sends_them(live: LiveHub) -> None:
    owner, token = live.user("filt")
    a, b, c, hidden = (f"{owner}/{n}" for n in ("a", "b", "c", "hidden"))
    _dataset(live, token, a, _card(["text-classification"], ["en"], "1K<n<10K", ("sentiment-classification",)))
    _dataset(live, token, b, _card(["translation"], ["en", "fr"], "n<1K"))
    _dataset(live, token, c, _card(["text-classification"], ["zh"]))
    _dataset(live, token, hidden, _card(["text-classification"], ["en"], "n<1K"), private=True)
    hf = HfApi(endpoint=live.url)

    assert _ids(hf.list_datasets(author=owner, task_categories="text-classification")) == {a, c}
    assert _ids(hf.list_datasets(author=owner, language="en")) == {a, b}
    assert _ids(hf.list_datasets(author=owner, language=["en", "fr"])) == {b}, "every filter must hold"
    assert _ids(hf.list_datasets(author=owner, size_categories="n<1K")) == {b}
    assert _ids(hf.list_datasets(author=owner, task_ids="sentiment-classification")) == {a}
    assert _ids(hf.list_datasets(author=owner, filter=["language:en", "task_categories:text-classification"])) == {a}
    assert _ids(hf.list_datasets(author=owner, filter="language:zh")) == {c}
    assert _ids(hf.list_datasets(author=owner, language="de")) == set()
    # The parameters as a plain HTTP client sends them, and prefixed values passed through as given.
    with api(live.url) as client:
        for params in ({"language": "fr"}, {"task_categories": "translation"}, {"language": "language:fr"}):
            found = client.get("/api/datasets", params={"author": owner, **params}).json()
            assert [d["id"] for d in found] == [b], params
    # Private datasets: in their owner's listings only.
    assert _ids(HfApi(endpoint=live.url, token=token).list_datasets(author=owner, size_categories="n<1K")) == {
        b,
        hidden,
    }
    _, other_token = live.user("other")
    assert hidden not in _ids(HfApi(endpoint=live.url, token=other_token).list_datasets(author=owner))


def test_csghub_dataset_listing_filters_by_tag_category_and_pages(live: LiveHub) -> None:
    owner, token = live.user("csg")
    a, b, c = (f"{owner}/{n}" for n in ("one", "two", "three"))
    _dataset(live, token, a, _card(["summarization"], ["en"], "n<1K"))
    _dataset(live, token, b, _card(["summarization"], ["zh"], "10K<n<100K"))
    _dataset(live, token, c, _card(["translation"], ["zh"]), private=True)

    def listing(token_: str | None = None, **params: Any) -> dict[str, Any]:
        with api(live.url, token_) as client:
            r = client.get("/api/v1/datasets", params={"author": owner, **params})
        assert r.status_code == 200, r.text
        return r.json()

    found = listing(tag_category="task", tag_name="summarization")
    assert found["msg"] == "OK" and found["total"] == 2 and {d["path"] for d in found["data"]} == {a, b}
    found = listing(tag_category=["task", "language"], tag_name=["summarization", "zh"])
    assert [d["path"] for d in found["data"]] == [b]
    assert [d["path"] for d in listing(size_categories="n<1K")["data"]] == [a]
    assert [d["path"] for d in listing(tag_category="size", tag_name="10K<n<100K")["data"]] == [b]
    assert [d["path"] for d in listing(token, language="zh", sort="recently_update")["data"]] == [c, b]
    assert listing(language="zh")["total"] == 1, "a private dataset is not counted for others"
    first, second = listing(per=1, page=1, sort="recently_update"), listing(per=1, page=2, sort="recently_update")
    assert first["total"] == second["total"] == 2
    assert [first["data"][0]["path"], second["data"][0]["path"]] == [b, a]
    assert listing(per=1, page=3)["data"] == []


def test_a_datasets_row_count_gives_its_size_category_unless_its_card_has_one(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("rows")
    counted, carded = f"{owner}/counted", f"{owner}/carded"
    rows = "id,text\n" + "".join(f"{i},row {i}\n" for i in range(1500))
    _dataset(live, token, counted, _card(["text-classification"], ["en"]))
    _dataset(live, token, carded, _card(["text-classification"], ["en"], "n<1K"))
    for repo in (counted, carded):
        write_file(live.url, token, repo, "data/train.csv", rows, repo_type="dataset")
        assert wait_for_conversion(live, token, repo).num_rows == 1500
    hf = HfApi(endpoint=live.url)
    info = hf.dataset_info(counted)
    assert "size_categories:1K<n<10K" in (info.tags or [])
    assert info.card_data is not None and info.card_data.get("size_categories") is None, "cardData is the card"
    assert [t for t in hf.dataset_info(carded).tags or [] if t.startswith("size_")] == ["size_categories:n<1K"]
    assert _ids(hf.list_datasets(author=owner, size_categories="1K<n<10K")) == {counted}
    assert _ids(hf.list_datasets(author=owner, size_categories="n<1K")) == {carded}
    with api(live.url) as client:
        found = client.get("/api/v1/datasets", params={"author": owner}).json()["data"]
    assert {(d["path"], d["num_rows"], d["size_category"]) for d in found} == {
        (counted, 1500, "1K<n<10K"),
        (carded, 1500, "n<1K"),
    }
    page = browser.new_page()
    page.goto(f"{live.url}/datasets?author={owner}&size=1K%3Cn%3C10K")
    card = page.locator(".repo-list .repo-card")
    expect(card.locator(".name")).to_have_text([counted])
    expect(card.locator(".rows")).to_have_text("Rows 1,500")
    page.goto(f"{live.url}/datasets/{counted}")
    expect(page.locator(".facts dl")).to_contain_text("1,500")
    expect(page.locator(".facts dl")).to_contain_text("1K<n<10K")
    page.close()


def test_csghub_dataset_listing_refuses_bad_filters_with_a_message(live: LiveHub) -> None:
    bad = [
        ({"tag_category": "colour", "tag_name": "red"}, "Unknown tag category 'colour'"),
        ({"tag_category": "task"}, "come in pairs"),
        ({"tag_category": "task", "tag_name": ""}, "needs a value"),
        ({"per": "ten"}, "'per' must be a whole number"),
        ({"per": "101"}, "'per' must be a whole number up to 100"),
        ({"page": "-1"}, "'page' must be a whole number"),
        ({"sort": "loudest"}, "Cannot sort by 'loudest'"),
    ]
    for params, message in bad:
        r = httpx.get(f"{live.url}/api/v1/datasets", params=params)
        assert r.status_code == 400, (params, r.text)
        assert message in r.json()["error"], (params, r.text)
    assert httpx.get(f"{live.url}/api/v1/nothings").status_code == 404


def test_portal_dataset_listing_shows_metadata_and_filters_by_it(browser: Browser, live: LiveHub) -> None:
    owner, token = live.user("portal")
    # Values of their own, so the hub-wide suggestions of this module's other tests do not interfere.
    lang, task = f"x{secrets.token_hex(3)}", f"task-{secrets.token_hex(3)}"
    shown, other = f"{owner}/shown", f"{owner}/other"
    body = "Short product reviews, each labelled positive or negative."
    _dataset(live, token, shown, _card([task], [lang, "en"], "1K<n<10K", ("sentiment-classification",), body))
    _dataset(live, token, other, _card([task], ["en"]))
    page = browser.new_page()
    page.goto(f"{live.url}/datasets?author={owner}")
    form = page.locator(".filter-form")
    for name in ("task", "subtask", "language", "size", "license"):
        expect(form.locator(f"input[name={name}]")).to_have_count(1)
    expect(form.locator("input[name=library]")).to_have_count(0)
    expect(page.locator(f"#facet-language option[value='{lang}']")).to_have_text(f"{lang} (1)")
    expect(page.locator(f"#facet-task option[value='{task}']")).to_have_text(f"{task} (2)")
    expect(page.locator("#facet-size option[value='1K<n<10K']")).to_have_count(1)
    expect(page.locator(".repo-list .repo-card")).to_have_count(2)
    card = page.locator(".repo-card", has_text=shown)
    expect(card.locator(".languages")).to_have_text(f"{lang}, en")
    expect(card.locator(".size-category")).to_have_text("1K<n<10K")

    form.locator("input[name=language]").fill(lang)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/datasets\?.*language={lang}"))
    expect(page.locator(".repo-list .repo-card .name")).to_have_text([shown])
    page.goto(f"{live.url}/datasets?author={owner}&size=1K%3Cn%3C10K")
    expect(page.locator(".repo-list .repo-card .name")).to_have_text([shown])

    # The dataset page: its metadata, its tags as links to the filtered listing, the card's description.
    page.goto(f"{live.url}/datasets/{shown}")
    facts = page.locator(".facts dl")
    expect(facts).to_contain_text("sentiment-classification")
    expect(facts).to_contain_text("1K<n<10K")
    expect(page.locator("article.markdown")).to_contain_text(body)
    page.locator(".facts .tags a", has_text=f"language:{lang}").click()
    page.wait_for_url(re.compile(r".*/datasets\?tag=language"))
    expect(page.locator(".repo-list .repo-card .name")).to_have_text([shown])
    page.close()

    context = browser.new_context()
    context.add_cookies([{"name": "lang", "value": "zh", "url": live.url}])
    zh = context.new_page()
    zh.goto(f"{live.url}/datasets?author={owner}")
    labels = zh.locator(".filter-form").inner_text()
    for word in ("任务", "子任务", "语言", "规模", "许可证"):
        assert word in labels, labels
    zh.goto(f"{live.url}/datasets/{shown}")
    expect(zh.locator(".facts dl")).to_contain_text("子任务")
    expect(zh.locator(".facts dl")).to_contain_text("规模")
    context.close()
