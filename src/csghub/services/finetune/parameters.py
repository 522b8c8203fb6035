"""A fine-tune's parameter groups under LLaMA-Factory's own names: their defaults (OpenCSG's form where it sets
one, LLaMA-Factory's web form, LlamaBoard, otherwise), their types and ranges, and what a run on a given model
and cluster gets, with a visible note for every value the hub had to change (never a silent one)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from csghub.core.errors import InvalidArgument
from csghub.services.finetune.llamafactory_names import MODULES, TEMPLATES


class ParameterError(InvalidArgument):
    code = "InvalidParameters"


@dataclass(frozen=True, slots=True)
class Param:
    kind: type  # int | float | str
    default: Any
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive, unless below_high
    choices: tuple[str, ...] = ()
    nullable: bool = False
    above_low: bool = False  # low itself is not allowed
    below_high: bool = False  # high itself is not allowed


# transformers' schedulers that need no extra arguments (cosine_with_min_lr needs min_lr, reduce_lr_on_plateau
# an evaluation each epoch, warmup_stable_decay its phases).
SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)
COMPUTE_TYPES = ("bf16", "fp16", "fp32", "pure_bf16")

PARAMS: dict[str, Param] = {
    "stage": Param(str, "sft", choices=("sft",)),
    "finetuning_type": Param(str, "lora", choices=("lora", "full", "freeze")),
    "learning_rate": Param(float, 1e-4, 0, 1, above_low=True),  # OpenCSG
    "num_train_epochs": Param(float, 3.0, 0, 10_000, above_low=True),
    "max_samples": Param(int, 100_000, 1, nullable=True),
    "cutoff_len": Param(int, 2048, 4, 131_072),
    "per_device_train_batch_size": Param(int, 2, 1, 1024),
    "gradient_accumulation_steps": Param(int, 2, 1, 1024),  # OpenCSG
    "lr_scheduler_type": Param(str, "cosine", choices=SCHEDULERS),
    "warmup_ratio": Param(float, 0.0, 0, 1, below_high=True),
    "warmup_steps": Param(int, 0, 0, 1_000_000),
    "max_grad_norm": Param(float, 1.0, 0, 1_000_000),
    "lora_rank": Param(int, 8, 1, 1024),
    "lora_alpha": Param(int, None, 1, 2048, nullable=True),  # None: twice lora_rank, as LLaMA-Factory does
    "lora_dropout": Param(float, 0.0, 0, 1, below_high=True),
    "lora_target": Param(str, "all"),  # OpenCSG: all linear modules
    "loraplus_lr_ratio": Param(float, 16.0, 0, 1024),  # OpenCSG; 0 is plain LoRA
    "compute_type": Param(str, "bf16", choices=COMPUTE_TYPES),  # OpenCSG
    "seed": Param(int, 42, 0, 2**32 - 1),
    "val_size": Param(float, 0.0, 0, 1, below_high=True),
    "save_steps": Param(int, 100, 1, 1_000_000),
    "logging_steps": Param(int, 5, 1, 1_000_000),
    "template": Param(str, "auto"),
}
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def validate_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter, typed and in range, defaults filled; all problems at once in one ParameterError."""
    unknown = sorted(k for k in values if k not in PARAMS)
    problems = [f"Unknown parameters: {', '.join(unknown)}"] if unknown else []
    out: dict[str, Any] = {}
    for name, param in PARAMS.items():
        try:
            out[name] = _coerce(name, param, values[name]) if name in values else param.default
        except ValueError as exc:
            problems.append(str(exc))
    if not problems:
        problems += _combined(out)
    if problems:
        raise ParameterError("; ".join(problems))
    return out


