"""A finished fine-tune job's model repository: the adapter (or the whole model after full or freeze
training, and optionally the adapter merged into the base weights under merged/), the trainer's log, the
job's parameters and metrics, and a generated card whose base_model and datasets link it to what it came
from. Created as the job's creator, committed through the one write door (services/repositories)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from csghub.core.errors import InvalidArgument, NotFound
from csghub.core.names import RepoId, RepoType
from csghub.db.models import FinetuneJob
from csghub.services.context import Hub
from csghub.services.finetune.records import METRICS, loads
from csghub.services.identity import accounts
from csghub.services.repositories import commits
from csghub.services.repositories.repos import create_repo
from csghub.services.repositories.writes import VIA_JOB

CHUNK = 1 << 20
# What LLaMA-Factory leaves beside the weights that a model repository does not need.
_SKIPPED = frozenset({"training_args.bin", "all_results.json", "train_results.json", "trainer_state.json"})


def publish(hub: Hub, job_id: int, work: Path, result: dict[str, Any]) -> int:
    """Create the output repository with the job's results; returns its id."""
    with hub.db() as session:
        row = session.get(FinetuneJob, job_id)
        if row is None:
            raise NotFound(f"fine-tune job #{job_id} is gone")
        job = {c.name: getattr(row, c.name) for c in FinetuneJob.__table__.columns}
    actor = accounts.actor_from_user_id(hub, int(job["created_by"] or 0))
    adapter, merged = work / "result" / "adapter", work / "result" / "merged"
    laid_out: dict[str, Path] = {}
    if adapter.is_dir():
        laid_out |= _files_of(adapter, "")
        if merged.is_dir():
            laid_out |= _files_of(merged, "merged/")
    elif merged.is_dir():
        laid_out |= _files_of(merged, "")
    else:
        raise InvalidArgument("The job left no model (neither an adapter nor merged weights)")
    trainer_log = work / "output" / "trainer_log.jsonl"
    if trainer_log.is_file():
        laid_out["trainer_log.jsonl"] = trainer_log
    extra = work / "result" / "publish"
    extra.mkdir(parents=True, exist_ok=True)
    (extra / "README.md").write_text(card(job, result, adapter=adapter.is_dir()))
    (extra / "finetune.json").write_text(json.dumps(_record(job, result), indent=2, sort_keys=True))
    laid_out |= {"README.md": extra / "README.md", "finetune.json": extra / "finetune.json"}
    repo = create_repo(hub, actor, RepoType.MODEL, RepoId.parse(job["output_name"]), visibility="private")
    operations: list[commits.Operation] = [_inline(path, local) for path, local in sorted(laid_out.items())]
    commits.create_commit(
        hub,
        actor,
        repo,
        repo.default_branch,
        operations,
        summary=f"Fine-tune {job['name']} of {job['base_model']} on {job['dataset']}",
        via=VIA_JOB,
    )
    return repo.id


def _files_of(folder: Path, prefix: str) -> dict[str, Path]:
    return {
        prefix + str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in _SKIPPED and not any(part.startswith("checkpoint-") for part in p.parts)
    }


def _inline(path: str, local: Path) -> commits.InlineFile:
    digest, size = hashlib.sha256(), 0
    with open(local, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return commits.InlineFile(path, local, size, digest.hexdigest())


def _record(job: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    resolved = loads(job["resolved"], {})
    return {
        "base_model": job["base_model"],
        "base_commit": job["base_commit"],
        "dataset": job["dataset"],
        "dataset_commit": job["dataset_commit"],
        "data": loads(job["data"], {}),
        "parameters": loads(job["parameters"], {}),
        "llamafactory_args": resolved.get("args", {}),
        "notes": resolved.get("notes", []),
        "train": result.get("train", {}),
        "metrics": result.get("metrics", {}),
    }


def card(job: dict[str, Any], result: dict[str, Any], *, adapter: bool) -> str:
    parameters = loads(job["parameters"], {})
    method = str(parameters.get("finetuning_type", "lora"))
    meta: dict[str, Any] = {
        "base_model": job["base_model"],
        "base_model_relation": "adapter" if adapter else "finetune",
        "library_name": "peft" if adapter else "transformers",
        "datasets": [job["dataset"]],
        "pipeline_tag": "text-generation",
        "tags": ["llama-factory", method, "csghub-finetune"],
    }
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(),
        "---",
        f"# {job['name']}",
        "",
        f"A {method} fine-tune of [{job['base_model']}](/{job['base_model']}) on the dataset "
        f"[{job['dataset']}](/datasets/{job['dataset']}) (commit {job['dataset_commit'][:12]}), trained with "
        "LLaMA-Factory by CSGHub.",
        "",
    ]
    metrics = result.get("metrics") or {}
    if metrics.get("after"):
        lines += ["## Evaluation", "", "| metric | base model | fine-tuned |", "| --- | --- | --- |"]
        before, after = metrics.get("before") or {}, metrics["after"]
        for name in METRICS:
            lines.append(f"| {name} | {_figure(before.get(name))} | {_figure(after.get(name))} |")
        lines += ["", f"On {after.get('samples', '?')} held-out examples, greedy decoding.", ""]
    lines += ["## Training parameters", "", "| parameter | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in sorted(parameters.items())]
    notes = loads(job["resolved"], {}).get("notes", [])
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    train = result.get("train") or {}
    if train:
        lines += ["", "## Training", ""]
        lines += [f"- {key}: {value}" for key, value in sorted(train.items()) if value is not None]
    return "\n".join(lines) + "\n"


def _figure(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"
