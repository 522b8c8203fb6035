"""One fine-tune: fetch the base model from the hub, train it with LLaMA-Factory, evaluate it before and
after, and leave the adapter (and merged weights) for the hub to push.

    python finetune_llamafactory.py WORK_DIR

Run by the `llamafactory` environment's python; imports nothing from csghub. The hub writes
WORK_DIR/job.json and the data files it names, and passes HF_ENDPOINT (itself) and HF_TOKEN (a token that
reads the base repository); training runs with HF_HUB_OFFLINE=1.

    job.json   {"base": {"repo", "revision", "local_dir"}, "data": {"format": "alpaca"|"sharegpt",
                "train": "train.json", "eval": "eval.json"|null}, "parameters": {LLaMA-Factory's
                training arguments}, "evaluate": {"before", "after", "max_samples", "max_new_tokens"},
                "merge": bool}; data paths are relative to WORK_DIR.

What the hub reads while it runs:

    phase.json                 {"phase": "download"|"train"|"evaluate"|"export"|"done", "at": unix time},
                               written (temp + rename) when a phase starts
    output/trainer_log.jsonl   LLaMA-Factory's progress, one JSON line per logging step: current_steps,
                               total_steps, loss, lr, epoch, percentage (0..100), elapsed_time and
                               remaining_time ("H:MM:SS"), and from transformers' logs e.g. grad_norm; the
                               last line is the latest. Appended across attempts: after a resume, the steps
                               between the checkpoint and the kill are logged again (the later line wins).

    train_args.json            the arguments this attempt passed to LLaMA-Factory's run_exp

and when it ends (written last, temp + rename):

    result.json  {"train": {"train_runtime", "train_steps_per_second", "train_loss", "total_steps",
                  "resumed_from": "checkpoint-N"|null}, "metrics": {"before": {...}|null, "after":
                  {...}|null}, "template": "chatml", "error": null}   (train_runtime: this attempt's)
    result/adapter/   adapter_config.json, adapter_model.safetensors, tokenizer files, chat template
    result/merged/    with merge (LoRA merged into the base), or the whole model of a full/freeze tune

On a failure result.json carries "error" (the exception's last line) and the exit status is 1. Killed by a
signal, the worker leaves no result.json: the hub runs it again on the same WORK_DIR, and training resumes
from the last complete checkpoint-N in output/ (a checkpoint the kill cut short is removed)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# Siblings in this folder, importable by their plain names: Python puts a script's folder on sys.path.
import finetune_eval
from hub_fetch import fetch

# Files of LLaMA-Factory's output directory that are not part of the adapter or model it saved.
NOT_EXPORTED = ("trainer_log.jsonl", "trainer_state.json", "training_args.bin", "README.md", "all_results.json")
NOT_EXPORTED_SUFFIXES = ("_results.json", ".png")
CHECKPOINT = re.compile(r"checkpoint-(\d+)")
WEIGHTS = ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def say(message: str) -> None:
    print(f"[finetune] {message}", flush=True)


def write_json(path: Path, value: Any) -> None:
    partial = path.with_name(f"{path.name}.partial")
    partial.write_text(json.dumps(value, indent=1))
    os.replace(partial, path)


def enter(work: Path, phase: str) -> None:
    say(f"phase: {phase}")
    write_json(work / "phase.json", {"phase": phase, "at": time.time()})


def template_of(model_dir: Path, wanted: str | None) -> str:
    """The parameters' template; for none or "auto": chatml when the tokenizer's chat template speaks
    ChatML (<|im_start|>), else LLaMA-Factory's "default"."""
    if wanted and wanted != "auto":
        return wanted
    texts = [p.read_text(errors="replace") for p in (model_dir / "chat_template.jinja",) if p.is_file()]
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        texts.append(json.dumps(json.loads(config.read_text()).get("chat_template")))
    return "chatml" if any("<|im_start|>" in text for text in texts) else "default"


