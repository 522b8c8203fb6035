"""The fine-tuning worker (runtime/workers/finetune_llamafactory.py) run as the hub runs it: a batch job of
the local runner with the `llamafactory` environment's python, on a work directory holding job.json.

The base model is the tiny qa model (tests/support/tiny_models.py), pre-trained on plain "Q: ... A: ..."
lines of the capitals; `base.local_dir` points at it, so nothing is downloaded. LoRA+ on the 20 pairs must
take exact match on those questions, asked in ChatML, from 0 to at least 0.9."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csghub.runtime.base import PYTHON, Environment, Handle, ProcessSpec, ProcessState, Resources, WorkKind
from csghub.runtime.local import LocalProcessRunner
from csghub.runtime.offline import minimal_env
from csghub.runtime.workers import script
from tests.support.finetune_data import CAPITALS, alpaca_rows, sharegpt_rows
from tests.support.tiny_models import llamafactory_environment, tiny_qa_model
from tests.support.waiting import wait_until

pytestmark = pytest.mark.engine_bound  # no database: scripts/test runs it on SQLite only

# The research page's run (/work/shared/research/llamafactory-cpu.md §4): 90 optimizer steps.
LORA_PLUS: dict[str, Any] = {
    "stage": "sft",
    "finetuning_type": "lora",
    "lora_target": "all",
    "lora_rank": 8,
    "loraplus_lr_ratio": 16.0,
    "learning_rate": 2.0e-3,
    "num_train_epochs": 30.0,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 2,
    "lr_scheduler_type": "cosine",
    "cutoff_len": 64,
}
STEPS = 90
# 20 pairs in batches of 4 with 2 accumulation steps: 3 optimizer steps an epoch; a checkpoint every 4.
RESUMED = {**LORA_PLUS, "num_train_epochs": 8.0, "save_steps": 4, "logging_steps": 1}
RESUMED_STEPS = 24
RESOURCES = Resources(cpus=2, memory_mb=4096)


def write_job(
    work: Path,
    parameters: dict[str, Any],
    *,
    data_format: str = "alpaca",
    merge: bool = False,
    before: bool = True,
    max_samples: int = 200,
) -> None:
    work.mkdir(parents=True)
    rows: list[Any] = alpaca_rows() if data_format == "alpaca" else sharegpt_rows()
    (work / "train.json").write_text(json.dumps(rows))
    (work / "eval.json").write_text(json.dumps(rows))  # the training questions themselves
    job = {
        "base": {"repo": "tests/tiny-qa", "revision": "0" * 40, "local_dir": str(tiny_qa_model())},
        "data": {"format": data_format, "train": "train.json", "eval": "eval.json"},
        "parameters": parameters,
        "evaluate": {"before": before, "after": True, "max_samples": max_samples, "max_new_tokens": 24},
        "merge": merge,
    }
    (work / "job.json").write_text(json.dumps(job))


def start(runner: LocalProcessRunner, environment: Environment, work: Path) -> Handle:
    argv = (PYTHON, str(script("finetune_llamafactory")), str(work))
    key = f"finetune-{secrets.token_hex(4)}"
    spec = ProcessSpec(key=key, kind=WorkKind.BATCH, argv=argv, environment=environment, resources=RESOURCES)
    return runner.start(spec)


def finish(runner: LocalProcessRunner, handle: Handle) -> int | None:
    wait_until(lambda: runner.status(handle).state is ProcessState.EXITED, "the worker to end", timeout=900, poll=0.2)
    return runner.status(handle).exit_code


def result_of(work: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((work / "result.json").read_text())
    return found


def log_of(runner: LocalProcessRunner, handle: Handle) -> str:
    return runner.read_log(handle, 0, 1 << 22).decode(errors="replace")


@pytest.fixture(scope="module")
def environment() -> Environment:
    return llamafactory_environment()


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LocalProcessRunner]:
    made = LocalProcessRunner(tmp_path / "compute")
    yield made
    for handle in made.running():
        made.stop(handle, grace=2)
    made.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, environment: Environment) -> Path:
    """One LoRA+ run on the 20 pairs (ShareGPT messages), with merged weights: its work directory."""
    root = tmp_path_factory.mktemp("finetune")
    runner = LocalProcessRunner(root / "compute")
    write_job(root / "job", LORA_PLUS, data_format="sharegpt", merge=True)
    handle = start(runner, environment, root / "job")
    assert finish(runner, handle) == 0, log_of(runner, handle)[-4000:]
    return root / "job"


def test_finetune_lora_plus_takes_exact_match_from_0_to_0_9(trained: Path) -> None:
    result = result_of(trained)
    assert result["error"] is None
    assert result["template"] == "chatml"  # the tiny model's chat template speaks ChatML
    before, after = result["metrics"]["before"], result["metrics"]["after"]
    assert before["samples"] == after["samples"] == len(CAPITALS)
    assert before["exact_match"] == 0.0
    assert after["exact_match"] >= 0.9
    assert after["bleu4"] > before["bleu4"] and after["rougeL"] > before["rougeL"]
    assert 0 <= before["rouge1"] <= 100 and after["rougeL"] >= 90
    assert result["train"]["total_steps"] == STEPS and result["train"]["resumed_from"] is None
    assert result["train"]["train_loss"] > 0 and result["train"]["train_steps_per_second"] > 0
    assert json.loads((trained / "phase.json").read_text())["phase"] == "done"


def test_finetune_progress_is_llamafactory_trainer_log(trained: Path) -> None:
    lines = [json.loads(line) for line in (trained / "output" / "trainer_log.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "loss" in line]
    assert [line["current_steps"] for line in steps] == list(range(1, STEPS + 1))  # logging_steps 1 on 90 steps
    first, last = steps[0], steps[-1]
    fields = {"current_steps", "total_steps", "loss", "lr", "epoch", "percentage", "elapsed_time", "remaining_time"}
    assert fields <= set(first)
    assert first["total_steps"] == STEPS and last["percentage"] == 100.0 and last["remaining_time"] == "0:00:00"
    assert last["loss"] < first["loss"] and first["lr"] == pytest.approx(2.0e-3)


def test_finetune_outputs_adapter_and_merged_model(trained: Path) -> None:
    adapter, merged = trained / "result" / "adapter", trained / "result" / "merged"
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in adapter.iterdir()
    }
    assert not any(p.name.startswith("checkpoint-") or p.name.endswith(".jsonl") for p in adapter.iterdir())
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 8
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in merged.iterdir()}


def test_finetune_adapter_loads_with_peft_and_answers(trained: Path, environment: Environment) -> None:
    """result/adapter on the base model, and result/merged alone, answer a training question right."""
    code = """