def _coerce(name: str, param: Param, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None if param.nullable else param.default  # an empty form field: none (max_samples: all rows)
    if param.kind is str:
        if not isinstance(raw, str):
            raise ValueError(f"{name} must be text, not {raw!r}")
        value: Any = raw.strip()
        if param.choices and value not in param.choices:
            raise ValueError(f"{name} must be one of {', '.join(param.choices)}, not {value!r}")
        return value
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{name} must be a number, not {raw!r}")
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, not {raw!r}")
    if param.kind is int:
        if number != int(number):
            raise ValueError(f"{name} must be a whole number, not {raw!r}")
        value = int(number)
    else:
        value = number
    if param.low is not None and (value < param.low or (param.above_low and value == param.low)):
        raise ValueError(f"{name} must be {_range(param)}, not {raw}")
    if param.high is not None and (value > param.high or (param.below_high and value == param.high)):
        raise ValueError(f"{name} must be {_range(param)}, not {raw}")
    return value


def _range(param: Param) -> str:
    low = f"above {_number(param.low)}" if param.above_low else f"at least {_number(param.low)}"
    if param.high is None:
        return low
    return f"{low} and {'below' if param.below_high else 'at most'} {_number(param.high)}"


def _number(value: float | None) -> str:
    return str(int(value)) if value is not None and value == int(value) else f"{value:g}"


def _combined(values: dict[str, Any]) -> list[str]:
    problems = []
    if values["warmup_ratio"] > 0 and values["warmup_steps"] > 0:
        problems.append("Give warmup_ratio or warmup_steps, not both")
    target = values["lora_target"]
    if target != "all" and not all(MODULE_NAME.fullmatch(t.strip()) for t in target.split(",")):
        problems.append(f"lora_target must be all or module names separated by commas, not {target!r}")
    template = values["template"]
    if template != "auto" and template not in TEMPLATES:
        problems.append(f"template {template!r} is not one of LLaMA-Factory's templates (or auto)")
    return problems


@dataclass(frozen=True, slots=True)
class Resolved:
    args: dict[str, Any]  # LLaMA-Factory's arguments, as its YAML config takes them
    notes: tuple[str, ...]  # what the hub changed or decided, to show with the run


def resolve(
    values: Mapping[str, Any], *, model_config: Mapping[str, Any] | None, has_chat_template: bool, gpus: int
) -> Resolved:
    """The arguments a run of LLaMA-Factory gets for `values` on this model and cluster, and why they differ
    from what was asked where they do. val_size and seed stay with the hub: training_data.prepare holds the
    evaluation rows out itself, so the before and after evaluations score the same rows."""
    v = validate_parameters(values)
    if model_config is None:
        raise ParameterError("The model has no config.json: LLaMA-Factory cannot load it for fine-tuning")
    if gpus < 0:
        raise ParameterError(f"A cluster cannot have {gpus} GPUs")
    notes: list[str] = []
    names = ("stage", "finetuning_type", "learning_rate", "num_train_epochs", "per_device_train_batch_size")
    args: dict[str, Any] = {k: v[k] for k in names}
    args["gradient_accumulation_steps"] = v["gradient_accumulation_steps"]
    args["cutoff_len"] = _cutoff_len(v["cutoff_len"], model_config, notes)
    if v["max_samples"] is not None:
        args["max_samples"] = v["max_samples"]
    args["lr_scheduler_type"] = v["lr_scheduler_type"]
    # transformers 5 reads a warmup_steps below 1 as a share of all steps (warmup_ratio is deprecated).
    args["warmup_steps"] = v["warmup_ratio"] if v["warmup_ratio"] > 0 else v["warmup_steps"]
    args["max_grad_norm"] = v["max_grad_norm"]
    args.update(_lora(v, model_config, notes))
    args.update(_compute(v["compute_type"], gpus, notes))
    args.update(seed=v["seed"], save_steps=v["save_steps"], logging_steps=v["logging_steps"])
    if v["template"] != "auto":
        args["template"] = v["template"]
    elif not has_chat_template:
        args["template"] = "default"
        notes.append(
            "The model has no chat template: LLaMA-Factory's 'default' template is used "
            "(prompts read 'Human: ...' then 'Assistant:')"
        )
    return Resolved(args, tuple(notes))


def _cutoff_len(cutoff: int, config: Mapping[str, Any], notes: list[str]) -> int:
    found = [(k, c[k]) for c in (config, config.get("text_config") or {}) for k in POSITION_KEYS if k in c]
    limits = [(k, n) for k, n in found if isinstance(n, int) and not isinstance(n, bool) and n > 0]
    if not limits or cutoff <= limits[0][1]:
        return cutoff
    key, limit = limits[0]
    notes.append(f"cutoff_len {cutoff} is more than the model's {key} ({limit}): lowered to {limit}")
    return limit


def _lora(v: dict[str, Any], config: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    if v["finetuning_type"] != "lora":
        if v["loraplus_lr_ratio"] > 0:
            notes.append(f"LoRA+ (loraplus_lr_ratio) applies to LoRA only: not used with {v['finetuning_type']}")
        return {}
    args = {
        "lora_rank": v["lora_rank"],
        "lora_alpha": v["lora_alpha"] or 2 * v["lora_rank"],
        "lora_dropout": v["lora_dropout"],
        "lora_target": _lora_target(v["lora_target"], config, notes),
    }
    if v["loraplus_lr_ratio"] > 0:
        args["loraplus_lr_ratio"] = v["loraplus_lr_ratio"]
    return args


def _lora_target(target: str, config: Mapping[str, Any], notes: list[str]) -> str:
    if target == "all":
        return target
    names = [t.strip() for t in target.split(",") if t.strip()]
    model_type = config.get("model_type")
    known = MODULES.get(model_type) if isinstance(model_type, str) else None
    if known is None:
        notes.append(
            f"lora_target is not checked against model type {model_type!r}: "
            "LLaMA-Factory stops at start if the model has no module of a name given"
        )
        return ",".join(names)
    strange = [n for n in names if n.rsplit(".", 1)[-1] not in known]
    if strange:
        raise ParameterError(
            f"lora_target names modules {model_type} models do not have: {', '.join(strange)} "
            f"(they have: {', '.join(sorted(known))}; or use all)"
        )
    return ",".join(names)


def _compute(compute: str, gpus: int, notes: list[str]) -> dict[str, Any]:
    if gpus > 0:
        return {} if compute == "fp32" else {compute: True}
    if compute == "fp16":
        # accelerate turns fp16 mixed precision on only off the CPU: LLaMA-Factory would train in fp32 silently.
        notes.append("Compute type fp16 needs a GPU and this cluster has none: training runs in fp32")
        return {}
    if compute == "bf16":
        notes.append("Compute type bf16 on a cluster without GPUs: use_cpu is set, as transformers needs for bf16")
        return {"bf16": True, "use_cpu": True}
    if compute == "pure_bf16":
        raise ParameterError("Compute type pure_bf16 needs a GPU with bf16 and this cluster has none: use bf16 or fp32")
    return {}
