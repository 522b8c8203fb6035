"""A space's requirements.txt: what is refused before pip sees it, and how the rest names its environment."""

from __future__ import annotations

from typing import Any

import pytest

from csghub.core.errors import InvalidArgument
from csghub.runtime.base import RunnerError
from csghub.runtime.frameworks import (
    NOT_SERVING,
    SPACE,
    BadRequirements,
    builtin,
    fits,
    health_path,
    purpose_of,
    space_environment,
    trains,
)
from csghub.runtime.requirements import MAX_BYTES, MAX_REQUIREMENTS, normalize

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
CHAT_CARD: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": "text-generation"}


def test_requirements_normalize_comments_spacing_names_and_order() -> None:
    lines = (
        "\ufeff# a comment, after the byte-order mark some editors write",
        "",
        "Python_Slugify >= 8.0   # trailing comment",
        "requests[socks,security]==2.32.0",
        "numpy; python_version >= '3.9'",
        "python-slugify>=8.0\r",
    )
    got = normalize(lines)
    assert got == ('numpy; python_version >= "3.9"', "python-slugify>=8.0", "requests[security,socks]==2.32.0")
    assert normalize(tuple(reversed(lines))) == got
    assert normalize(()) == normalize(("", "  # only comments")) == ()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("-r other.txt", "pip options"),
        ("-e .", "pip options"),
        ("--index-url https://example.invalid/simple", "pip options"),
        ("--extra-index-url https://example.invalid/simple", "pip options"),
        ("-f /tmp/wheels", "pip options"),
        ("--trusted-host example.invalid", "pip options"),
        ("https://example.invalid/pkg-1.0.tar.gz", "URLs and local paths"),
        ("pkg @ https://example.invalid/pkg-1.0.tar.gz", "URLs and local paths"),
        ("pkg @ file:///tmp/pkg", "URLs and local paths"),
        ("git+https://example.invalid/repo.git", "URLs and local paths"),
        ("./local-package", "URLs and local paths"),
        ("/abs/path/pkg-1.0-py3-none-any.whl", "URLs and local paths"),
        ("pkg-1.0-py3-none-any.whl", "URLs and local paths"),
        ("dist.tar.gz", "URLs and local paths"),
        ("~/pkg", "URLs and local paths"),
        ("torch==2.5.1", "torch 2.13.0"),
        ("torch>=2.14", "torch 2.13.0"),
        ("torch<2", "torch 2.13.0"),
        ("Torch==1.13", "torch 2.13.0"),
        ("pkg --hash=sha256:abcd", "not a package requirement"),
        ("not a requirement !", "not a package requirement"),
        ("pkg==1 \\", "line continuations"),
        ("pkg#glued==1", "not a package requirement"),  # pip reads '#' glued to a name as part of it
    ],
)
def test_requirements_refuse_what_pip_must_not_see_naming_the_line(line: str, why: str) -> None:
    with pytest.raises(BadRequirements) as caught:
        normalize(("gradio", line))
    assert why in caught.value.message
    assert f"line 2 ({line!r})" in caught.value.message
    # A request error (400) that the compute services can also treat as a runner error.
    assert isinstance(caught.value, InvalidArgument) and isinstance(caught.value, RunnerError)
    assert caught.value.status == 400 and caught.value.code == "BadRequirements"


@pytest.mark.parametrize("line", ["torch", "torch==2.13.0", "torch>=2.0,<3", "torch~=2.13"])
def test_requirements_accept_the_base_environments_torch(line: str) -> None:
    assert normalize((line,))[0].startswith("torch")


def test_requirements_are_bounded_in_bytes_and_count() -> None:
    with pytest.raises(BadRequirements, match=f"at most {MAX_BYTES}"):
        normalize(("# " + "x" * MAX_BYTES,))
    many = tuple(f"package-{n}" for n in range(MAX_REQUIREMENTS + 1))
    with pytest.raises(BadRequirements, match=f"at most {MAX_REQUIREMENTS}"):
        normalize(many)
    assert len(normalize(many[:MAX_REQUIREMENTS])) == MAX_REQUIREMENTS


def test_space_sdks_are_frameworks_that_serve_and_train_nothing() -> None:
    transformers = builtin("transformers")
    assert transformers is not None
    for sdk in ("gradio", "streamlit"):
        framework = builtin(sdk)
        assert framework is not None and framework.purpose == SPACE == purpose_of(sdk) and framework.engine == sdk
        assert framework.tasks == () and not framework.needs_gpu
        assert sdk in NOT_SERVING
        assert not fits(framework, LLAMA, CHAT_CARD) and not trains(framework, LLAMA, CHAT_CARD)
        # The SDK, pinned, over the transformers framework's environment: one torch on the machine, not three.
        assert len(framework.packages) == 1 and framework.packages[0].startswith(f"{sdk}==")
        assert framework.environment.base == transformers.environment
        assert framework.environment.all_packages == (*transformers.packages, *framework.packages)
    gradio, streamlit = builtin("gradio"), builtin("streamlit")
    assert gradio is not None and streamlit is not None
    assert gradio.environment.key != streamlit.environment.key


def test_space_environment_is_the_sdks_or_a_layer_named_by_its_requirements() -> None:
    gradio = builtin("gradio")
    assert gradio is not None
    assert space_environment("gradio", ()) == space_environment("gradio", ("# nothing",)) == gradio.environment

    layer = space_environment("gradio", ("python-slugify", "# slugs"))
    assert layer.base == gradio.environment and layer.packages == ("python-slugify",)
    assert layer.all_packages == (*gradio.environment.all_packages, "python-slugify")
    assert layer.key != gradio.environment.key
    assert layer.key == space_environment("gradio", ("Python_Slugify  ",)).key  # the same requirements
    assert layer.key != space_environment("streamlit", ("python-slugify",)).key  # another base
    assert layer.key != space_environment("gradio", ("python-slugify==9.2.0",)).key

    for sdk in ("static", "docker", "transformers"):
        with pytest.raises(BadRequirements, match=f"sdk '{sdk}' runs no app process"):
            space_environment(sdk, ())


def test_health_paths_answer_under_the_apps_base_path() -> None:
    assert health_path("streamlit", "/apps/alice/demo/") == "/apps/alice/demo/_stcore/health"
    assert health_path("streamlit", "/apps/alice/demo") == "/apps/alice/demo/_stcore/health"
    assert health_path("gradio", "/apps/alice/demo/") == "/apps/alice/demo/manifest.json"
    with pytest.raises(ValueError, match="static"):
        health_path("static", "/apps/alice/demo/")
