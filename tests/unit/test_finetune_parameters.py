"""Parameter groups: LLaMA-Factory's names and defaults, coercion from JSON and form strings, ranges, and what a
run gets on a model and cluster, with a note for every value the hub changed."""

from __future__ import annotations

from typing import Any

import pytest

from csghub.services.finetune.llamafactory_names import MODULES, TEMPLATES
from csghub.services.finetune.parameters import ParameterError, resolve, validate_parameters

TINY_LLAMA = {"model_type": "llama", "max_position_embeddings": 256, "hidden_size": 64}


def _refused(values: dict[str, Any]) -> str:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(values)
    assert caught.value.code == "InvalidParameters" and caught.value.status == 400
    return caught.value.message


def test_defaults_are_opencsg_s_then_llamaboard_s() -> None:
    assert validate_parameters({}) == {
        "stage": "sft",
        "finetuning_type": "lora",
        "learning_rate": 1e-4,
        "num_train_epochs": 3.0,
        "max_samples": 100_000,
        "cutoff_len": 2048,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.0,
        "warmup_steps": 0,
        "max_grad_norm": 1.0,
        "lora_rank": 8,
        "lora_alpha": None,
        "lora_dropout": 0.0,
        "lora_target": "all",
        "loraplus_lr_ratio": 16.0,
        "compute_type": "bf16",
        "seed": 42,
        "val_size": 0.0,
        "save_steps": 100,
        "logging_steps": 5,
        "template": "auto",
    }


def test_form_strings_are_coerced() -> None:
    values = validate_parameters(
        {
            "learning_rate": "2e-3",
            "num_train_epochs": "30",
            "lora_rank": "16",
            "cutoff_len": 64.0,
            "per_device_train_batch_size": " 4 ",
            "finetuning_type": " lora ",
            "max_samples": "",
            "lora_alpha": "",
            "warmup_steps": "",
        }
    )
    assert values["learning_rate"] == 2e-3 and values["num_train_epochs"] == 30.0
    assert values["lora_rank"] == 16 and isinstance(values["lora_rank"], int)
    assert values["cutoff_len"] == 64 and isinstance(values["cutoff_len"], int)
    assert values["per_device_train_batch_size"] == 4 and values["finetuning_type"] == "lora"
    assert values["max_samples"] is None and values["lora_alpha"] is None  # empty: all rows; twice the rank
    assert values["warmup_steps"] == 0  # empty, not nullable: the default


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rat": 1, "epochs": 2}, "Unknown parameters: epochs, learning_rat"),
        ({"learning_rate": 0}, "learning_rate must be above 0 and at most 1, not 0"),
        ({"learning_rate": "fast"}, "learning_rate must be a number, not 'fast'"),
        ({"learning_rate": "nan"}, "learning_rate must be a finite number, not 'nan'"),
        ({"learning_rate": True}, "learning_rate must be a number, not True"),
        ({"lora_rank": 2.5}, "lora_rank must be a whole number, not 2.5"),
        ({"lora_rank": [8]}, "lora_rank must be a number, not [8]"),
        ({"lora_rank": 0}, "lora_rank must be at least 1 and at most 1024, not 0"),
        ({"lora_dropout": 1}, "lora_dropout must be at least 0 and below 1, not 1"),
        ({"val_size": 1.0}, "val_size must be at least 0 and below 1, not 1.0"),
        ({"max_samples": 0}, "max_samples must be at least 1, not 0"),
        ({"cutoff_len": 3}, "cutoff_len must be at least 4 and at most 131072, not 3"),
        ({"stage": "dpo"}, "stage must be one of sft, not 'dpo'"),
        ({"finetuning_type": "oft"}, "finetuning_type must be one of lora, full, freeze, not 'oft'"),
        ({"compute_type": "int8"}, "compute_type must be one of bf16, fp16, fp32, pure_bf16, not 'int8'"),
        ({"lr_scheduler_type": "reduce_lr_on_plateau"}, "lr_scheduler_type must be one of linear, cosine,"),
        ({"template": 3}, "template must be text, not 3"),
        ({"template": "qwen9"}, "template 'qwen9' is not one of LLaMA-Factory's templates (or auto)"),
        ({"lora_target": "q_proj; v_proj"}, "lora_target must be all or module names separated by commas, not"),
        ({"warmup_ratio": 0.1, "warmup_steps": 10}, "Give warmup_ratio or warmup_steps, not both"),
    ],
)
def test_refusals_name_the_parameter(values: dict[str, Any], message: str) -> None:
    assert _refused(values).startswith(message)


def test_every_problem_is_said_at_once() -> None:
    assert _refused({"nope": 1, "lora_rank": 0, "seed": -1}) == (
        "Unknown parameters: nope; lora_rank must be at least 1 and at most 1024, not 0; "
        "seed must be at least 0 and at most 4294967295, not -1"
    )


def test_resolve_on_a_cpu_cluster_with_the_defaults() -> None:
    resolved = resolve({}, model_config=TINY_LLAMA, has_chat_template=True, gpus=0)
    assert resolved.args == {
        "stage": "sft",
        "finetuning_type": "lora",
        "learning_rate": 1e-4,
        "num_train_epochs": 3.0,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "cutoff_len": 256,
        "max_samples": 100_000,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0,
        "max_grad_norm": 1.0,
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "lora_target": "all",
        "loraplus_lr_ratio": 16.0,
        "bf16": True,
        "use_cpu": True,
        "seed": 42,
        "save_steps": 100,
        "logging_steps": 5,
    }
    assert resolved.notes == (
        "cutoff_len 2048 is more than the model's max_position_embeddings (256): lowered to 256",
        "Compute type bf16 on a cluster without GPUs: use_cpu is set, as transformers needs for bf16",
    )


