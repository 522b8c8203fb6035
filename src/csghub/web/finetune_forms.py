"""The fine-tuning forms' fields: LLaMA-Factory's parameters as form inputs (each with its default and a
short help, from services/finetune/parameters.py), what a posted form asks for (parameters, an experiment's
tasks, an instance's settings), a service's refusal put next to the field it is about, and the loss chart's
points. Every rule stays the services': an empty field is the parameter's default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from csghub.services.finetune.experiments import MAX_TASKS
from csghub.services.finetune.jobs import JobRequest
from csghub.services.finetune.parameters import PARAMS
from csghub.web.i18n import translate

PREFIX = "p-"  # a parameter's form field: p-learning_rate
# What each parameter does, in a few words (docs/finetune.md's table says more).
HELP = {
    "stage": "Supervised fine-tuning (the only stage for now)",
    "finetuning_type": "LoRA adapters, all weights, or the last layers only",
    "learning_rate": "The optimizer's peak learning rate",
    "num_train_epochs": "Passes over the training rows",
    "max_samples": "At most this many rows per dataset; empty for all",
    "cutoff_len": "Tokens per example; longer ones are cut",
    "per_device_train_batch_size": "Examples per step on each device",
    "gradient_accumulation_steps": "Steps whose gradients add up to one update",
    "lr_scheduler_type": "How the learning rate moves over the run",
    "warmup_ratio": "Share of all steps spent warming the learning rate up",
    "warmup_steps": "Warm-up in steps; give this or warmup_ratio, not both",
    "max_grad_norm": "Gradient clipping; 0 turns it off",
    "lora_rank": "The rank of the LoRA matrices",
    "lora_alpha": "LoRA's scale; empty for twice lora_rank",
    "lora_dropout": "Dropout on the LoRA path",
    "lora_target": "Which modules get LoRA: all, or module names separated by commas",
    "loraplus_lr_ratio": "LoRA+: B matrices learn this many times faster; 0 is plain LoRA",
    "compute_type": "Mixed precision; fp16 on a cluster without GPUs runs in fp32, with a note",
    "seed": "Seeds the training and the held-out rows",
    "val_size": "Share of the training rows held out for evaluation",
    "save_steps": "A checkpoint every this many steps (a run resumes from the last)",
    "logging_steps": "Step, loss and learning rate reported every this many steps",
    "template": "How prompts are laid out: auto reads the model's chat template",
}
# The instance page's short form (OpenCSG's): these first, the rest under "More parameters".
MAIN = (
    "finetuning_type",
    "learning_rate",
    "num_train_epochs",
    "compute_type",
    "gradient_accumulation_steps",
    "loraplus_lr_ratio",
    "lora_target",
    "per_device_train_batch_size",
    "cutoff_len",
)


@dataclass(frozen=True, slots=True)
class ParamField:
    name: str
    kind: str  # "number" | "text" | "choice"
    default: str
    choices: tuple[str, ...]
    value: str  # what the field holds ("" shows the default as its placeholder)
    help: str
    main: bool


def shown(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def param_fields(values: Mapping[str, Any]) -> list[ParamField]:
    """Every parameter as a form field, holding `values[name]` where it differs from the default."""
    fields = []
    for name, param in PARAMS.items():
        kind = "choice" if param.choices else "text" if param.kind is str else "number"
        value = values.get(name)
        text = "" if value is None or shown(value) == shown(param.default) else shown(value)
        if kind == "choice" and not text:
            text = shown(param.default)
        default = shown(param.default) if param.default is not None else ""
        fields.append(ParamField(name, kind, default, param.choices, text, HELP.get(name, ""), name in MAIN))
    return fields


def parameters_of(fields: Mapping[str, str], prefix: str = PREFIX) -> dict[str, str]:
    """The parameters a form sets (a field left empty is the default): the service types and checks them."""
    found = {}
    for name in PARAMS:
        raw = fields.get(prefix + name, "").strip()
        if raw:
            found[name] = raw
    return found


def field_errors(message: str) -> tuple[dict[str, str], list[str]]:
    """A ParameterError's problems ("learning_rate must be ...; ...") by the field each is about, and the rest."""
    by_field: dict[str, str] = {}
    rest: list[str] = []
    for part in (p.strip() for p in message.split("; ") if p.strip()):
        name = part.split(" ", 1)[0]
        if name in PARAMS and name not in by_field:
            by_field[name] = part
        else:
            rest.append(part)
    return by_field, rest


