"""Which built-in framework fits which model, from config.json and the model card's metadata."""

from __future__ import annotations

from typing import Any

import pytest

from csghub.runtime.frameworks import BUILTIN, FINETUNE, builtin, environment_of, fits, model_tasks, purpose_of, trains

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
BERT = {"architectures": ["BertModel"], "model_type": "bert"}
CHAT_CARD = {"library_name": "transformers", "pipeline_tag": "text-generation"}


def fitting(config: dict[str, Any] | None, card: dict[str, Any]) -> list[str]:
    return [f.name for f in BUILTIN if fits(f, config, card)]  # llamafactory and jupyterlab serve nothing


@pytest.mark.parametrize(
    ("config", "card", "expected"),
    [
        (LLAMA, CHAT_CARD, ["transformers", "vllm"]),
        (LLAMA, {}, ["transformers", "vllm"]),  # no card: the architecture says it generates
        (BERT, {"pipeline_tag": "feature-extraction"}, ["embeddings"]),
        (BERT, {}, ["embeddings"]),
        (None, {"library_name": "sentence-transformers"}, ["embeddings"]),
        (BERT, {"pipeline_tag": "text-generation"}, []),  # a card cannot give an encoder a head
        (LLAMA, {"library_name": "gguf", "pipeline_tag": "text-generation"}, []),  # another engine's format
        (None, CHAT_CARD, []),  # no config.json: nothing to load
        ({"architectures": "LlamaForCausalLM"}, {}, []),  # malformed: not a list
        ({"architectures": ["ResNetForImageClassification"]}, {}, []),
    ],
)
def test_frameworks_fit_models_by_architecture_library_and_task(
    config: dict[str, Any] | None, card: dict[str, Any], expected: list[str]
) -> None:
    assert fitting(config, card) == expected


def test_model_tasks_prefer_the_cards_pipeline_tag() -> None:
    assert model_tasks(LLAMA, {"pipeline_tag": "summarization"}) == {"summarization"}
    assert "text-generation" in model_tasks(LLAMA, {})
    assert model_tasks({}, {}) == frozenset()


def test_only_vllm_needs_a_gpu() -> None:
    assert [n for n in ("transformers", "embeddings", "vllm") if (f := builtin(n)) and f.needs_gpu] == ["vllm"]


@pytest.mark.parametrize("card", [CHAT_CARD, {}, {"pipeline_tag": "feature-extraction"}])
def test_jupyterlab_serves_no_model_and_is_never_offered(card: dict[str, Any]) -> None:
    notebook = builtin("jupyterlab")
    transformers = builtin("transformers")
    assert notebook is not None and transformers is not None
    assert not fits(notebook, LLAMA, card) and not fits(notebook, BERT, card)
    # A layer over the transformers framework's environment, so a notebook can load what an endpoint serves.
    assert notebook.environment.base == transformers.environment
    assert notebook.environment.all_packages == (*transformers.packages, *notebook.packages)
    assert len(notebook.packages) == 1 and notebook.packages[0].startswith("jupyterlab==")


@pytest.mark.parametrize(
    ("config", "card", "expected"),
    [
        (LLAMA, CHAT_CARD, True),
        (LLAMA, {}, True),
        (BERT, {}, False),  # no generating head to fine-tune for chat
        (LLAMA, {"library_name": "gguf"}, False),
        (None, CHAT_CARD, False),
    ],
)
def test_llamafactory_trains_generating_models_and_serves_none(
    config: dict[str, Any] | None, card: dict[str, Any], expected: bool
) -> None:
    llamafactory = builtin("llamafactory")
    assert llamafactory is not None and llamafactory.purpose == FINETUNE == purpose_of(llamafactory.engine)
    assert trains(llamafactory, config, card) is expected
    assert not fits(llamafactory, config, card)
    assert [f.name for f in BUILTIN if trains(f, LLAMA, CHAT_CARD)] == ["llamafactory"]


def test_llamafactory_environment_repairs_the_cuda_vision_and_audio_wheels() -> None:
    llamafactory = builtin("llamafactory")
    assert llamafactory is not None
    assert {"torch==2.13.0", "llamafactory==0.9.5", "sacrebleu==2.6.0", "rouge-score==0.1.2"} <= set(
        llamafactory.packages
    )
    steps = llamafactory.environment.after_install
    assert steps[0] == ("-m", "pip", "uninstall", "--yes", "torchvision") and "torchaudio" in steps[1][1]
    # A framework record with the built-in's name, version and packages gets its steps (and so its build).
    same = environment_of("llamafactory", "1", llamafactory.packages)
    assert same.after_install == steps and same.key == llamafactory.environment.key
    assert environment_of("llamafactory", "2", llamafactory.packages).after_install == ()
    assert environment_of("mine", "1", ("a==1",)).key == environment_of("other", "1", ("a==1",)).key
