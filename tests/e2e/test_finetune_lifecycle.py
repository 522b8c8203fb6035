"""Fine-tuning on a live hub, end to end with the real engine: the tiny pre-trained Q&A model and 20 Q&A
pairs pushed with huggingface_hub, an experiment of two tasks trained by LLaMA-Factory in the `llamafactory`
environment (LoRA+ moves exact match on the training questions from 0 to at least 0.9; a weak task does
not), ranked by the metric; the output repository loads with transformers + peft; a task whose worker is
killed mid-training resumes from its checkpoint; csghub-cli's finetune list/start/stop against an instance;
a task's model deployed as an endpoint answers through the gateway with the OpenAI client.

One hub for the module; tests run in order (later ones use the first one's results)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from openai import OpenAI

from tests.conftest import start_hub
from tests.support.finetune_data import CAPITALS, qa_csv
from tests.support.live import LiveHub, kill_replicas_left_in
from tests.support.tiny_models import jupyterlab_environment, llamafactory_environment, tiny_qa_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound
TRAIN_TIMEOUT = 600.0  # a bound: a loaded 2-core CI machine trains the tiny model in under a minute
# LoRA+ as the research page measured it on this tiny model: 20/20 after 30 epochs.
STRONG = {
    "compute_type": "fp32",
    "learning_rate": 2e-3,
    "num_train_epochs": 30,
    "cutoff_len": 64,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 2,
    "lr_scheduler_type": "cosine",
    "lora_rank": 8,
    "lora_target": "all",
    "loraplus_lr_ratio": 16,
    "warmup_ratio": 0.0,
    "logging_steps": 5,
}
WEAK = {**STRONG, "learning_rate": 1e-5, "num_train_epochs": 1, "loraplus_lr_ratio": 0}


@dataclass
class Hub:
    live: LiveHub
    owner: str
    token: str
    other_token: str
    api: httpx.Client
    results: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    model = tiny_qa_model()  # builds the transformers environment and pre-trains the model, once per CI run
    llamafactory_environment()  # the engine, built once per CI run into the shared runtimes folder
    jupyterlab_environment()  # Start Notebook
    live = start_hub(tmp_path_factory.mktemp("finetune") / "data")
    try:
        owner, token = live.user("trainer")
        _, other_token = live.user("other")
        hf = HfApi(endpoint=live.url, token=token)
        hf.create_repo(f"{owner}/tiny-qa", private=True)
        hf.upload_folder(repo_id=f"{owner}/tiny-qa", folder_path=model, commit_message="the tiny Q&A model")
        hf.create_repo(f"{owner}/capitals", repo_type="dataset", private=True)
        for path, data in (("train.csv", qa_csv(CAPITALS)), ("test.csv", qa_csv(CAPITALS))):
            hf.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=f"{owner}/capitals", repo_type="dataset")
        api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
        yield Hub(live, owner, token, other_token, api)
        api.close()
    finally:
        live.stop()
        kill_replicas_left_in(live.data_dir)


def _task(hub: Hub, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "model": f"{hub.owner}/tiny-qa",
        "dataset": f"{hub.owner}/capitals",
        "train_file": "train.csv",
        "eval_file": "test.csv",
        "parameters": parameters,
    }


def _job(hub: Hub, job_id: int) -> dict[str, Any]:
    answer = hub.api.get(f"/api/v1/finetunes/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def _ended(hub: Hub, job_id: int) -> dict[str, Any]:
    ended = ("succeeded", "failed", "cancelled")
    wait_until(lambda: _job(hub, job_id)["state"] in ended, f"task {job_id} to end", timeout=TRAIN_TIMEOUT, poll=0.5)
    return _job(hub, job_id)


def test_an_experiment_of_two_tasks_trains_evaluates_and_ranks_them(hub: Hub) -> None:
    body = {
        "name": "capitals",
        "metric": "exact_match",
        "tasks": [_task(hub, "weak", WEAK), _task(hub, "lora-plus", STRONG)],
    }
    made = hub.api.post("/api/v1/finetune/experiments", json=body)
    assert made.status_code == 200, made.text
    experiment = made.json()["data"]
    ids = {t["task_name"]: t["id"] for t in experiment["tasks"]}
    # Live progress while the strong task trains: step, loss, learning rate and eta from the trainer's log.
    wait_until(
        lambda: (_job(hub, ids["lora-plus"])["progress"] or {}).get("step", 0) > 0,
        "the strong task's first logged step",
        timeout=TRAIN_TIMEOUT,
        poll=0.2,
    )
    seen = _job(hub, ids["lora-plus"])
    assert seen["progress"]["total"] >= seen["progress"]["step"] > 0 and seen["progress"]["loss"] is not None
    jobs = {name: _ended(hub, job_id) for name, job_id in ids.items()}
    for name, job in jobs.items():
        assert job["state"] == "succeeded", (
            name,
            job["error"],
            hub.api.get(f"/api/v1/finetunes/{job['id']}/logs").text[-3000:],
        )
    strong = jobs["lora-plus"]
    assert strong["metrics"]["before"]["exact_match"] == 0.0
    assert strong["metrics"]["after"]["exact_match"] >= 0.9, strong["metrics"]
    assert strong["metrics"]["after"]["samples"] == len(CAPITALS)
    for metric in ("bleu4", "rouge1", "rouge2", "rougeL"):
        assert strong["metrics"]["after"][metric] > strong["metrics"]["before"][metric], metric
    assert len(strong["history"]) >= 3 and strong["history"][-1][1] < strong["history"][0][1]  # the loss fell
    assert jobs["weak"]["metrics"]["after"]["exact_match"] < 0.5
    hub.results["experiment"] = experiment["id"]
    ranked = hub.api.get(f"/api/v1/finetune/experiments/{experiment['id']}").json()["data"]
    assert [t["task_name"] for t in ranked["tasks"]] == ["lora-plus", "weak"] and ranked["state"] == "succeeded"
    hub.results["strong"] = strong


def test_the_output_repository_carries_its_lineage_and_loads_with_peft(hub: Hub, tmp_path: Path) -> None:
    strong = hub.results["strong"]
    output = strong["output_model"]
    assert output == f"{hub.owner}/lora-plus" and strong["output_ready"]
    hf = HfApi(endpoint=hub.live.url, token=hub.token)
    names = {f.rfilename for f in hf.model_info(output, files_metadata=False).siblings or []}
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "trainer_log.jsonl"} <= names
    card = hf.model_info(output).card_data
    assert card is not None and card["base_model"] == f"{hub.owner}/tiny-qa"
    assert card["datasets"] == [f"{hub.owner}/capitals"]
    assert hf.model_info(output).private is True
    local = Path(hf.snapshot_download(output, local_dir=tmp_path / "out"))
    base = Path(hf.snapshot_download(f"{hub.owner}/tiny-qa", local_dir=tmp_path / "base"))
    question = CAPITALS[0]
    script = (
        "import sys, torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "from peft import PeftModel\n"
        "tok = AutoTokenizer.from_pretrained(sys.argv[2])\n"
        "model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sys.argv[1]), sys.argv[2])\n"
        "ids = tok.apply_chat_template([{'role': 'user', 'content': sys.argv[3]}], add_generation_prompt=True,"
        " return_tensors='pt', return_dict=True)\n"
        "out = model.generate(**ids, max_new_tokens=24, do_sample=False,"
        " eos_token_id=tok.convert_tokens_to_ids('<|im_end|>'))\n"
        "print(tok.decode(out[0][ids['input_ids'].shape[1]:], skip_special_tokens=True).strip())\n"
    )
    python = llamafactory_environment().python_path
    assert python is not None
    answer = subprocess.run(
        [python, "-c", script, str(base), str(local), question.question],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1"},
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert answer.stdout.strip().splitlines()[-1] == question.answer


def test_a_task_killed_mid_training_resumes_from_its_checkpoint(hub: Hub) -> None:
    # Short (24 steps, a checkpoint every 4): the resume is tested here, the learning by the experiment above.
    parameters = {**STRONG, "num_train_epochs": 8, "save_steps": 4, "logging_steps": 1}
    job = hub.api.post("/api/v1/finetunes", json=_task(hub, "resumed", parameters)).json()["data"]
    work = hub.live.data_dir / "finetune" / f"job-{job['id']}"
    # A complete checkpoint: transformers writes its trainer_state.json after the weights and the optimizer.
    complete = lambda: any((work / "output").glob("checkpoint-*/trainer_state.json"))  # noqa: E731
    wait_until(complete, "a complete checkpoint", timeout=TRAIN_TIMEOUT, poll=0.05)
    handle = json.loads(_running_handle(hub, job["id"]))
    pid = int(handle["ref"].split(":")[0])
    os.kill(pid, signal.SIGKILL)
    done = _ended(hub, job["id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert (done["train"].get("resumed_from") or "").startswith("checkpoint-")
    assert done["train"]["total_steps"] == 24 and done["metrics"]["after"] is not None


def _running_handle(hub: Hub, job_id: int) -> str:
    from csghub.db.models import FinetuneJob

    with hub.live.hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        assert row is not None and row.handle, "the job is not running"
        return row.handle


def _cli(hub: Hub, *args: str) -> str:
    cli = Path(sys.executable).with_name("csghub-cli")
    done = subprocess.run(
        [str(cli), "finetune", *args, "--endpoint", hub.live.url, "--token", hub.token],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_csghub_cli_lists_starts_and_stops_an_instance(hub: Hub) -> None:
    settings = {"dataset": f"{hub.owner}/capitals", "train_file": "train.csv", "parameters": WEAK}
    made = hub.api.post(
        f"/api/v1/models/{hub.owner}/tiny-qa/finetune", json={"deploy_name": "qa-ft", "settings": settings}
    )
    assert made.status_code == 200, made.text
    instance = made.json()["data"]["deploy_id"]
    listing = _cli(hub, "list", "-u", hub.owner)
    assert any(line.split()[:2] == [str(instance), "qa-ft"] and "Stopped" in line for line in listing.splitlines())
    assert "'deploy_name': 'qa-ft'" in _cli(hub, "start", f"{hub.owner}/tiny-qa", str(instance))
    detail = hub.api.get(f"/api/v1/models/{hub.owner}/tiny-qa/finetune/{instance}").json()["data"]
    assert detail["status"] in ("Deploying", "Running") and detail["last_run"]["name"] == "qa-ft-run1"
    _cli(hub, "stop", f"{hub.owner}/tiny-qa", str(instance))
    detail = hub.api.get(f"/api/v1/models/{hub.owner}/tiny-qa/finetune/{instance}").json()["data"]
    assert detail["status"] == "Stopped" and detail["last_run"]["state"] == "cancelled"
    assert "Stopped" in _cli(hub, "list", "-u", hub.owner)
    hub.results["instance"] = instance


def test_start_notebook_opens_jupyterlab_with_the_instance_model_and_dataset(hub: Hub) -> None:
    instance = hub.results["instance"]
    opened = hub.api.put(f"/api/v1/models/{hub.owner}/tiny-qa/finetune/{instance}/notebook")
    assert opened.status_code == 200, opened.text
    notebook = opened.json()["data"]
    assert (notebook["model"], notebook["dataset"]) == (f"{hub.owner}/tiny-qa", f"{hub.owner}/capitals")

    def running() -> bool:
        state = hub.api.get(f"/api/v1/notebooks/{notebook['id']}").json()["data"]["state"]
        assert state != "failed"
        return bool(state == "running")

    wait_until(running, "the notebook to run", timeout=TRAIN_TIMEOUT, poll=0.5)
    status = hub.api.get(f"{notebook['url']}api/status")
    assert status.status_code == 200 and "kernels" in status.json(), status.text
    other = httpx.get(f"{notebook['url']}api/status", headers={"Authorization": f"Bearer {hub.other_token}"})
    assert other.status_code == 404
    again = hub.api.put(f"/api/v1/models/{hub.owner}/tiny-qa/finetune/{instance}/notebook").json()["data"]
    assert again["id"] == notebook["id"]  # the same notebook, not a second one
    assert hub.api.delete(f"/api/v1/notebooks/{notebook['id']}").status_code == 200


def _csghub(hub: Hub, *args: str) -> str:
    cli = Path(sys.executable).with_name("csghub")
    env = {"PATH": os.environ["PATH"], "CSGHUB_ENDPOINT": hub.live.url, "CSGHUB_TOKEN": hub.token}
    done = subprocess.run([str(cli), "finetune", *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_csghub_finetune_command(hub: Hub) -> None:
    group = _csghub(hub, "group", "create", "slow", "-p", "learning_rate=1e-5", "-p", "num_train_epochs=1").strip()
    assert any(
        line.split("\t")[:3] == [group, hub.owner, "slow"] for line in _csghub(hub, "group", "list").splitlines()
    )
    task = _csghub(
        hub,
        "run",
        "--name",
        "from-cli",
        "--model",
        f"{hub.owner}/tiny-qa",
        "--dataset",
        f"{hub.owner}/capitals",
        "--train-file",
        "train.csv",
        "--group",
        group,
        "-p",
        "compute_type=fp16",
    ).strip()
    shown = json.loads(_csghub(hub, "show", task))
    assert shown["args"]["learning_rate"] == 1e-5 and any("fp16" in note for note in shown["notes"])
    assert any(line.split("\t")[:2] == [task, "from-cli"] for line in _csghub(hub, "list").splitlines())
    assert _csghub(hub, "stop", task).split("\t")[2] == "cancelled"
    ranking = _csghub(hub, "experiment", "show", str(hub.results["experiment"])).splitlines()
    assert [line.split("\t")[1] for line in ranking[1:]] == ["lora-plus", "weak"]
    _, name, state, before, after = ranking[1].split("\t")
    assert (name, state, float(before)) == ("lora-plus", "succeeded", 0.0) and float(after) >= 0.9


def test_a_deployed_result_answers_through_the_gateway(hub: Hub) -> None:
    strong = hub.results["strong"]
    deployed = hub.api.put(f"/api/v1/finetunes/{strong['id']}/deploy")
    assert deployed.status_code == 200, deployed.text
    endpoint = deployed.json()["data"]

    def running() -> bool:
        status = hub.api.get(f"/api/v1/models/{strong['output_model']}/run/{endpoint['deploy_id']}").json()["data"]
        assert status["state"] != "failed", status
        return bool(status["state"] == "running")

    wait_until(running, "the endpoint to run", timeout=TRAIN_TIMEOUT, poll=0.5)
    client = OpenAI(base_url=f"{hub.live.url}/endpoints/{hub.owner}/lora-plus/v1", api_key=hub.token)
    question = CAPITALS[1]
    reply = client.chat.completions.create(
        model="lora-plus", messages=[{"role": "user", "content": question.question}], max_tokens=24, temperature=0
    )
    assert reply.choices[0].message.content is not None
    assert reply.choices[0].message.content.strip() == question.answer
    hub.api.delete(f"/api/v1/models/{strong['output_model']}/run/{endpoint['deploy_id']}")
