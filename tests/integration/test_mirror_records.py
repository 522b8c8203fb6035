"""Mirrors' records through CSGHub's API, in process and on both databases: what creating one checks (the
body, the source, who may create, the name), a task's states (one active per mirror, cancel, retry), the
schedule's choice of due mirrors, and who sees what. The application runs without its background loops,
so nothing syncs here: tests/e2e/test_mirror_sync.py syncs between two live hubs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from csghub.app import create_app
from csghub.config import load_settings
from csghub.db.models import Mirror, MirrorTask, utcnow
from csghub.services.context import Hub
from csghub.services.identity import accounts, tokens
from csghub.services.mirrors import scheduler
from csghub.services.mirrors.sources import SourceSpec, create_source
from csghub.services.permissions import Actor
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url

ROOT = Actor(user_id=0, name="root", is_admin=True)


def _hub(tmp_path: Path, **settings: Any) -> Hub:
    overrides: dict[str, Any] = {"data_dir": tmp_path / "data", "outbound_allow_hosts": ["127.0.0.1"], **settings}
    if fresh_database_url():
        overrides["database_url"] = fresh_database_url()
    hub = build_hub(load_settings({}, None, overrides))
    create_source(hub, ROOT, SourceSpec(name="hf", base_url="http://127.0.0.1:9"))
    return hub


def _client(hub: Hub, name: str, *, admin: bool = False) -> TestClient:
    accounts.create_user(hub, name, email=f"{name}@example.com", is_admin=admin)
    token = tokens.create_token(hub, name, scope="write")[0]
    # Not entered as a context manager: the application's startup (and so its background loops) never runs.
    return TestClient(create_app(hub.settings, hub), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return _hub(tmp_path)


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"])


def test_creating_a_mirror_checks_its_body_source_and_name(hub: Hub) -> None:
    root = _client(hub, "root", admin=True)
    url = "/api/v1/models/root/tiny/mirror"
    assert "upstream" in _error(root.post(url, json={"source": "hf"}), 400)
    assert "source" in _error(root.post(url, json={"upstream": "a/b"}), 400)
    assert "interval" in _error(root.post(url, json={"source": "hf", "upstream": "a/b", "interval": 5}), 400)
    assert "interval" in _error(root.post(url, json={"source": "hf", "upstream": "a/b", "interval": "soon"}), 400)
    assert _error(root.post(url, json={"source": "nope", "upstream": "a/b"}), 404).startswith("Mirror source not found")
    assert root.post(url, json={"source": "hf", "upstream": "a/../b"}).status_code == 400
    made = root.post(url, json={"mirror_source_id": 1, "source_url": "https://huggingface.co/Org/Tiny.git"})
    assert made.status_code == 200, made.text
    data = made.json()["data"]
    assert (data["source_repo_path"], data["mirror_source"], data["status"]) == (
        "Org/Tiny",
        {"source_name": "hf"},
        "queued",
    )
    assert data["task"]["trigger"] == "create" and data["interval"] == 86400
    assert root.post(url, json={"source": "hf", "upstream": "a/b"}).status_code == 409  # the name is taken
    assert root.get("/api/v1/models/root/other/mirror").status_code == 404


def test_only_admins_create_mirrors_unless_the_setting_lets_users(tmp_path: Path) -> None:
    hub = _hub(tmp_path / "a")
    alice = _client(hub, "alice")
    assert "administrators" in _error(
        alice.post("/api/v1/models/alice/m/mirror", json={"source": "hf", "upstream": "a/b"}), 403
    )
    open_hub = _hub(tmp_path / "b", mirror_creators="users")
    alice = _client(open_hub, "alice")
    assert alice.post("/api/v1/models/alice/m/mirror", json={"source": "hf", "upstream": "a/b"}).status_code == 200
    _client(open_hub, "bob")
    assert alice.post("/api/v1/models/bob/m/mirror", json={"source": "hf", "upstream": "a/b"}).status_code == 403


def test_one_active_task_per_mirror_cancel_and_retry(hub: Hub) -> None:
    root = _client(hub, "root", admin=True)
    first = root.post("/api/v1/models/root/tiny/mirror", json={"source": "hf", "upstream": "a/b"}).json()["data"]
    task_id = first["task"]["id"]
    assert root.post("/api/v1/models/root/tiny/mirror/sync").json()["data"]["id"] == task_id  # the active one
    assert "cancel it first" in _error(root.post(f"/api/v1/mirror/tasks/{task_id}/retry"), 409)
    assert root.post(f"/api/v1/mirror/tasks/{task_id}/cancel").json()["data"]["state"] == "cancelled"
    assert "already ended" in _error(root.post(f"/api/v1/mirror/tasks/{task_id}/cancel"), 409)
    retried = root.post(f"/api/v1/mirror/tasks/{task_id}/retry").json()["data"]
    assert retried["id"] != task_id and (retried["state"], retried["trigger"]) == ("queued", "retry")
    listed = root.get("/api/v1/mirror/tasks", params={"state": "cancelled"}).json()
    assert (listed["total"], listed["data"][0]["id"]) == (1, task_id)
    assert "Invalid state" in _error(root.get("/api/v1/mirror/tasks", params={"state": "lost"}), 400)
    assert root.post("/api/v1/mirror/tasks/999999/cancel").status_code == 404
    bob = _client(hub, "bob")
    assert bob.post(f"/api/v1/mirror/tasks/{retried['id']}/cancel").status_code == 404  # not his: not found
    assert bob.get("/api/v1/mirrors").status_code == 403
    assert [m["local_repo_path"] for m in bob.get("/api/v1/mirror/repos").json()["data"]] == ["root/tiny"]


def test_a_private_mirror_is_hidden_from_others_by_every_route(hub: Hub) -> None:
    root = _client(hub, "root", admin=True)
    body = {"source": "hf", "upstream": "a/b", "private": True}
    assert root.post("/api/v1/models/root/hidden/mirror", json=body).status_code == 200
    bob = _client(hub, "bob")
    assert bob.get("/api/v1/models/root/hidden/mirror").status_code == 404
    assert bob.post("/api/v1/models/root/hidden/mirror/sync").status_code == 404
    assert bob.put("/api/v1/models/root/hidden/mirror", json={"paused": True}).status_code == 404
    assert bob.get("/api/v1/mirror/repos").json()["data"] == []


def test_the_schedule_queues_due_mirrors_that_are_neither_paused_nor_busy(hub: Hub) -> None:
    root = _client(hub, "root", admin=True)
    for name in ("due", "paused", "later"):
        made = root.post(f"/api/v1/models/root/{name}/mirror", json={"source": "hf", "upstream": f"a/{name}"})
        assert made.status_code == 200
    assert root.put("/api/v1/models/root/paused/mirror", json={"paused": True, "interval": 3600}).status_code == 200
    with hub.db() as session:
        for task in session.query(MirrorTask):
            task.state = "finished"
        for mirror in session.query(Mirror):
            mirror.next_sync_at = utcnow() + (
                timedelta(hours=1) if mirror.upstream_id == "a/later" else -timedelta(seconds=1)
            )
    assert scheduler.schedule_due(hub) == 1
    due = root.get("/api/v1/models/root/due/mirror").json()["data"]
    assert (due["task"]["trigger"], due["task"]["state"], due["next_sync_at"]) == ("schedule", "queued", None)
    assert scheduler.schedule_due(hub) == 0  # queued once
    paused = root.get("/api/v1/models/root/paused/mirror").json()["data"]
    assert paused["paused"] is True and paused["task"]["state"] == "finished"  # due, but paused: not queued
    resumed = root.put("/api/v1/models/root/paused/mirror", json={"paused": False}).json()["data"]
    assert resumed["next_sync_at"] is not None and resumed["interval"] == 3600
    assert "paused" in _error(root.put("/api/v1/models/root/paused/mirror", json={"paused": "no"}), 400)
