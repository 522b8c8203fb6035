"""A small dataset of two configs (CSV and JSON Lines, two splits each) for the dataset viewer's live tests,
pushed with huggingface_hub, and a bounded wait for the hub's conversion of it."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import httpx
from huggingface_hub import HfApi

from tests.support.clients import api
from tests.support.live import LiveHub

README = """---
configs:
- config_name: people
  data_files:
  - split: train
    path: people/train.csv
  - split: test
    path: people/test.csv
- config_name: notes
  data_files:
  - split: train
    path: notes/train.jsonl
  - split: validation
    path: notes/validation.jsonl
---
# A small dataset
"""
CITIES = ["Paris", "Berlin", "Lima", "Oslo", "Quito"]
PEOPLE_TRAIN = [{"name": f"person{i}", "age": 20 + i, "city": CITIES[i % 5]} for i in range(30)]
PEOPLE_TEST = [{"name": f"tester{i}", "age": 60 + i, "city": "Rome"} for i in range(5)]
NOTES_TRAIN = [{"text": f"note number {i} about {'cats' if i % 2 else 'dogs'}", "score": i / 4, "flag": i % 3 == 0}
               for i in range(12)]  # fmt: skip
NOTES_VALIDATION = [{"text": "a lone note", "score": 9.5, "flag": False}]
SPLITS = [("people", "train"), ("people", "test"), ("notes", "train"), ("notes", "validation")]
DS = "/datasets-server"


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def as_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def push_dataset(hub: LiveHub, token: str, repo_id: str, files: dict[str, str], *, private: bool = False) -> None:
    client = HfApi(endpoint=hub.url, token=token)
    client.create_repo(repo_id, repo_type="dataset", private=private)
    folder = hub.data_dir.parent / f"push-{repo_id.replace('/', '-')}"
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    client.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)


def wait_for(hub: LiveHub, token: str, repo_id: str, states: tuple[str, ...] = ("ready",)) -> dict[str, Any]:
    """The catalog once the conversion reached one of `states` (polled, bounded)."""
    deadline = time.monotonic() + 90
    with api(hub.url, token) as client:
        while True:
            found = client.get(f"/api/v1/datasets/{repo_id}/dataviewer/catalog")
            assert found.status_code == 200, found.text
            catalog: dict[str, Any] = found.json()["data"]
            if catalog["state"] in states:
                return catalog
            assert time.monotonic() < deadline, f"conversion of {repo_id} still {catalog['state']} after 90 s"
            time.sleep(0.2)


def push_mixed(hub: LiveHub) -> tuple[str, str]:
    """(repo id, owner's token) of the two-config dataset, pushed and converted."""
    user, token = hub.user("owner")
    repo_id = f"{user}/mixed"
    files = {
        "README.md": README,
        "people/train.csv": as_csv(PEOPLE_TRAIN),
        "people/test.csv": as_csv(PEOPLE_TEST),
        "notes/train.jsonl": as_jsonl(NOTES_TRAIN),
        "notes/validation.jsonl": as_jsonl(NOTES_VALIDATION),
    }
    push_dataset(hub, token, repo_id, files)
    wait_for(hub, token, repo_id)
    return repo_id, token


def get(hub: LiveHub, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    with api(hub.url, token) as client:
        return client.get(path, params=params)


def call(hub: LiveHub, token: str | None, method: str, path: str, params: dict[str, Any]) -> httpx.Response:
    """A GET with `params` as the query, or a POST with them as the JSON body."""
    with api(hub.url, token) as client:
        if method == "POST":
            return client.post(path, json=params)
        return client.get(path, params=params)
