"""Spaces' pure parts: secrets sealed to their space and name, the names and values allowed, and what a
requirements.txt's lines become."""

from __future__ import annotations

import pytest

from csghub.core.errors import InvalidArgument, TooLarge
from csghub.services.spaces import secrets
from csghub.services.spaces.config import pinned_version, requirement_lines

KEY = "a-hub-secret-key"


def test_a_sealed_secret_opens_only_for_its_space_name_and_key() -> None:
    sealed = secrets.seal(KEY, 7, "API_KEY", "value-1")
    assert "value-1" not in sealed and sealed.startswith("v1:")
    assert secrets.unseal(KEY, 7, "API_KEY", sealed) == "value-1"
    assert secrets.seal(KEY, 7, "API_KEY", "value-1") != sealed  # a fresh nonce each time
    assert secrets.unseal(KEY, 8, "API_KEY", sealed) is None  # copied to another space
    assert secrets.unseal(KEY, 7, "OTHER", sealed) is None  # renamed
    assert secrets.unseal("another-key", 7, "API_KEY", sealed) is None
    assert secrets.unseal(KEY, 7, "API_KEY", "plain text") is None


@pytest.mark.parametrize("name", ["A", "_X", "API_KEY_2", "X" * 64])
def test_names_of_the_apps_environment_are_accepted(name: str) -> None:
    assert secrets.check_name(name) == name


@pytest.mark.parametrize("name", ["", "a", "1X", "X-Y", "X" * 65, "HF_TOKEN", "CSGHUB_SPACE_TOKEN_ALLOWED", 5])
def test_other_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidArgument):
        secrets.check_name(name)


def test_values_are_bounded_strings() -> None:
    assert secrets.check_value("x" * secrets.MAX_VALUE, "about") == ("x" * secrets.MAX_VALUE, "about")
    with pytest.raises(TooLarge):
        secrets.check_value("x" * (secrets.MAX_VALUE + 1), None)
    for bad in (5, None, "a\x00b"):
        with pytest.raises(InvalidArgument):
            secrets.check_value(bad, None)


def test_requirements_lose_comments_and_blank_lines_only() -> None:
    text = "# tools\n\nsix==1.16.0  # pinned\n  python-slugify\n-e .\n"
    assert requirement_lines(text) == ("six==1.16.0", "python-slugify", "-e .")


def test_the_pinned_sdk_versions_are_the_frameworks() -> None:
    assert pinned_version("gradio") and pinned_version("streamlit")
    assert pinned_version("static") == "" and pinned_version("docker") == ""
