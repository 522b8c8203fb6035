"""The built-in runtime frameworks: package sets (runtime.base.Environment) and what each serves or trains.

Plain data, no database: services/compute seeds its framework table from BUILTIN and asks `fits` which
frameworks suit a model. Versions are pinned so that a framework's environment key, and so its build, stays
the same until someone changes it here; torch is pinned to the CPU wheel this machine holds (an unpinned
torch pulls a multi-GB CUDA build)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from csghub.runtime.base import Environment
from csghub.runtime.requirements import BadRequirements, normalize

TORCH_CPU = "torch==2.13.0"
TRANSFORMERS = "transformers[serving]==5.24.0"
# What transformers 5.24 was measured with (it accepts >=1.31,<3; the pin keeps builds repeatable).
HF_HUB = "huggingface_hub==2.4.0"
TOKENIZERS = "tokenizers==0.23.3"
# Endpoints of an adapter (LoRA) on a base model: the launcher merges the two before serving.
PEFT = "peft==0.21.2"
# Notebooks and spaces' apps are layers over the transformers framework's environment (runtime/environments.py):
# a notebook or an app can load the hub's models with its torch and transformers, and the machine holds one copy
# of them (about 1.2 GB) rather than one per framework. The newest releases pip resolved over those pins on
# Python 3.11 (2026-12-02).
JUPYTERLAB = "jupyterlab==4.6.6"
GRADIO = "gradio==6.31.0"
STREAMLIT = "streamlit==1.67.0"

# Fine-tuning: LLaMA-Factory 0.9.5 on the CPU torch wheel (/work/shared/research/llamafactory-cpu.md, route A).
# Its main libraries are pinned where pip resolved them (llamafactory's own upper bounds), the evaluation
# libraries where they were measured.
LLAMAFACTORY_PACKAGES = (
    TORCH_CPU,
    "llamafactory==0.9.5",
    "transformers==5.6.0",
    "peft==0.18.1",
    "trl==0.24.0",
    "datasets==4.0.0",
    "accelerate==1.11.0",
    "sacrebleu==2.6.0",
    "rouge-score==0.1.2",
)
# PyPI's torchvision and torchaudio are CUDA builds whose libraries need CUDA torch: without torchvision,
# transformers treats vision as absent; without its .so files, torchaudio imports as pure Python
# (llamafactory imports it at module level; text training never calls it).
LLAMAFACTORY_AFTER_INSTALL: tuple[tuple[str, ...], ...] = (
    ("-m", "pip", "uninstall", "--yes", "torchvision"),
    (
        "-c",
        "import glob, os, sysconfig\n"
        "for so in glob.glob(os.path.join(sysconfig.get_paths()['purelib'], 'torchaudio', 'lib', '*.so')):\n"
        "    os.remove(so)",
    ),
)
SERVE = "serve"
FINETUNE = "finetune"
NOTEBOOK = "notebook"
SPACE = "space"

CHAT_TASKS = ("text-generation", "text2text-generation", "conversational")
EMBEDDING_TASKS = ("feature-extraction", "sentence-similarity")
# Architectures whose names end so generate text (…ForCausalLM, GPT2LMHeadModel, …ForConditionalGeneration).
_GENERATIVE = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
# Encoders whose hidden states make embeddings: a bare base model, or one trained for sentence embeddings.
_ENCODERS = ("Model", "ForMaskedLM")


@dataclass(frozen=True, slots=True)
class Framework:
    name: str
    version: str
    engine: str  # "transformers" | "embeddings" | "vllm" | "jupyterlab": which launcher runs it
    packages: tuple[str, ...]
    tasks: tuple[str, ...]  # the pipeline tags it serves (none: it serves no model, e.g. jupyterlab)
    needs_gpu: bool
    libraries: tuple[str, ...]  # card `library_name`s whose models it can load
    description: str
    # SERVE: endpoints run on it; FINETUNE: it trains; NOTEBOOK: notebooks; SPACE: spaces' apps. Only SERVE serves
    purpose: str = SERVE
    after_install: tuple[tuple[str, ...], ...] = ()
    # A built-in framework whose environment this one's packages are installed over (a layer).
    base: str | None = None

    @property
    def environment(self) -> Environment:
        base = None
        if self.base is not None:
            below = builtin(self.base)
            if below is None:
                raise ValueError(f"framework '{self.name}' names an unknown base framework '{self.base}'")
            base = below.environment
        return Environment(self.name, self.version, self.packages, after_install=self.after_install, base=base)


BUILTIN: tuple[Framework, ...] = (
    Framework(
        name="transformers",
        version="1",
        engine="transformers",
        packages=(TORCH_CPU, TRANSFORMERS, HF_HUB, TOKENIZERS, PEFT),
        tasks=CHAT_TASKS,
        needs_gpu=False,
        libraries=("transformers", "peft"),
        description="Chat and text generation on CPUs with `transformers serve` (OpenAI-compatible)",
    ),
    Framework(
        name="embeddings",
        version="1",
        engine="embeddings",
        packages=(TORCH_CPU, TRANSFORMERS, HF_HUB, TOKENIZERS, PEFT),
        tasks=EMBEDDING_TASKS,
        needs_gpu=False,
        libraries=("transformers", "sentence-transformers"),
        description="Text embeddings (/v1/embeddings) from encoder models on CPUs",
    ),
    Framework(
        name="vllm",
        version="1",
        engine="vllm",
        packages=("vllm==0.33.0",),
        tasks=CHAT_TASKS,
        needs_gpu=True,
        libraries=("transformers", "vllm"),
        description="High-throughput chat and text generation on GPUs with `vllm serve` (OpenAI-compatible)",
    ),
    Framework(
        name="llamafactory",
        version="1",
        engine="llamafactory",
        packages=LLAMAFACTORY_PACKAGES,
        tasks=(),  # serves nothing: no endpoint ever picks it
        needs_gpu=False,
        libraries=("transformers",),
        description="Fine-tuning (SFT with LoRA, LoRA+, freeze, full) with LLaMA-Factory, on CPUs or GPUs",
        purpose=FINETUNE,
        after_install=LLAMAFACTORY_AFTER_INSTALL,
    ),
    Framework(
        name="jupyterlab",
        version="1",
        engine="jupyterlab",
        packages=(JUPYTERLAB,),
        tasks=(),
        needs_gpu=False,
        libraries=(),
        description="JupyterLab notebooks on CPUs with the model (and dataset) checked out; never a deploy",
        purpose=NOTEBOOK,
        base="transformers",
    ),
    Framework(
        name="gradio",
        version="1",
        engine="gradio",
        packages=(GRADIO,),
        tasks=(),
        needs_gpu=False,
        libraries=(),
        description="Gradio apps of spaces (sdk: gradio), with torch (CPU) and transformers; never a deploy",
        purpose=SPACE,
        base="transformers",
    ),
    Framework(
        name="streamlit",
        version="1",
        engine="streamlit",
        packages=(STREAMLIT,),
        tasks=(),
        needs_gpu=False,
        libraries=(),
        description="Streamlit apps of spaces (sdk: streamlit), with torch (CPU) and transformers; never a deploy",
        purpose=SPACE,
        base="transformers",
    ),
)
# Engines that serve no model (they train, run notebooks or spaces): never offered for, nor accepted by, an endpoint.
NOT_SERVING = frozenset(f.engine for f in BUILTIN if f.purpose != SERVE)


def builtin(name: str) -> Framework | None:
    return next((f for f in BUILTIN if f.name == name), None)


def purpose_of(engine: str) -> str:
    return next((f.purpose for f in BUILTIN if f.engine == engine), SERVE)


def environment_of(name: str, version: str, packages: tuple[str, ...]) -> Environment:
    """The environment of a framework record: a built-in's own (with its after-install steps) when the
    record has the built-in's name, version and packages; else the packages alone."""
    known = builtin(name)
    if known is not None and known.version == version and tuple(known.packages) == tuple(packages):
        return known.environment
    return Environment(name, version, packages)


