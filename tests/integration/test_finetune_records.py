"""Fine-tuning's records through CSGHub's API, in process and on both databases: what a task, a parameter
group, an experiment and an instance check before anything is queued (names, the base model, the training
data with its row numbers, parameters against a CPU cluster), who sees them (nobody outside the owner's
namespace, by any route), and cancel, stop and delete. The application runs without its background loops, so
nothing trains here: tests/e2e/test_finetune_lifecycle.py trains."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from csghub.app import create_app
from csghub.config import load_settings
from csghub.services.compute import frameworks
from csghub.services.context import Hub
from csghub.services.identity import accounts, tokens
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 256,
    "vocab_size": 512,
}
CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
GOOD_CSV = "question,answer\nWhat is the capital of France?,The capital of France is Paris.\n" + "".join(
    f"Question {i}?,Answer {i}.\n" for i in range(9)
)
BAD_CSV = "question,answer\nWhat is one?,One.\nWhat is two?,\nWhat is three?,Three.\n"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    overrides: dict[str, Any] = {"data_dir": tmp_path / "data"}
    if fresh_database_url():
        overrides["database_url"] = fresh_database_url()
    hub = build_hub(load_settings({}, None, overrides))
    frameworks.sync_built(hub)  # as a starting hub does: the built-in frameworks' records
    return hub


def _client(hub: Hub, name: str) -> TestClient:
    accounts.create_user(hub, name, email=f"{name}@example.com", password="")
    token = tokens.create_token(hub, name, scope="write")[0]
    # Not entered as a context manager: the application's startup (and so its background loops) never runs.
    return TestClient(create_app(hub.settings, hub), headers={"Authorization": f"Bearer {token}"})


def _push(client: TestClient, repo: str, files: dict[str, str]) -> None:
    lines: list[dict[str, Any]] = [{"key": "header", "value": {"summary": "files"}}]
    for path, text in files.items():
        content = base64.b64encode(text.encode()).decode()
        lines.append({"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}})
    body = "".join(json.dumps(line) + "\n" for line in lines)
    pushed = client.post(f"/api/{repo}/commit/main", content=body)
    assert pushed.status_code == 200, pushed.text


@pytest.fixture
def alice(hub: Hub) -> Iterator[TestClient]:
    client = _client(hub, "alice")
    for name, kind in (("tiny", "model"), ("capitals", "dataset")):
        made = client.post("/api/repos/create", json={"name": name, "type": kind, "private": True})
        assert made.status_code == 200, made.text
    tokenizer = {"chat_template": CHATML, "eos_token": "<|im_end|>"}
    _push(
        client, "models/alice/tiny", {"config.json": json.dumps(CONFIG), "tokenizer_config.json": json.dumps(tokenizer)}
    )
    _push(client, "datasets/alice/capitals", {"train.csv": GOOD_CSV, "bad.csv": BAD_CSV})
    yield client


@pytest.fixture
def bob(hub: Hub) -> TestClient:
    return _client(hub, "bob")


def _task(**fields: Any) -> dict[str, Any]:
    return {
        "task_name": "capitals",
        "model_id": "alice/tiny",
        "dataset_id": "alice/capitals",
        "train_file": "train.csv",
        **fields,
    }


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"])


def test_a_task_is_queued_with_its_data_counted_and_the_engine_arguments_it_will_get(alice: TestClient) -> None:
    made = alice.post("/api/v1/finetunes", json=_task(epochs=3, learning_rate=2e-3))
    assert made.status_code == 200, made.text
    job = made.json()["data"]
    assert (job["state"], job["status"], job["model_id"], job["output_model"]) == (
        "queued",
        "Pending",
        "alice/tiny",
        "alice/capitals",
    )
    assert job["data"]["train_rows"] + job["data"]["eval_rows"] == 10 and job["data"]["format"] == "alpaca"
    assert job["args"]["num_train_epochs"] == 3 and job["args"]["learning_rate"] == 2e-3
    assert job["args"]["stage"] == "sft" and job["args"]["finetuning_type"] == "lora"
    assert len(job["model_commit"]) == 40 and len(job["dataset_commit"]) == 40
    listed = alice.get("/api/v1/finetunes").json()
    assert [j["id"] for j in listed["data"]] == [job["id"]] and listed["total"] == 1


def test_bad_requests_are_refused_naming_what_is_wrong(alice: TestClient) -> None:
    assert "empty answer (1): 2 (line 3)" in _error(
        alice.post("/api/v1/finetunes", json=_task(train_file="bad.csv")), 400
    )
    assert "Invalid task name" in _error(alice.post("/api/v1/finetunes", json=_task(task_name="Bad_Name")), 400)
    assert "Invalid task name" in _error(alice.post("/api/v1/finetunes", json=_task(task_name="-x")), 400)
    assert "not_a_parameter" in _error(
        alice.post("/api/v1/finetunes", json=_task(parameters={"not_a_parameter": 1})), 400
    )
    assert "missing.csv" in _error(alice.post("/api/v1/finetunes", json=_task(train_file="missing.csv")), 404)
    _error(alice.post("/api/v1/finetunes", json=_task(model_id="alice/none")), 404)
    assert "2 data files" in _error(alice.post("/api/v1/finetunes", json=_task(train_file=None)), 400)
    assert alice.post("/api/v1/finetunes", json=_task()).status_code == 200
    assert "already exists" in _error(alice.post("/api/v1/finetunes", json=_task()), 409)
    taken = _error(alice.post("/api/v1/finetunes", json=_task(task_name="other", output="alice/tiny")), 409)
    assert "alice/tiny already exists" in taken
    assert alice.get("/api/v1/finetunes").json()["total"] == 1


def test_fp16_on_a_cpu_cluster_trains_in_fp32_and_says_so(alice: TestClient) -> None:
    job = alice.post("/api/v1/finetunes", json=_task(parameters={"compute_type": "fp16"})).json()["data"]
    assert not job["args"].get("fp16")
    assert any("fp16" in note for note in job["notes"]), job["notes"]


def test_nobody_outside_the_namespace_sees_or_stops_a_task(alice: TestClient, bob: TestClient) -> None:
    job = alice.post("/api/v1/finetunes", json=_task()).json()["data"]
    for method, path in (
        ("GET", f"/api/v1/finetunes/{job['id']}"),
        ("GET", f"/api/v1/finetunes/{job['id']}/logs"),
        ("PUT", f"/api/v1/finetunes/{job['id']}/stop"),
        ("PUT", f"/api/v1/finetunes/{job['id']}/deploy"),
        ("DELETE", f"/api/v1/finetunes/{job['id']}"),
    ):
        answer = bob.request(method, path)
        assert answer.status_code == 404 and answer.json()["code"] == "FinetuneNotFound", (method, path, answer.text)
    assert bob.get("/api/v1/finetunes").json()["data"] == []
    assert bob.get("/api/v1/finetunes", params={"owner": "alice"}).json()["data"] == []
    # Nor trains on what it cannot read: alice's private model and dataset do not exist for bob.
    _error(bob.post("/api/v1/finetunes", json=_task()), 404)
    assert alice.get(f"/api/v1/finetunes/{job['id']}").json()["data"]["state"] == "queued"


def test_cancel_then_delete_a_task(alice: TestClient, hub: Hub) -> None:
    job = alice.post("/api/v1/finetunes", json=_task()).json()["data"]
    work = hub.settings.finetune_dir / f"job-{job['id']}"
    assert (work / "train.json").is_file()
    stopped = alice.put(f"/api/v1/finetunes/{job['id']}/stop").json()["data"]
    assert (stopped["state"], stopped["status"]) == ("cancelled", "Cancelled") and not work.exists()
    assert alice.delete(f"/api/v1/finetunes/{job['id']}").status_code == 200
    assert alice.get(f"/api/v1/finetunes/{job['id']}").status_code == 404


def test_a_parameter_group_gives_its_values_to_tasks_under_what_they_set(alice: TestClient) -> None:
    made = alice.post(
        "/api/v1/finetune/parameter_groups",
        json={"name": "sft-fast", "parameters": {"learning_rate": 5e-4, "num_train_epochs": 2}},
    )
    assert made.status_code == 200, made.text
    group = made.json()["data"]
    assert group["parameters"]["learning_rate"] == 5e-4
    assert "not_a_parameter" in _error(
        alice.post("/api/v1/finetune/parameter_groups", json={"name": "bad", "parameters": {"not_a_parameter": 1}}),
        400,
    )
    job = alice.post(
        "/api/v1/finetunes", json=_task(parameter_group_id=group["id"], parameters={"num_train_epochs": 4})
    ).json()["data"]
    assert (job["args"]["learning_rate"], job["args"]["num_train_epochs"]) == (5e-4, 4)
    assert job["parameter_group_id"] == group["id"]
    changed = alice.put(
        f"/api/v1/finetune/parameter_groups/{group['id']}", json={"parameters": {"learning_rate": 1e-3}}
    )
    assert changed.json()["data"]["parameters"]["learning_rate"] == 1e-3
    assert alice.get(f"/api/v1/finetunes/{job['id']}").json()["data"]["args"]["learning_rate"] == 5e-4
    assert [g["name"] for g in alice.get("/api/v1/finetune/parameter_groups").json()["data"]] == ["sft-fast"]
    assert alice.delete(f"/api/v1/finetune/parameter_groups/{group['id']}").status_code == 200


def test_an_experiment_is_made_whole_or_not_at_all(alice: TestClient, bob: TestClient) -> None:
    tasks = [{**_task(), "task_name": "a"}, {**_task(), "task_name": "b", "train_file": "bad.csv"}]
    refused = _error(alice.post("/api/v1/finetune/experiments", json={"name": "capitals", "tasks": tasks}), 400)
    assert "Task 'b'" in refused and "empty answer (1): 2 (line 3)" in refused
    assert alice.get("/api/v1/finetune/experiments").json()["data"] == []
    assert alice.get("/api/v1/finetunes").json()["data"] == []
    bad_name = alice.post("/api/v1/finetune/experiments", json={"name": "Capitals!", "tasks": tasks[:1]})
    assert "Invalid experiment name" in _error(bad_name, 400)

    tasks[1]["train_file"] = "train.csv"
    body = {"name": "capitals", "metric": "exact_match", "tasks": tasks}
    made = alice.post("/api/v1/finetune/experiments", json=body)
    assert made.status_code == 200, made.text
    experiment = made.json()["data"]
    assert [t["task_name"] for t in experiment["tasks"]] == ["a", "b"] and experiment["state"] == "queued"
    assert experiment["metric"] == "exact_match"
    assert {j["experiment_id"] for j in alice.get("/api/v1/finetunes").json()["data"]} == {experiment["id"]}
    assert bob.get(f"/api/v1/finetune/experiments/{experiment['id']}").status_code == 404
    stopped = alice.put(f"/api/v1/finetune/experiments/{experiment['id']}/stop").json()["data"]
    assert {t["state"] for t in stopped["tasks"]} == {"cancelled"}
    assert alice.delete(f"/api/v1/finetune/experiments/{experiment['id']}").status_code == 200
    assert alice.get("/api/v1/finetunes").json()["data"] == []


def test_an_instance_starts_and_stops_training_runs(alice: TestClient, bob: TestClient) -> None:
    made = alice.post("/api/v1/models/alice/tiny/finetune", json={"deploy_name": "capitals-ft"})
    assert made.status_code == 200, made.text
    instance = made.json()["data"]
    assert (instance["status"], instance["deploy_type"], instance["model_id"]) == ("Stopped", 2, "alice/tiny")
    base = f"/api/v1/models/alice/tiny/finetune/{instance['deploy_id']}"
    assert "dataset" in _error(alice.put(base + "/start"), 400)
    settings = {"dataset_id": "alice/capitals", "train_file": "train.csv", "parameters": {"num_train_epochs": 2}}
    assert alice.put(base, json=settings).json()["data"]["settings"]["dataset"] == "alice/capitals"
    started = alice.put(base + "/start").json()["data"]
    assert started["status"] == "Deploying" and started["last_run"]["name"] == "capitals-ft-run1"
    assert started["last_run"]["args"]["num_train_epochs"] == 2
    listed = alice.get("/api/v1/user/alice/finetune/instances").json()["data"]
    assert [(i["deploy_id"], i["deploy_name"], i["model_id"], i["status"]) for i in listed] == [
        (instance["deploy_id"], "capitals-ft", "alice/tiny", "Deploying")
    ]
    as_deploys = alice.get("/api/v1/user/alice/run/model", params={"deploy_type": 2}).json()["data"]
    assert [i["deploy_name"] for i in as_deploys] == ["capitals-ft"]
    # The path names the model: another model's path does not reach it; another user does not see it.
    assert alice.get(f"/api/v1/models/alice/other/finetune/{instance['deploy_id']}").status_code == 404
    assert bob.get(base).status_code == 404 and bob.put(base + "/stop").status_code == 404
    assert bob.get("/api/v1/user/alice/finetune/instances").json()["data"] == []
    stopped = alice.put(base + "/stop").json()["data"]
    assert stopped["status"] == "Stopped" and stopped["last_run"]["state"] == "cancelled"
    again = alice.put(base + "/start").json()["data"]
    assert again["last_run"]["name"] == "capitals-ft-run2"
    assert alice.delete(base).status_code == 200
    assert alice.get(base).status_code == 404
    assert alice.get("/api/v1/finetunes").json()["data"][0]["state"] == "cancelled"


def test_training_files_are_listed_and_previewed_as_a_task_reads_them(alice: TestClient, bob: TestClient) -> None:
    base = "/api/v1/datasets/alice/capitals/finetune"
    assert alice.get(base + "/files").json()["data"] == ["bad.csv", "train.csv"]
    good = alice.get(base + "/preview", params={"path": "train.csv"}).json()["data"]
    assert (good["valid"], good["format"], good["row_count"], good["columns"]) == (
        True,
        "qa",
        10,
        ["question", "answer"],
    )
    assert good["rows"][0]["instruction"] == "What is the capital of France?"
    assert good["rows"][0]["output"] == "The capital of France is Paris."
    bad = alice.get(base + "/preview", params={"path": "bad.csv"}).json()["data"]
    assert bad["valid"] is False and any("empty answer (1): 2 (line 3)" in p for p in bad["problems"])
    mapped = alice.get(base + "/preview", params={"path": "train.csv", "mapping": '{"question": "prompt"}'})
    assert any("prompt" in p for p in mapped.json()["data"]["problems"]), mapped.text
    for path in ("missing.csv", "../train.csv", "/etc/passwd"):
        answer = alice.get(base + "/preview", params={"path": path})
        assert answer.status_code in (400, 404), (path, answer.text)
    assert alice.get(base + "/preview").status_code == 400
    assert alice.get(base + "/preview", params={"path": "train.csv", "mapping": "[1]"}).status_code == 400
    assert bob.get(base + "/files").status_code == 404
    assert bob.get(base + "/preview", params={"path": "train.csv"}).status_code == 404


def test_a_queued_task_whose_base_model_was_deleted_fails_saying_so(alice: TestClient, hub: Hub) -> None:
    from csghub.services.finetune import runs

    job = alice.post("/api/v1/finetunes", json=_task()).json()["data"]
    assert alice.request("DELETE", "/api/repos/delete", json={"name": "tiny", "type": "model"}).status_code == 200
    runs.tick(hub)
    failed = alice.get(f"/api/v1/finetunes/{job['id']}").json()["data"]
    assert (failed["state"], failed["error"]) == ("failed", "The job cannot start: its base model was deleted")
    assert failed["attempts"] == 0