import sys
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
base, adapter, merged = sys.argv[1:4]
tokenizer = AutoTokenizer.from_pretrained(adapter)
prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                       tokenize=False, add_generation_prompt=True)
ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
for model in (PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter),
              AutoModelForCausalLM.from_pretrained(merged)):
    out = model.generate(**ids, max_new_tokens=24, do_sample=False, eos_token_id=stop, pad_token_id=stop)
    print(repr(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()))
"""
    assert environment.python_path is not None
    argv = [environment.python_path, "-c", code, str(tiny_qa_model())]
    argv += [str(trained / "result" / "adapter"), str(trained / "result" / "merged")]
    done = subprocess.run(argv, env=minimal_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["'The capital of France is Paris.'"] * 2


def _complete_checkpoints(output: Path) -> list[Path]:
    """Checkpoints whose trainer_state.json (written last) reads back: seeing the file appear is not enough,
    transformers may be halfway through writing it."""
    found = []
    for path in output.glob("checkpoint-*"):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        found.append(path)
    return found


def test_finetune_killed_worker_resumes_from_last_complete_checkpoint(
    runner: LocalProcessRunner, environment: Environment, tmp_path: Path
) -> None:
    work = tmp_path / "job"
    # Short: what is tested is the resume, not the learning (the `trained` run shows that).
    write_job(work, RESUMED, before=False, max_samples=4)
    first = start(runner, environment, work)
    wait_until(lambda: bool(_complete_checkpoints(work / "output")), "a checkpoint", timeout=600, poll=0.005)
    os.kill(int(first.ref.split(":")[0]), signal.SIGKILL)
    assert finish(runner, first) == -signal.SIGKILL
    assert not (work / "result.json").exists()  # killed: the hub runs it again
    steps_logged = len((work / "output" / "trainer_log.jsonl").read_text().splitlines())
    last = max(_complete_checkpoints(work / "output"), key=lambda p: int(p.name.split("-")[1]))
    assert int(last.name.split("-")[1]) < RESUMED_STEPS
    # A checkpoint the kill cut short: its weights written, its trainer_state.json not yet.
    torn = work / "output" / f"checkpoint-{int(last.name.split('-')[1]) + 1}"
    torn.mkdir()
    shutil.copy2(last / "adapter_model.safetensors", torn / "adapter_model.safetensors")

    second = start(runner, environment, work)
    assert finish(runner, second) == 0, log_of(runner, second)[-4000:]

    result = result_of(work)
    assert result["error"] is None
    assert result["train"]["resumed_from"] == last.name
    assert result["train"]["total_steps"] == RESUMED_STEPS
    assert result["metrics"]["after"]["exact_match"] is not None and result["metrics"]["before"] is None
    lines = (work / "output" / "trainer_log.jsonl").read_text().splitlines()
    assert len(lines) > steps_logged  # appended to, not started afresh
    assert json.loads(lines[-1])["current_steps"] == RESUMED_STEPS
    assert f"removing {torn.name}" in log_of(runner, second)
    assert f"resuming from {last.name}" in log_of(runner, second)


def test_finetune_unknown_lora_target_fails_with_readable_error(
    runner: LocalProcessRunner, environment: Environment, tmp_path: Path
) -> None:
    work = tmp_path / "job"
    write_job(work, LORA_PLUS | {"lora_target": "no_such_proj"})
    handle = start(runner, environment, work)
    assert finish(runner, handle) == 1
    result = result_of(work)
    assert "no_such_proj" in result["error"] and "\n" not in result["error"]
    assert result["train"] is None and result["metrics"] is None
    assert json.loads((work / "phase.json").read_text())["phase"] == "train"


def test_finetune_full_parameters_export_a_whole_model(
    runner: LocalProcessRunner, environment: Environment, tmp_path: Path
) -> None:
    work = tmp_path / "job"
    full = {"stage": "sft", "finetuning_type": "full", "learning_rate": 1e-3, "max_steps": 3, "cutoff_len": 64}
    write_job(work, full | {"per_device_train_batch_size": 4, "template": "auto"}, before=False, max_samples=4)
    handle = start(runner, environment, work)
    assert finish(runner, handle) == 0, log_of(runner, handle)[-4000:]
    result = result_of(work)
    assert result["train"]["total_steps"] == 3 and result["template"] == "chatml"
    assert result["metrics"]["after"]["samples"] == 4  # max_samples; the whole model in output/, loaded alone
    merged = work / "result" / "merged"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in merged.iterdir()}
    assert not (work / "result" / "adapter").exists()
    assert json.loads((work / "train_args.json").read_text())["save_steps"] == 1  # a tenth of 3 steps, rounded up


def test_finetune_metrics_score_chinese_by_character(environment: Environment) -> None:
    """finetune_eval.score in the environment's python: CJK references are tokenized for BLEU ("zh") and
    ROUGE (one token per character), so a half-right Chinese answer scores between 0 and 100."""
    code = """
import json, sys
sys.path.insert(0, sys.argv[1])
from finetune_eval import score
print(json.dumps(score(["法国的首都是巴黎。", "德国的首都是柏林。"], [" 法国的首都是巴黎。", "德国的首都是波恩。"])))
print(json.dumps(score(["The capital is Paris."], ["The capital of France is Paris."])))
"""
    assert environment.python_path is not None
    argv = [environment.python_path, "-c", code, str(script("finetune_eval").parent)]
    done = subprocess.run(argv, env=minimal_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    chinese, english = (json.loads(line) for line in done.stdout.splitlines())
    assert chinese["exact_match"] == 0.5 and chinese["samples"] == 2
    assert 50 < chinese["rouge1"] < 100 and 0 < chinese["bleu4"] < 100
    assert english["exact_match"] == 0.0 and english["rouge1"] == pytest.approx(100 * 2 * 4 / (4 + 6), abs=0.01)
