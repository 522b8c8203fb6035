"""The viewer's routes while a conversion is pending, in process: the application without its background loop
keeps a pushed dataset queued until the test runs the conversion (conversions.run_pending), so what
clients see before, after, and while a newer commit waits is certain rather than a race."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from csghub.app import create_app
from csghub.config import load_settings
from csghub.services.context import Hub
from csghub.services.datasets import conversions
from csghub.services.identity import accounts, tokens
from csghub.wiring import build_hub

DATASET = "alice/reviews"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return build_hub(load_settings({}, None, {"data_dir": tmp_path / "data"}))


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    accounts.create_user(hub, "alice", email="alice@example.com", password="")
    token = tokens.create_token(hub, "alice", scope="write")[0]
    # Not entered as a context manager: the application's startup (and so its conversion loop) never runs.
    yield TestClient(create_app(hub.settings, hub), headers={"Authorization": f"Bearer {token}"})


def _push(client: TestClient, files: dict[str, str]) -> None:
    lines = [{"key": "header", "value": {"summary": "data"}}]
    for path, text in files.items():
        content = base64.b64encode(text.encode()).decode()
        lines.append({"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}})
    body = "".join(json.dumps(line) + "\n" for line in lines)
    pushed = client.post(f"/api/datasets/{DATASET}/commit/main", content=body)
    assert pushed.status_code == 200, pushed.text


def test_a_dataset_converting_answers_response_not_ready_then_its_rows(hub: Hub, client: TestClient) -> None:
    assert client.post("/api/repos/create", json={"name": "reviews", "type": "dataset"}).status_code == 200
    _push(client, {"train.csv": "text,stars\ngood,5\nbad,1\n"})

    waiting = client.get("/datasets-server/splits", params={"dataset": DATASET})
    assert waiting.status_code == 500 and waiting.headers["x-error-code"] == "ResponseNotReady", waiting.text
    assert "converting" in waiting.json()["error"]
    assert client.get("/datasets-server/is-valid", params={"dataset": DATASET}).json()["viewer"] is False
    catalog = client.get(f"/api/v1/datasets/{DATASET}/dataviewer/catalog").json()["data"]
    assert (catalog["state"], catalog["status"], catalog["configs"]) == ("queued", 1, [])
    rows = client.get(f"/api/v1/datasets/{DATASET}/dataviewer/rows", params={"config": "default", "split": "train"})
    assert rows.status_code == 404 and "converting" in rows.json()["msg"]
    listing = client.get(f"/api/datasets/{DATASET}/parquet")
    assert listing.status_code == 404 and "converting" in listing.json()["error"]

    conversions.run_pending(hub)
    page = client.get("/datasets-server/rows", params={"dataset": DATASET, "config": "default", "split": "train"})
    assert [r["row"] for r in page.json()["rows"]] == [{"text": "good", "stars": 5}, {"text": "bad", "stars": 1}]

    # A newer commit waits for its conversion; the last converted one stays readable meanwhile.
    _push(client, {"train.csv": "text,stars\nfine,3\n"})
    catalog = client.get(f"/api/v1/datasets/{DATASET}/dataviewer/catalog").json()["data"]
    assert catalog["state"] == "queued" and catalog["dataset_info"][0]["splits"][0]["num_examples"] == 2
    assert client.get("/datasets-server/is-valid", params={"dataset": DATASET}).json()["viewer"] is True
    assert client.get("/datasets-server/size", params={"dataset": DATASET}).json()["size"]["dataset"]["num_rows"] == 2
    conversions.run_pending(hub)
    size = client.get("/datasets-server/size", params={"dataset": DATASET}).json()
    assert size["size"]["dataset"]["num_rows"] == 1