def whole(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def task_count(fields: Mapping[str, str]) -> int:
    """How many task fieldsets the form posted (the first always; others when their name is set)."""
    return max([1] + [i + 1 for i in range(MAX_TASKS) if fields.get(f"task-{i}-name", "").strip()])


def tasks_of(fields: Mapping[str, str]) -> list[JobRequest]:
    """The experiment form's tasks: task-0-name, task-0-model, ... (a fieldset left empty is skipped)."""
    tasks = []
    for i in range(MAX_TASKS):
        key = f"task-{i}-"
        if not any(fields.get(key + f, "").strip() for f in ("name", "model", "dataset")):
            continue
        tasks.append(
            JobRequest(
                name=fields.get(key + "name", "").strip(),
                model=fields.get(key + "model", "").strip(),
                dataset=fields.get(key + "dataset", "").strip(),
                train_file=fields.get(key + "train_file", "").strip() or None,
                eval_file=fields.get(key + "eval_file", "").strip() or None,
                mapping=mapping_of(fields, key),
                parameters=parameters_of(fields, key + PREFIX),
                parameter_group=whole(fields.get(key + "group")),
                cluster_id=whole(fields.get(key + "cluster_id")),
                tier_id=whole(fields.get(key + "tier_id")),
            )
        )
    return tasks


MAPPED = ("question", "answer", "instruction", "input", "output", "system", "messages")


def mapping_of(fields: Mapping[str, str], prefix: str = "") -> dict[str, str]:
    """The column mapping's fields (map-question = the file's column for question, ...); empty ones unused."""
    return {name: v for name in MAPPED if (v := fields.get(f"{prefix}map-{name}", "").strip())}


def settings_of(fields: Mapping[str, str]) -> dict[str, Any]:
    """A fine-tune instance's settings from its parameters form."""
    return {
        "dataset": fields.get("dataset", "").strip(),
        "train_file": fields.get("train_file", "").strip(),
        "eval_file": fields.get("eval_file", "").strip(),
        "mapping": mapping_of(fields),
        "parameters": parameters_of(fields),
        "merge": fields.get("merge") == "on",
    }


def loss_points(history: list[list[float]], width: int = 300, height: int = 100) -> str:
    """The loss curve as an SVG polyline's points (static/finetune.js draws the same while a run goes)."""
    pairs = [(float(p[0]), float(p[1])) for p in history if len(p) >= 2]
    if not pairs:
        return ""
    steps = [s for s, _ in pairs]
    losses = [v for _, v in pairs]
    low, high = min(losses), max(losses)
    first, last = steps[0], steps[-1]
    span_x = (last - first) or 1.0
    span_y = (high - low) or 1.0
    return " ".join(
        f"{(s - first) / span_x * width:.1f},{height - (v - low) / span_y * (height - 8) - 4:.1f}" for s, v in pairs
    )


def score(metrics: Mapping[str, Any], when: str, metric: str) -> str:
    """A metric before or after training, 0 to 100 (exact match is a share: shown as a percentage)."""
    value = (metrics.get(when) or {}).get(metric)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return f"{value * 100 if metric == 'exact_match' else value:.1f}"


METRIC_NAMES = {
    "exact_match": "Exact match",
    "bleu4": "BLEU-4",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
}
FORMAT_NAMES = {"qa": "Q&A", "alpaca": "Alpaca", "sharegpt": "Conversations"}
# What static/finetune.js says itself: states, phases, and its own few words.
SCRIPT_WORDS = (
    "Queued",
    "Running",
    "Succeeded",
    "Failed",
    "Cancelled",
    "Pending",
    "Building",
    "Deploying",
    "Stopped",
    "Endpoint",
    "Deploying the model…",
    "Task",
    "Add task",
)


PHASE_NAMES = {
    "download": "Preparing the data",
    "train": "Training the model",
    "evaluate": "Evaluating",
    "export": "Pushing the model",
    "done": "Finished",
}


def phase_name(phase: str) -> str:
    return PHASE_NAMES.get(phase, phase)


def script_words(lang: str) -> dict[str, str]:
    words = {key: translate(lang, key) for key in SCRIPT_WORDS}
    return words | {f"phase:{key}": translate(lang, name) for key, name in PHASE_NAMES.items()}