def model_tasks(config: Mapping[str, Any] | None, card: Mapping[str, Any]) -> frozenset[str]:
    """What a model is for: its card's pipeline_tag when it has one, else what its architectures say."""
    tag = card.get("pipeline_tag")
    if isinstance(tag, str) and tag:
        return frozenset({tag})
    if card.get("library_name") == "sentence-transformers":
        return frozenset(EMBEDDING_TASKS)
    architectures = _architectures(config)
    if any(a.endswith(_GENERATIVE) for a in architectures):
        return frozenset(CHAT_TASKS)
    if any(a.endswith(_ENCODERS) for a in architectures):
        return frozenset(EMBEDDING_TASKS)
    return frozenset()


def fits(framework: Framework, config: Mapping[str, Any] | None, card: Mapping[str, Any]) -> bool:
    """Whether `framework` can serve the model with this config.json (None when it has none) and model
    card metadata. Whether this hub has the GPU a framework needs is for the caller to add. A framework
    that trains or runs notebooks serves nothing."""
    if framework.purpose != SERVE:
        return False
    library = card.get("library_name")
    if isinstance(library, str) and library and library not in framework.libraries:
        return False  # a GGUF, an ONNX export, a diffusers pipeline, ...: another engine's format
    if config is None and library != "sentence-transformers":
        return False  # nothing these engines could load
    if not set(framework.tasks) & model_tasks(config, card):
        return False
    if framework.engine == "embeddings":
        return True
    # A generating engine needs a generating head, whatever the card says.
    return any(a.endswith(_GENERATIVE) for a in _architectures(config))


