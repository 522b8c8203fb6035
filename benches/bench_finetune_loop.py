"""The whole fine-tuning loop on a live hub, as a user meets it, timed phase by phase: create a task (the
tiny pre-trained Q&A model, 20 Q&A pairs, LoRA+) -> queued -> download -> train -> evaluate (before and
after) -> published as a model repository -> deployed as an endpoint -> its first answer through the
gateway. Runtime environments already built (a first task on a new hub builds `llamafactory` once, minutes).

    python -m benches.bench_finetune_loop [--epochs 30]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
from huggingface_hub import HfApi
from openai import OpenAI
from tests.support.finetune_data import CAPITALS, qa_csv
from tests.support.tiny_models import llamafactory_environment, shared_runtimes_dir, tiny_qa_model

from benches.common import live_hub

ENDED = ("succeeded", "failed", "cancelled")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    model = tiny_qa_model()
    llamafactory_environment()
    with live_hub({"CSGHUB_RUNTIMES_DIR": str(shared_runtimes_dir())}) as hub:
        owner, token = hub.user("bench")
        hf = HfApi(endpoint=hub.url, token=token)
        hf.create_repo(f"{owner}/tiny-qa", private=True)
        hf.upload_folder(repo_id=f"{owner}/tiny-qa", folder_path=model)
        hf.create_repo(f"{owner}/capitals", repo_type="dataset", private=True)
        hf.upload_file(
            path_or_fileobj=qa_csv(CAPITALS), path_in_repo="train.csv", repo_id=f"{owner}/capitals", repo_type="dataset"
        )
        api = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
        parameters = {
            "compute_type": "fp32",
            "learning_rate": 2e-3,
            "num_train_epochs": args.epochs,
            "cutoff_len": 64,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 2,
            "lora_target": "all",
            "loraplus_lr_ratio": 16,
            "warmup_ratio": 0.0,
        }
        body = {
            "name": "loop",
            "model": f"{owner}/tiny-qa",
            "dataset": f"{owner}/capitals",
            "train_file": "train.csv",
            "eval_file": "train.csv",
            "parameters": parameters,
        }
        marks: dict[str, float] = {}
        started = time.perf_counter()
        job = api.post("/api/v1/finetunes", json=body).json()["data"]
        marks["created (data checked)"] = time.perf_counter()
        seen: set[str] = set()
        while job["state"] not in ENDED:
            phase = job["phase"] or job["state"]
            if phase not in seen:
                seen.add(phase)
                marks[f"phase {phase} begins"] = time.perf_counter()
            time.sleep(0.05)
            job = api.get(f"/api/v1/finetunes/{job['id']}").json()["data"]
        marks["task ended"] = time.perf_counter()
        if job["state"] != "succeeded":
            raise SystemExit(f"the task {job['state']}: {job['error']}")
        endpoint = api.put(f"/api/v1/finetunes/{job['id']}/deploy").json()["data"]
        marks["deploy asked"] = time.perf_counter()
        state = ""
        while state != "running":
            status = api.get(f"/api/v1/models/{owner}/loop/run/{endpoint['deploy_id']}").json()["data"]
            state = status["state"]
            if state == "failed":
                raise SystemExit(f"the endpoint failed: {status['reason']}")
            time.sleep(0.05)
        marks["endpoint running"] = time.perf_counter()
        chat = OpenAI(base_url=f"{hub.url}/endpoints/{owner}/loop/v1", api_key=token)
        question = CAPITALS[0]
        reply = chat.chat.completions.create(
            model="loop", messages=[{"role": "user", "content": question.question}], max_tokens=24, temperature=0
        )
        marks["first answer"] = time.perf_counter()
        _report(started, marks, job, (reply.choices[0].message.content or "").strip(), question.answer)


def _report(started: float, marks: dict[str, float], job: dict[str, Any], answer: str, expected: str) -> None:
    print(f"{'step':<32}{'at s':>8}{'took s':>8}")
    last = started
    for name, at in marks.items():
        print(f"{name:<32}{at - started:>8.1f}{at - last:>8.1f}")
        last = at
    after = job["metrics"].get("after") or {}
    print(f"train_runtime {job['train'].get('train_runtime')} s, steps/s {job['train'].get('train_steps_per_second')}")
    print(f"exact match before {job['metrics'].get('before', {}).get('exact_match')} after {after.get('exact_match')}")
    print(f"first answer {answer!r} ({'right' if answer == expected else 'wrong'}); whole loop {last - started:.1f} s")


if __name__ == "__main__":
    main()