def test_fp16_on_a_cpu_becomes_fp32_with_a_note() -> None:
    resolved = resolve({"compute_type": "fp16"}, model_config=TINY_LLAMA, has_chat_template=True, gpus=0)
    assert not {"fp16", "bf16", "pure_bf16", "use_cpu"} & set(resolved.args)
    assert "Compute type fp16 needs a GPU and this cluster has none: training runs in fp32" in resolved.notes


def test_pure_bf16_on_a_cpu_is_refused_and_fp32_needs_nothing() -> None:
    with pytest.raises(ParameterError, match="Compute type pure_bf16 needs a GPU with bf16 and this cluster has none"):
        resolve({"compute_type": "pure_bf16"}, model_config=TINY_LLAMA, has_chat_template=True, gpus=0)
    fp32 = resolve({"compute_type": "fp32", "cutoff_len": 64}, model_config=TINY_LLAMA, has_chat_template=True, gpus=0)
    assert not {"fp16", "bf16", "pure_bf16", "use_cpu"} & set(fp32.args) and fp32.notes == ()


@pytest.mark.parametrize("compute", ["bf16", "fp16", "pure_bf16"])
def test_compute_types_on_gpus_are_llamafactory_s_flags(compute: str) -> None:
    resolved = resolve(
        {"compute_type": compute, "cutoff_len": 64}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1
    )
    assert {k for k in ("fp16", "bf16", "pure_bf16", "use_cpu") if k in resolved.args} == {compute}
    assert resolved.args[compute] is True and resolved.notes == ()


def test_a_model_without_config_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"The model has no config\.json"):
        resolve({}, model_config=None, has_chat_template=True, gpus=1)


def test_cutoff_len_is_checked_against_the_model_s_positions() -> None:
    gpt2 = {"model_type": "gpt2", "n_positions": 1024}
    assert resolve({}, model_config=gpt2, has_chat_template=True, gpus=1).notes == (
        "cutoff_len 2048 is more than the model's n_positions (1024): lowered to 1024",
    )
    nested = {"model_type": "gemma3", "text_config": {"max_position_embeddings": 512}}
    assert resolve({}, model_config=nested, has_chat_template=True, gpus=1).args["cutoff_len"] == 512
    unknown = {"model_type": "llama"}  # no limit in config: nothing to check
    assert resolve({}, model_config=unknown, has_chat_template=True, gpus=1).args["cutoff_len"] == 2048


def test_lora_target_names_are_checked_for_known_families() -> None:
    fine = resolve({"lora_target": "q_proj, v_proj,model.layers.0.mlp.down_proj"}, model_config=TINY_LLAMA,
                   has_chat_template=True, gpus=1)  # fmt: skip
    assert fine.args["lora_target"] == "q_proj,v_proj,model.layers.0.mlp.down_proj"
    with pytest.raises(ParameterError) as caught:
        resolve({"lora_target": "q_proj,c_attn"}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert caught.value.message == (
        "lora_target names modules llama models do not have: c_attn (they have: down_proj, embed_tokens, "
        "gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj; or use all)"
    )
    other = resolve({"lora_target": "wqkv"}, model_config={"model_type": "internlm2"}, has_chat_template=True, gpus=1)
    assert other.args["lora_target"] == "wqkv"
    assert other.notes == (
        "lora_target is not checked against model type 'internlm2': "
        "LLaMA-Factory stops at start if the model has no module of a name given",
    )


def test_lora_settings_only_for_lora() -> None:
    full = resolve({"finetuning_type": "full"}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert not any(k.startswith(("lora", "loraplus")) for k in full.args)
    assert "LoRA+ (loraplus_lr_ratio) applies to LoRA only: not used with full" in full.notes
    plain = resolve({"loraplus_lr_ratio": 0, "lora_rank": 32}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert "loraplus_lr_ratio" not in plain.args and plain.args["lora_alpha"] == 64
    alpha = resolve({"lora_alpha": 8}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert alpha.args["lora_alpha"] == 8


def test_warmup_ratio_becomes_a_share_in_warmup_steps() -> None:
    ratio = resolve({"warmup_ratio": 0.1}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert ratio.args["warmup_steps"] == 0.1 and "warmup_ratio" not in ratio.args
    steps = resolve({"warmup_steps": "20"}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert steps.args["warmup_steps"] == 20


def test_template_auto_uses_the_chat_template_or_default_with_a_note() -> None:
    with_chat = resolve({}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert "template" not in with_chat.args  # LLaMA-Factory parses the tokenizer's chat template
    without = resolve({}, model_config=TINY_LLAMA, has_chat_template=False, gpus=1)
    assert without.args["template"] == "default"
    assert without.notes[-1].startswith("The model has no chat template: LLaMA-Factory's 'default' template is used")
    named = resolve({"template": "chatml"}, model_config=TINY_LLAMA, has_chat_template=False, gpus=1)
    assert named.args["template"] == "chatml" and named.notes[-1:] != without.notes[-1:]


def test_val_size_and_max_samples() -> None:
    resolved = resolve({"val_size": 0.2, "max_samples": None}, model_config=TINY_LLAMA, has_chat_template=True, gpus=1)
    assert "val_size" not in resolved.args  # training_data.prepare holds the evaluation rows out
    assert "max_samples" not in resolved.args  # all rows


def test_the_names_lists_hold_what_llamafactory_0_9_5_has() -> None:
    assert len(TEMPLATES) == 121 and {"default", "chatml", "qwen", "llama3", "empty"} <= TEMPLATES
    assert {"llama", "qwen2", "gpt2"} <= set(MODULES) and "q_proj" in MODULES["qwen2"]