def write_dataset_info(work: Path, data: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    entry: dict[str, Any] = {"file_name": data["train"]}
    if data["format"] == "sharegpt":
        entry |= {"formatting": "sharegpt", "columns": {"messages": "messages"}}
        entry["tags"] = {"role_tag": "role", "content_tag": "content", "user_tag": "user"}
        entry["tags"] |= {"assistant_tag": "assistant", "system_tag": "system"}
    else:
        entry["columns"] = {"prompt": "instruction", "query": "input", "response": "output"}
        if any("system" in row for row in rows):  # LLaMA-Factory reads a mapped column from every row
            entry["columns"]["system"] = "system"
    (work / "dataset_info.json").write_text(json.dumps({"train": entry}, indent=1))


def planned_steps(parameters: dict[str, Any], rows: int) -> int:
    """The optimizer steps the run will take on one device (for the default checkpoint interval)."""
    if int(parameters.get("max_steps", -1)) > 0:
        return int(parameters["max_steps"])
    batch = int(parameters.get("per_device_train_batch_size", 8)) * int(
        parameters.get("gradient_accumulation_steps", 1)
    )
    return max(1, math.ceil(float(parameters.get("num_train_epochs", 3.0)) * math.ceil(rows / batch)))


def last_checkpoint(output: Path) -> Path | None:
    """The newest checkpoint that transformers finished writing (its trainer_state.json, written after the
    weights and optimizer, reads back); newer ones a kill cut short are removed."""
    found = []
    for path in output.glob("checkpoint-*"):
        match = CHECKPOINT.fullmatch(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for step, path in sorted(found, reverse=True):
        try:
            state = json.loads((path / "trainer_state.json").read_text())
            if state.get("global_step") == step and any((path / name).is_file() for name in WEIGHTS):
                return path
        except (OSError, ValueError):
            pass
        say(f"removing {path.name}: the previous attempt did not finish writing it")
        shutil.rmtree(path)
    return None


def training_args(work: Path, job: dict[str, Any], model_dir: Path, rows: int) -> dict[str, Any]:
    parameters = dict(job["parameters"])
    steps = planned_steps(parameters, rows)
    args = parameters | {
        "model_name_or_path": str(model_dir),
        "dataset": "train",
        "dataset_dir": str(work),
        "output_dir": str(work / "output"),
        "do_train": True,
        "overwrite_output_dir": False,
        "report_to": "none",
        "plot_loss": True,
        "save_strategy": "steps",
        "template": template_of(model_dir, parameters.get("template")),
        "preprocessing_num_workers": 1,
        "dataloader_num_workers": 0,
    }
    # A checkpoint about every tenth of the run (what a resume can lose), the last two kept.
    args.setdefault("save_steps", max(1, math.ceil(steps / 10)))
    args.setdefault("save_total_limit", 2)
    args.setdefault("logging_steps", max(1, steps // 100))
    resume = last_checkpoint(work / "output")
    args["resume_from_checkpoint"] = str(resume) if resume else None
    return args


def note_precision(args: dict[str, Any]) -> None:
    """Says what mixed precision does here: the hub validates, but the log is where a user looks."""
    import torch

    if torch.cuda.is_available():
        return
    if args.get("fp16"):
        say("note: fp16 has no effect on a CPU (accelerate uses fp16 only on GPUs): training runs in fp32")
    if args.get("bf16") and not args.get("use_cpu"):
        say("note: bf16 on a CPU needs use_cpu: true; LLaMA-Factory will refuse it without")


def train(args: dict[str, Any]) -> None:
    from llamafactory.train.tuner import run_exp

    run_exp(dict(args))


def export(work: Path, job: dict[str, Any], model_dir: Path, lora: bool) -> None:
    output, result = work / "output", work / "result"
    shutil.rmtree(result, ignore_errors=True)
    saved = [
        p
        for p in output.iterdir()
        if p.is_file() and p.name not in NOT_EXPORTED and not p.name.endswith(NOT_EXPORTED_SUFFIXES)
    ]
    target = result / ("adapter" if lora else "merged")
    target.mkdir(parents=True)
    for path in saved:
        shutil.copy2(path, target / path.name)
    if lora and job.get("merge"):
        from transformers import AutoTokenizer

        started = time.monotonic()
        merged = finetune_eval.load_model(model_dir, adapter=output).merge_and_unload()
        merged.save_pretrained(result / "merged", safe_serialization=True)
        AutoTokenizer.from_pretrained(output).save_pretrained(result / "merged")
        say(f"merged the adapter into the base model in {time.monotonic() - started:.1f} s")


def evaluate(work: Path, job: dict[str, Any], model_dir: Path, lora: bool) -> dict[str, Any]:
    options, data = job.get("evaluate") or {}, job["data"]
    metrics: dict[str, Any] = {"before": None, "after": None}
    if not data.get("eval") or not (options.get("before") or options.get("after")):
        return metrics
    from transformers import AutoTokenizer

    rows = json.loads((work / data["eval"]).read_text())
    chats = finetune_eval.conversations(rows, data["format"])[: int(options.get("max_samples", 200))]
    # Both sides are prompted as training rendered the conversations: with the tokenizer it saved.
    tokenizer = AutoTokenizer.from_pretrained(work / "output")
    max_new_tokens = int(options.get("max_new_tokens", 64))
    for side in ("before", "after"):
        if options.get(side):
            say(f"evaluating {'the base model' if side == 'before' else 'the fine-tuned model'} on {len(chats)} rows")
            if side == "before":
                model = finetune_eval.load_model(model_dir)
            else:
                model = finetune_eval.load_model(model_dir, adapter=work / "output") if lora else None
                model = model or finetune_eval.load_model(work / "output")
            metrics[side] = finetune_eval.evaluate(model, tokenizer, chats, max_new_tokens=max_new_tokens, say=say)
    return metrics


def run(work: Path) -> dict[str, Any]:
    job = json.loads((work / "job.json").read_text())
    base = job["base"]
    enter(work, "download")
    model_dir = Path(base["local_dir"])
    fetch(base["repo"], base["revision"], model_dir, say)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("HF_TOKEN", None)
    # datasets' Arrow cache of the converted rows stays with the job, not in the hub user's home.
    os.environ["HF_DATASETS_CACHE"] = str(work / "cache")
    enter(work, "train")
    rows = json.loads((work / job["data"]["train"]).read_text())
    write_dataset_info(work, job["data"], rows)
    args = training_args(work, job, model_dir, len(rows))
    resumed = Path(args["resume_from_checkpoint"]).name if args["resume_from_checkpoint"] else None
    say(f"template {args['template']}; " + (f"resuming from {resumed}" if resumed else "starting at step 0"))
    write_json(work / "train_args.json", args)
    note_precision(args)
    train(args)
    lora = args.get("finetuning_type", "lora") == "lora"
    enter(work, "evaluate")
    metrics = evaluate(work, job, model_dir, lora)
    enter(work, "export")
    export(work, job, model_dir, lora)
    results = json.loads((work / "output" / "train_results.json").read_text())
    state = json.loads((work / "output" / "trainer_state.json").read_text())
    summary = {key: results.get(key) for key in ("train_runtime", "train_steps_per_second", "train_loss")}
    summary |= {"total_steps": state.get("global_step"), "resumed_from": resumed}
    return {"train": summary, "metrics": metrics, "template": args["template"], "error": None}


def main(argv: list[str]) -> int:
    work = Path(argv[0]).resolve()
    (work / "result.json").unlink(missing_ok=True)
    try:
        result = run(work)
    except Exception as exc:  # a process boundary: the reason goes to result.json and the log
        traceback.print_exc()
        lines = [line for line in f"{type(exc).__name__}: {exc}".strip().splitlines() if line.strip()]
        write_json(work / "result.json", {"train": None, "metrics": None, "template": None, "error": lines[-1]})
        return 1
    enter(work, "done")
    write_json(work / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
