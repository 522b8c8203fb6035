"""The dataset viewer's APIs against a live hub: a dataset pushed with huggingface_hub (two configs, CSV and
JSON Lines, two splits each) is converted by the hub's own job, then read through Hugging Face's
/datasets-server routes, CSGHub's dataviewer routes and the Hub's /api/datasets/{id}/parquet listing; a
private dataset, a gated one, a failed conversion and bad input are tried through every route (the SQL
console's own tests are in test_dataset_sql_api.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from tests.conftest import start_hub
from tests.support.clients import api
from tests.support.dataset_viewer import (
    NOTES_TRAIN,
    NOTES_VALIDATION,
    PEOPLE_TEST,
    PEOPLE_TRAIN,
    SPLITS,
    as_csv,
    call,
    get,
    push_dataset,
    push_mixed,
    wait_for,
)
from tests.support.live import LiveHub

pytestmark = pytest.mark.engine_bound  # scripts/test runs it on SQLite only (pyproject.toml)

DS = "/datasets-server"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    started = start_hub(tmp_path_factory.mktemp("viewer") / "data")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def dataset(hub: LiveHub) -> tuple[str, str]:
    """(repo id, owner's token) of the converted public dataset."""
    return push_mixed(hub)


@pytest.fixture(scope="module")
def private(hub: LiveHub) -> tuple[str, str]:
    user, token = hub.user("secret")
    repo_id = f"{user}/hidden"
    push_dataset(hub, token, repo_id, {"train.csv": as_csv(PEOPLE_TEST)}, private=True)
    wait_for(hub, token, repo_id)
    return repo_id, token


# --- Hugging Face's dataset-viewer shape ------------------------------------------------------------------------


def test_hf_splits_is_valid_info_and_size_describe_the_dataset(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    answer = get(hub, f"{DS}/splits", dataset=repo_id)
    assert answer.headers["access-control-allow-origin"] == "*"  # as HF's viewer, for pages on other origins
    splits = answer.json()
    assert splits == {
        "splits": [{"dataset": repo_id, "config": c, "split": s} for c, s in SPLITS],
        "pending": [],
        "failed": [],
    }
    assert get(hub, f"{DS}/splits", dataset=repo_id, config="notes").json()["splits"] == [
        {"dataset": repo_id, "config": "notes", "split": s} for s in ("train", "validation")
    ]
    assert get(hub, f"{DS}/is-valid", dataset=repo_id).json() == {
        "preview": True, "viewer": True, "search": True, "filter": True, "statistics": True,
    }  # fmt: skip
    info = get(hub, f"{DS}/info", dataset=repo_id, config="people").json()
    assert info["partial"] is False
    assert set(info["dataset_info"]["features"]) == {"name", "age", "city"}
    assert info["dataset_info"]["features"]["age"] == {"dtype": "int64", "_type": "Value"}
    assert info["dataset_info"]["splits"]["train"]["num_examples"] == 30
    whole = get(hub, f"{DS}/info", dataset=repo_id).json()["dataset_info"]
    assert set(whole) == {"people", "notes"} and whole["notes"]["splits"]["validation"]["num_examples"] == 1
    size = get(hub, f"{DS}/size", dataset=repo_id).json()["size"]
    assert size["dataset"]["num_rows"] == 30 + 5 + 12 + 1
    assert [(c["config"], c["num_rows"], c["num_columns"]) for c in size["configs"]] == [
        ("people", 35, 3),
        ("notes", 13, 3),
    ]
    assert [(s["config"], s["split"], s["num_rows"]) for s in size["splits"]] == [
        ("people", "train", 30), ("people", "test", 5), ("notes", "train", 12), ("notes", "validation", 1),
    ]  # fmt: skip
    one = get(hub, f"{DS}/size", dataset=repo_id, config="notes").json()["size"]
    assert one["config"]["num_rows"] == 13 and [s["split"] for s in one["splits"]] == ["train", "validation"]


def test_hf_parquet_urls_download_the_converted_rows(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, token = dataset
    body = get(hub, f"{DS}/parquet", dataset=repo_id).json()
    assert body["partial"] is False and body["pending"] == [] and body["failed"] == []
    files = body["parquet_files"]
    assert {(f["config"], f["split"]) for f in files} == set(SPLITS)
    train = next(f for f in files if (f["config"], f["split"]) == ("people", "train"))
    assert train["url"] == f"{hub.url}/datasets/{repo_id}/resolve/refs%2Fconvert%2Fparquet/people/train/0000.parquet"
    assert train["filename"] == "0000.parquet"
    with api(hub.url, token) as client:
        got = client.get(train["url"], follow_redirects=True)
    assert got.status_code == 200 and len(got.content) == train["size"]
    table = pq.read_table(io.BytesIO(got.content))
    assert table.num_rows == 30 and table.column("name").to_pylist()[:2] == ["person0", "person1"]
    one = get(hub, f"{DS}/parquet", dataset=repo_id, config="notes").json()
    assert {f["split"] for f in one["parquet_files"]} == {"train", "validation"}
    assert set(one["features"]) == {"text", "score", "flag"}


def test_hf_first_rows_and_rows_page_through_a_split(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    first = get(hub, f"{DS}/first-rows", dataset=repo_id, config="people", split="train").json()
    assert (first["dataset"], first["config"], first["split"], first["truncated"]) == (
        repo_id,
        "people",
        "train",
        False,
    )
    assert [f["name"] for f in first["features"]] == ["name", "age", "city"]
    assert [r["row"] for r in first["rows"]] == PEOPLE_TRAIN
    page = get(hub, f"{DS}/rows", dataset=repo_id, config="people", split="train", offset=10, length=5).json()
    assert page["num_rows_total"] == 30 and page["num_rows_per_page"] == 100 and page["partial"] is False
    assert [r["row_idx"] for r in page["rows"]] == [10, 11, 12, 13, 14]
    assert [r["row"]["name"] for r in page["rows"]] == [f"person{i}" for i in range(10, 15)]
    notes = get(hub, f"{DS}/rows", dataset=repo_id, config="notes", split="train", length=2).json()
    assert notes["rows"][1] == {"row_idx": 1, "row": NOTES_TRAIN[1], "truncated_cells": []}


def test_hf_search_finds_text_in_any_string_column(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    found = get(hub, f"{DS}/search", dataset=repo_id, config="people", split="train", query="BERLIN").json()
    assert found["num_rows_total"] == 6
    assert [r["row_idx"] for r in found["rows"]] == [1, 6, 11, 16, 21, 26]
    assert all(r["row"]["city"] == "Berlin" for r in found["rows"])
    paged = get(hub, f"{DS}/search", dataset=repo_id, config="notes", split="train", query="cats", offset=2, length=2)
    assert [r["row_idx"] for r in paged.json()["rows"]] == [5, 7]


def test_hf_filter_reads_where_and_orderby(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    split = {"dataset": repo_id, "config": "people", "split": "train"}
    found = get(hub, f"{DS}/filter", **split, where='"age" >= 40 AND "city" = \'Paris\'', orderby='"age" DESC').json()
    assert [(r["row"]["age"], r["row"]["city"]) for r in found["rows"]] == [(45, "Paris"), (40, "Paris")]
    assert found["num_rows_total"] == 2 and [r["row_idx"] for r in found["rows"]] == [25, 20]
    bare = get(hub, f"{DS}/filter", **split, where="age < 22").json()
    assert [r["row"]["name"] for r in bare["rows"]] == ["person0", "person1"]
    listed = get(hub, f"{DS}/filter", **split, where="\"city\" IN ('Lima', 'Oslo') AND \"name\" ILIKE '%son1%'").json()
    assert [r["row"]["name"] for r in listed["rows"]] == ["person12", "person13", "person17", "person18"]
    ordered = get(hub, f"{DS}/filter", **split, orderby='"city", "age" DESC', length=3).json()
    assert [r["row"]["name"] for r in ordered["rows"]] == ["person26", "person21", "person16"]
    notes = get(hub, f"{DS}/filter", dataset=repo_id, config="notes", split="train", where='"flag" = true').json()
    assert [r["row_idx"] for r in notes["rows"]] == [0, 3, 6, 9]
    # OR, NOT and parentheses, as HF's viewer reads a WHERE clause (AND binds tighter than OR).
    either = get(hub, f"{DS}/filter", **split, where='"age" < 21 OR "age" > 48 AND NOT "city" = \'Lima\'').json()
    expected = [r for r in PEOPLE_TRAIN if r["age"] < 21 or (r["age"] > 48 and r["city"] != "Lima")]
    assert [r["row"] for r in either["rows"]] == expected and either["num_rows_total"] == len(expected)
    grouped = get(hub, f"{DS}/filter", **split, where='("age" < 23 OR "age" > 47) AND "city" IN (\'Paris\')').json()
    assert [r["row"] for r in grouped["rows"]] == [
        r for r in PEOPLE_TRAIN if (r["age"] < 23 or r["age"] > 47) and r["city"] == "Paris"
    ]


@pytest.mark.parametrize(
    ("where", "orderby", "needle"),
    [
        ("age = 1; DROP TABLE x", "", "cannot be read"),
        ('"age" = 1 OR 1=1', "", "expected a column name"),
        ('"age" = (SELECT 1)', "", "expected a literal"),
        ("readas_csv('/etc/passwd') = 1", "", "expected an operator"),
        ("\"name\" LIKE 'x%'", "", "ILIKE"),
        ('"age" = NULL', "", "IS NULL"),
        ('"nope" = 1', "", "Unknown column"),
        ("\"age\" = 'old'", "", "does not fit"),
        ("", '"age" DESC; SELECT 1', "cannot be read"),
        ("", "random()", "expected , or the end"),
    ],
)
def test_hf_filter_refuses_what_the_grammar_does_not_allow(
    hub: LiveHub, dataset: tuple[str, str], where: str, orderby: str, needle: str
) -> None:
    repo_id, _ = dataset
    refused = get(hub, f"{DS}/filter", dataset=repo_id, config="people", split="train", where=where, orderby=orderby)
    assert refused.status_code == 400, refused.text
    assert needle in refused.json()["error"], refused.text


def test_hf_statistics_describe_each_column(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    stats = get(hub, f"{DS}/statistics", dataset=repo_id, config="people", split="train").json()
    assert stats["num_examples"] == 30 and stats["partial"] is False
    by_name = {c["column_name"]: c for c in stats["statistics"]}
    assert by_name["age"]["column_type"] == "int"
    assert (by_name["age"]["column_statistics"]["min"], by_name["age"]["column_statistics"]["max"]) == (20, 49)
    assert by_name["city"]["column_statistics"]["n_unique"] == 5


# --- CSGHub's shape -----------------------------------------------------------------------------------------------


def test_csghub_catalog_lists_configs_splits_and_state(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    body = get(hub, f"/api/v1/datasets/{repo_id}/dataviewer/catalog").json()
    assert body["msg"] == "OK"
    data = body["data"]
    assert (data["state"], data["status"], data["logs"], data["num_rows"]) == ("ready", 2, "", 48)
    assert [c["config_name"] for c in data["configs"]] == ["people", "notes"]
    assert data["configs"][0]["data_files"] == [
        {"split": "train", "path": ["people/train/0000.parquet"]},
        {"split": "test", "path": ["people/test/0000.parquet"]},
    ]
    notes = data["dataset_info"][1]
    assert notes["config_name"] == "notes"
    assert [(s["name"], s["num_examples"]) for s in notes["splits"]] == [("train", 12), ("validation", 1)]


def test_csghub_rows_take_structured_where_orderby_per_and_page(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    url = f"/api/v1/datasets/{repo_id}/dataviewer/rows"
    plain = get(hub, url, config="people", split="test").json()["data"]
    assert plain["columns"] == ["name", "age", "city"] and plain["columns_type"] == ["string", "int64", "string"]
    assert plain["rows"] == [[r["name"], r["age"], r["city"]] for r in PEOPLE_TEST] and plain["total"] == 5
    with api(hub.url) as client:
        params = (
            ("config", "people"), ("split", "train"), ("where", "age:ge:30"), ("where", "city:in:Paris,Oslo"),
            ("orderby", "age:desc"), ("per", "2"), ("page", "2"),
        )  # fmt: skip
        found = client.get(url, params=params).json()["data"]
    # Paris or Oslo with age >= 30: ages 48 45 43 40 38 35 33 30 by age descending; page 2 holds 43 and 40.
    assert found["total"] == 8 and found["rows"] == [["person23", 43, "Oslo"], ["person20", 40, "Paris"]]
    assert found["row_idx"] == [23, 20] and found["where"] == ["age:ge:30", "city:in:Paris,Oslo"]
    as_json = json.dumps([{"column": "flag", "op": "eq", "value": True}, {"column": "score", "op": "gt", "value": 1}])
    flagged = get(hub, url, config="notes", split="train", where=as_json).json()["data"]
    assert [r[0] for r in flagged["rows"]] == ["note number 6 about dogs", "note number 9 about cats"]
    searched = get(hub, url, config="people", split="train", search="lima", per=3).json()["data"]
    assert searched["total"] == 6 and [r[0] for r in searched["rows"]] == ["person2", "person7", "person12"]


# --- the Hub's own Parquet listing ------------------------------------------------------------------------------


def test_hub_parquet_listing_names_every_shard_and_redirects_to_it(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    listing = get(hub, f"/api/datasets/{repo_id}/parquet").json()
    base = f"{hub.url}/api/datasets/{repo_id}/parquet"
    assert listing == {
        "people": {"train": [f"{base}/people/train/0.parquet"], "test": [f"{base}/people/test/0.parquet"]},
        "notes": {"train": [f"{base}/notes/train/0.parquet"], "validation": [f"{base}/notes/validation/0.parquet"]},
    }
    assert get(hub, f"/api/datasets/{repo_id}/parquet/notes").json() == listing["notes"]
    assert get(hub, f"/hf/api/datasets/{repo_id}/parquet").json() == listing
    assert get(hub, f"/api/datasets/{repo_id}/parquet/notes/validation").json() == [
        f"{base}/notes/validation/0.parquet"
    ]
    moved = get(hub, f"/api/datasets/{repo_id}/parquet/notes/validation/0.parquet")
    assert moved.status_code == 302
    assert moved.headers["location"].endswith("/resolve/refs%2Fconvert%2Fparquet/notes/validation/0000.parquet")
    with api(hub.url) as client:
        table = pq.read_table(io.BytesIO(client.get(moved.headers["location"], follow_redirects=True).content))
    assert table.to_pylist() == NOTES_VALIDATION
    missing = get(hub, f"/api/datasets/{repo_id}/parquet/notes/validation/1.parquet")
    assert missing.status_code == 404 and "1 Parquet files" in missing.json()["error"]


# --- permissions, failures and bad input ----------------------------------------------------------------------


def _every_route(repo_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    split = {"dataset": repo_id, "config": "default", "split": "train"}
    v1 = f"/api/v1/datasets/{repo_id}/dataviewer"
    return [
        ("GET", f"{DS}/is-valid", {"dataset": repo_id}),
        ("GET", f"{DS}/splits", {"dataset": repo_id}),
        ("GET", f"{DS}/first-rows", split),
        ("GET", f"{DS}/rows", split),
        ("GET", f"{DS}/search", {**split, "query": "Rome"}),
        ("GET", f"{DS}/filter", {**split, "where": '"age" > 1'}),
        ("GET", f"{DS}/parquet", {"dataset": repo_id}),
        ("GET", f"{DS}/info", {"dataset": repo_id}),
        ("GET", f"{DS}/size", {"dataset": repo_id}),
        ("GET", f"{DS}/statistics", split),
        ("GET", f"{v1}/catalog", {}),
        ("GET", f"{v1}/rows", {"config": "default", "split": "train"}),
        ("POST", f"{v1}/sql", {"sql": "SELECT count(*) AS n FROM train"}),
        ("POST", f"{v1}/sql/download", {"sql": "SELECT count(*) AS n FROM train"}),
        ("GET", f"{v1}/sql/download", {"sql": "SELECT count(*) AS n FROM train"}),
        ("GET", f"/api/datasets/{repo_id}/parquet", {}),
        ("GET", f"/api/datasets/{repo_id}/parquet/default", {}),
        ("GET", f"/api/datasets/{repo_id}/parquet/default/train", {}),
        ("GET", f"/api/datasets/{repo_id}/parquet/default/train/0.parquet", {}),
    ]


def test_private_dataset_is_hidden_from_everyone_but_its_owner_on_every_route(
    hub: LiveHub, private: tuple[str, str]
) -> None:
    repo_id, owner = private
    _, stranger = hub.user("stranger")
    _, read_only = hub.user("reader", scope="read")
    # The owner's own fine-grained token, granted another repository only.
    HfApi(endpoint=hub.url, token=owner).create_repo(f"{repo_id}-other")
    with api(hub.url, owner) as client:
        grant = {"target": f"model:{repo_id}-other", "actions": ["read"]}
        made = client.post("/api/v1/user/tokens", json={"name": "elsewhere", "scope": "fine", "grants": [grant]})
        assert made.status_code == 201, made.text
        elsewhere = made.json()["data"]["token"]
    for method, path, params in _every_route(repo_id):
        mine = call(hub, owner, method, path, params)
        assert mine.status_code in (200, 302), (path, mine.text)
        for token in (stranger, read_only, elsewhere):
            theirs = call(hub, token, method, path, params)
            assert theirs.status_code == 404 and "not found" in theirs.json()["error"].lower(), (path, theirs.text)
            assert "Rome" not in theirs.text and "tester" not in theirs.text
        anonymous = call(hub, None, method, path, params)
        # As for a download: an anonymous caller is asked to authenticate, without learning the dataset exists.
        assert anonymous.status_code == 401 and "not found" in anonymous.json()["error"].lower(), (path, anonymous.text)


def test_signed_in_portal_user_reads_their_private_dataset_with_the_session_cookie(hub: LiveHub) -> None:
    user, token = hub.user("cookie", password="a long enough password 1")
    repo_id = f"{user}/diary"
    push_dataset(hub, token, repo_id, {"train.csv": as_csv(PEOPLE_TEST)}, private=True)
    wait_for(hub, token, repo_id)
    with api(hub.url) as browser:
        signed_in = browser.post("/api/v1/auth/login", json={"username": user, "password": "a long enough password 1"})
        assert signed_in.status_code == 200, signed_in.text
        csrf = signed_in.json()["data"]["csrf_token"]
        rows = browser.get(f"{DS}/rows", params={"dataset": repo_id, "config": "default", "split": "train"})
        assert [r["row"]["name"] for r in rows.json()["rows"]] == [r["name"] for r in PEOPLE_TEST]
        sql = browser.post(
            f"/api/v1/datasets/{repo_id}/dataviewer/sql",
            json={"sql": "SELECT max(age) AS oldest FROM train"},
            headers={"X-CSRF-Token": csrf},
        )
        assert sql.status_code == 200, sql.text
        assert sql.json()["data"]["rows"] == [{"oldest": 64}]


def test_gated_dataset_needs_an_accepted_request_as_a_download_does(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, owner_token = dataset
    _, fan_token = hub.user("fan")
    owner = HfApi(endpoint=hub.url, token=owner_token)
    owner.update_repo_settings(repo_id, repo_type="dataset", gated="manual")
    try:
        split = {"dataset": repo_id, "config": "people", "split": "test"}
        refused = get(hub, f"{DS}/rows", fan_token, **split)
        assert refused.status_code == 403 and refused.headers["x-error-code"] == "GatedRepo", refused.text
        sql = call(hub, fan_token, "POST", f"/api/v1/datasets/{repo_id}/dataviewer/sql", {"sql": "SELECT 1 AS one"})
        assert sql.status_code == 403, sql.text
        with api(hub.url, fan_token) as client:
            assert client.post(f"/api/datasets/{repo_id}/ask-access", json={}).json() == {"status": "pending"}
        owner.accept_access_request(repo_id, hub_username(hub, fan_token), repo_type="dataset")
        allowed = get(hub, f"{DS}/rows", fan_token, **split)
        assert [r["row"]["name"] for r in allowed.json()["rows"]] == [r["name"] for r in PEOPLE_TEST]
    finally:
        owner.update_repo_settings(repo_id, repo_type="dataset", gated=False)


def hub_username(hub: LiveHub, token: str) -> str:
    return str(HfApi(endpoint=hub.url, token=token).whoami()["name"])


def test_model_repo_is_not_a_dataset_on_any_route(hub: LiveHub) -> None:
    user, token = hub.user("modeler")
    HfApi(endpoint=hub.url, token=token).create_repo(f"{user}/weights")
    for method, path, params in _every_route(f"{user}/weights"):
        r = call(hub, token, method, path, params)
        assert r.status_code == 404 and "not found" in r.json()["error"].lower(), (path, r.text)


def test_failed_conversion_reports_its_error(hub: LiveHub) -> None:
    user, token = hub.user("broken")
    repo_id = f"{user}/broken"
    push_dataset(hub, token, repo_id, {"train.jsonl": '{"a": 1}\n{"a" 2}\n'})
    catalog = wait_for(hub, token, repo_id, ("failed",))
    assert "train.jsonl" in catalog["logs"] and catalog["status"] == 3
    nothing = {"preview": False, "viewer": False, "search": False, "filter": False, "statistics": False}
    assert get(hub, f"{DS}/is-valid", token, dataset=repo_id).json() == nothing
    assert get(hub, f"{DS}/is-valid", token, dataset=repo_id, config="default", split="train").json() == nothing
    for route in ("splits", "parquet", "info", "size"):
        r = get(hub, f"{DS}/{route}", token, dataset=repo_id)
        assert r.status_code == 500 and r.headers["x-error-code"] == "DatasetGenerationError", r.text
        assert "could not convert" in r.json()["error"] and "train.jsonl" in r.json()["error"]
    rows = get(hub, f"/api/v1/datasets/{repo_id}/dataviewer/rows", token, config="default", split="train")
    assert rows.status_code == 404 and "train.jsonl" in rows.json()["msg"]


V1_ROWS = "/api/v1/datasets/{id}/dataviewer/rows"
TRAIN = {"config": "people", "split": "train"}


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        (f"{DS}/splits", {}, 400, "Parameter 'dataset' is required"),
        (f"{DS}/splits", {"dataset": "no-namespace"}, 400, "namespace/name"),
        (f"{DS}/rows", {"config": "people", "split": "train"}, 400, "Parameter 'dataset' is required"),
        (f"{DS}/rows", {"config": "people"}, 400, "Parameter 'split' is required"),
        (f"{DS}/rows", {"config": "people", "split": "train", "offset": -1}, 400, "offset must be 0 or more"),
        (f"{DS}/rows", {"config": "people", "split": "train", "length": 101}, 400, "length must be between 1 and 100"),
        (f"{DS}/rows", {"config": "people", "split": "train", "length": "ten"}, 400, "must be an integer"),
        (f"{DS}/rows", {"config": "people", "split": "nope"}, 404, "The split 'nope' does not exist"),
        (f"{DS}/rows", {"config": "nope", "split": "train"}, 404, "The config 'nope' does not exist"),
        (f"{DS}/splits", {"config": "nope"}, 404, "The config 'nope' does not exist"),
        (f"{DS}/statistics", {"config": "people", "split": "nope"}, 404, "The split 'nope' does not exist"),
        (f"{DS}/search", {"config": "people", "split": "train"}, 400, "Parameter 'query' is required"),
        (f"{DS}/search", {"config": "people", "split": "train", "query": "x" * 201}, 400, "longer than 200"),
        (V1_ROWS, {"config": "people"}, 400, "Parameter 'split' is required"),
        (V1_ROWS, {**TRAIN, "per": 0}, 400, "per must be"),
        (V1_ROWS, {**TRAIN, "page": 0}, 400, "page 1 or more"),
        (V1_ROWS, {**TRAIN, "where": "age>3"}, 400, "column:op:value"),
        (V1_ROWS, {**TRAIN, "where": "age:gt:old"}, 400, "does not fit"),
        (V1_ROWS, {"config": "people", "split": "x"}, 404, "The split 'x' does not exist"),
        ("/api/datasets/{id}/parquet/people/nope", {}, 404, "The split 'nope' does not exist"),
        ("/api/datasets/{id}/parquet/nope", {}, 404, "The config 'nope' does not exist"),
        ("/api/datasets/{id}/parquet/people/train/x.parquet", {}, 404, "is not one"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_4xx(
    hub: LiveHub, dataset: tuple[str, str], path: str, params: dict[str, Any], status: int, needle: str
) -> None:
    repo_id, _ = dataset
    if path.startswith(DS) and "dataset" not in params and "'dataset'" not in needle:
        params = {"dataset": repo_id, **params}
    r = get(hub, path.replace("{id}", repo_id), **params)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"], r.text


# --- the shapes, against Hugging Face's OpenAPI spec ----------------------------------------------------------

# Required keys of the response schemas in huggingface/dataset-viewer's docs/source/openapi.json, summarised.
HF_REQUIRED = {
    "SplitsResponse": {"splits"},
    "SplitItem": {"dataset", "config", "split"},
    "FirstRowsResponse": {"dataset", "config", "split", "features", "rows", "truncated"},
    "PaginatedResponse": {"features", "rows", "num_rows_total", "num_rows_per_page", "partial"},
    "FeatureItem": {"feature_idx", "name", "type"},
    "RowItem": {"row_idx", "row", "truncated_cells"},
    "IsValidResponse": {"preview", "viewer", "search", "filter", "statistics"},
    "ParquetResponse": {"parquet_files", "partial"},
    "SplitHubFile": {"dataset", "config", "split", "url", "filename", "size"},
    "InfoResponse": {"dataset_info", "partial"},
    "DatasetSizeResponse": {"size", "pending", "failed", "partial"},
    "DatasetSize": {"dataset", "num_bytes_parquet_files", "num_bytes_memory", "num_rows", "estimated_num_rows"},
    "ConfigSize": {"dataset", "config", "num_bytes_parquet_files", "num_bytes_memory", "num_rows", "num_columns",
                   "estimated_num_rows"},
    "SplitSize": {"dataset", "config", "split", "num_bytes_parquet_files", "num_bytes_memory", "num_rows",
                  "num_columns", "estimated_num_rows"},
    "StatisticsResponse": {"statistics", "num_examples"},
    "StatisticsPerColumnItem": {"column_name", "column_type", "column_statistics"},
    "CustomError": {"error"},
}  # fmt: skip
# Keys HF's examples carry beyond the required ones, which clients read too.
HF_EXAMPLE_EXTRAS = {"SplitsResponse": {"pending", "failed"}, "ParquetResponse": {"pending", "failed"}}


def _has(body: dict[str, Any], schema: str) -> None:
    missing = (HF_REQUIRED[schema] | HF_EXAMPLE_EXTRAS.get(schema, set())) - set(body)
    assert not missing, f"{schema} lacks {missing}: {body}"


def test_shapes_match_hugging_face_openapi(hub: LiveHub, dataset: tuple[str, str]) -> None:
    repo_id, _ = dataset
    split = {"dataset": repo_id, "config": "people", "split": "train"}
    splits = get(hub, f"{DS}/splits", dataset=repo_id).json()
    _has(splits, "SplitsResponse")
    _has(splits["splits"][0], "SplitItem")
    first = get(hub, f"{DS}/first-rows", **split).json()
    _has(first, "FirstRowsResponse")
    _has(first["features"][0], "FeatureItem")
    _has(first["rows"][0], "RowItem")
    for route, extra in (("rows", {}), ("search", {"query": "a"}), ("filter", {"where": '"age" > 1'})):
        page = get(hub, f"{DS}/{route}", **split, **extra).json()
        _has(page, "PaginatedResponse")
        _has(page["rows"][0], "RowItem")
    _has(get(hub, f"{DS}/is-valid", dataset=repo_id).json(), "IsValidResponse")
    parquet = get(hub, f"{DS}/parquet", dataset=repo_id).json()
    _has(parquet, "ParquetResponse")
    _has(parquet["parquet_files"][0], "SplitHubFile")
    _has(get(hub, f"{DS}/info", dataset=repo_id).json(), "InfoResponse")
    size = get(hub, f"{DS}/size", dataset=repo_id).json()
    _has(size, "DatasetSizeResponse")
    _has(size["size"]["dataset"], "DatasetSize")
    _has(size["size"]["configs"][0], "ConfigSize")
    _has(size["size"]["splits"][0], "SplitSize")
    stats = get(hub, f"{DS}/statistics", **split).json()
    _has(stats, "StatisticsResponse")
    _has(stats["statistics"][0], "StatisticsPerColumnItem")
    _has(get(hub, f"{DS}/rows", dataset=repo_id, config="people", split="nope").json(), "CustomError")