def trains(framework: Framework, config: Mapping[str, Any] | None, card: Mapping[str, Any]) -> bool:
    """Whether `framework` can fine-tune the model: a training framework, and a model with a generating
    head in a library it loads."""
    if framework.purpose != FINETUNE:
        return False
    library = card.get("library_name")
    if isinstance(library, str) and library and library not in framework.libraries:
        return False
    return any(a.endswith(_GENERATIVE) for a in _architectures(config))


def _architectures(config: Mapping[str, Any] | None) -> list[str]:
    found = (config or {}).get("architectures")
    return [a for a in found if isinstance(a, str)] if isinstance(found, list) else []


def space_environment(sdk: str, requirements: tuple[str, ...]) -> Environment:
    """Where a space of this SDK runs: the SDK's environment, or, when its requirements.txt (these lines,
    comments and blank lines allowed) asks for packages, a layer of them on top of it, named by the SDK's
    environment and the normalized requirements (so unchanged requirements reuse one build). Raises
    BadRequirements, naming the line, for what pip must not be handed (runtime/requirements.py)."""
    framework = builtin(sdk)
    if framework is None or framework.purpose != SPACE:
        raise BadRequirements(f"sdk '{sdk}' runs no app process here: a space's sdk is gradio, streamlit or static")
    base = framework.environment
    extra = normalize(requirements)
    if not extra:
        return base
    return Environment(f"{sdk}-requirements", framework.version, extra, base=base)


def health_path(sdk: str, base_path: str) -> str:
    """The path under which a space's app, started under `base_path` ("/apps/o/n/"), answers 200 once up.
    Streamlit's own health route; for Gradio (6.31, measured) its web-app manifest: a few hundred bytes,
    unauthenticated even when the app has a login (/config and /gradio_api/info are not, and /config copies
    the whole app's layout per call), served by the same server as the app's routes."""
    base = base_path if base_path.endswith("/") else f"{base_path}/"
    if sdk == "streamlit":
        return f"{base}_stcore/health"
    if sdk == "gradio":
        return f"{base}manifest.json"
    raise ValueError(f"no app process for sdk '{sdk}'")
