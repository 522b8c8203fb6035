"""The test models, built offline once per test session and cached in .cache/ by content.

The builder (tiny_model_builder.py) runs with the `transformers` runtime environment's python, built into
the shared runtimes directory the first time a test needs it (so the dev venv needs no torch); the `qa`
model, made for fine-tuning, with the `llamafactory` environment's, which trains it. xdist workers share
the cache: one builds under a lock, the others wait and reuse its result."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from csghub.runtime import environments
from csghub.runtime.base import Environment
from csghub.runtime.frameworks import builtin
from csghub.runtime.offline import minimal_env

REPO = Path(__file__).resolve().parents[2]
BUILDER = Path(__file__).with_name("tiny_model_builder.py")
FINETUNE_DATA = Path(__file__).with_name("finetune_data.py")


def shared_runtimes_dir() -> Path:
    """Where every test (and every test hub) finds runtime environments: built once per CI run."""
    return Path(os.environ.get("CSGHUB_RUNTIMES_DIR") or REPO / ".cache" / "runtimes").resolve()


def builtin_environment(name: str) -> Environment:
    """A built-in framework's environment, built (or found built) in the shared runtimes directory."""
    framework = builtin(name)
    assert framework is not None
    runtimes = shared_runtimes_dir()
    log = runtimes / f"{framework.environment.key}.log"
    environments.ensure(framework.environment, log, runtimes_dir=runtimes)
    return environments.built(runtimes, framework.environment)


def transformers_environment() -> Environment:
    return builtin_environment("transformers")


def llamafactory_environment() -> Environment:
    return builtin_environment("llamafactory")


def jupyterlab_environment() -> Environment:
    return builtin_environment("jupyterlab")


def space_environments() -> None:
    """Gradio's and Streamlit's environments built (scripts/test builds them in the background: a spaces
    module that starts first waits here, with no deadline, rather than in an app's start-up bound)."""
    builtin_environment("gradio")
    builtin_environment("streamlit")


def _models() -> Path:
    return _built(transformers_environment(), ())


def _built(environment: Environment, which: tuple[str, ...]) -> Path:
    """The builder's output for `which` (() for the default set), run once per content."""
    made_of = BUILDER.read_bytes() + FINETUNE_DATA.read_bytes() + environment.key.encode() + repr(which).encode()
    digest = hashlib.sha256(made_of).hexdigest()[:16]
    cache = REPO / ".cache" / "tiny-models"
    done = cache / digest
    if done.is_dir():
        return done
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{digest}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_dir():
            return done
        partial = cache / f"{digest}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        assert environment.python_path is not None
        result = subprocess.run(
            [environment.python_path, str(BUILDER), str(partial), *which],
            env=minimal_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise RuntimeError(f"building the tiny models failed:\n{result.stdout}\n{result.stderr}")
        partial.rename(done)
    return done


def tiny_chat_model() -> Path:
    """A small Llama (about 150k parameters, 600 KB) with a byte-level BPE tokenizer trained on a few
    sentences, a ChatML chat template and greedy generation."""
    return _models() / "chat"


def broken_chat_model() -> Path:
    """The chat model with a config.json that cannot build it (64 hidden units over 5 heads)."""
    return _models() / "broken"


def tiny_chat_adapter() -> Path:
    """A LoRA adapter (peft) on the tiny chat model, random enough to change its answers."""
    return _models() / "adapter"


def tiny_embedding_model() -> Path:
    """A 2-layer BertModel (hidden size 32) with a WordPiece tokenizer trained on a few sentences."""
    return _models() / "embeddings"


def tiny_qa_model() -> Path:
    """The chat model's shape (about 150k parameters, ChatML) with a tokenizer trained on the capitals of
    finetune_data.py, pre-trained (all parameters, 200 steps) on plain "Q: ... A: ..." lines of them: it
    answers none of the ChatML questions right until a fine-tune (LoRA+ on the 20 pairs) teaches it."""
    return _built(llamafactory_environment(), ("qa",)) / "qa"
