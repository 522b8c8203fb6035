"""Path components: every spelling of `.git` that git's verify_path refuses, and names too long to hold."""

from __future__ import annotations

import pytest

from csghub.core.errors import InvalidArgument
from csghub.core.names import validate_path
from csghub.core.paths import MAX_COMPONENT_BYTES, is_dotgit

DOTGIT = [
    ".git",
    ".GIT",
    ".gIt",
    ".git.",
    ".git..",
    ".git ",
    ".git . ",
    "git~1",
    "GIT~1",
    "git~1.",
    ".git:",
    ".git::$INDEX_ALLOCATION",
    ".git:stream:$DATA",
    ".g\u200cit",
    "\u200d.git",
    ".git\ufeff",
    ".\u202aG\u206fIT",
]
NOT_DOTGIT = [".gitx", ".git-x", "x.git", "git", "git~2", "git~11", ".gitmodules", ".github", "..git", ". git"]
NOT_DOTGIT += [".g\u0131t", ".G\u0130T"]  # dotless i, dotted capital I: git folds ASCII only


@pytest.mark.parametrize("name", DOTGIT)
def test_is_dotgit_knows_every_spelling_a_file_system_reads_as_dotgit(name: str) -> None:
    assert is_dotgit(name)
    for path in (f"{name}/config", f"sub/{name}", f"a/{name}/b"):
        with pytest.raises(InvalidArgument, match=r"read as '\.git'") as caught:
            validate_path(path)
        assert path in caught.value.message


@pytest.mark.parametrize("name", NOT_DOTGIT)
def test_is_dotgit_leaves_near_misses_alone(name: str) -> None:
    assert not is_dotgit(name)
    assert validate_path(f"{name}/file") == f"{name}/file"


@pytest.mark.parametrize("name", ["a" * 255, "é" * 127 + "a", "字" * 85])
def test_validate_path_accepts_names_of_255_bytes(name: str) -> None:
    assert len(name.encode()) == MAX_COMPONENT_BYTES
    assert validate_path(f"{name}/{name}", new=True) == f"{name}/{name}"


@pytest.mark.parametrize("path", ["a" * 256, f"{'b' * 300}/x", f"x/{'é' * 128}", f"{'字' * 86}.txt"])
def test_validate_path_refuses_new_names_over_255_bytes_but_reads_them(path: str) -> None:
    with pytest.raises(InvalidArgument, match="at most 255 bytes") as caught:
        validate_path(path, new=True)
    assert path in caught.value.message
    # A push may have brought such a name in (git's fsck has no length rule): reading it still works.
    assert validate_path(path) == path


@pytest.mark.parametrize("path", ["a//b", "a/./b", "a/../b", "./a", "a/", "a\x00b", "a\\b"])
def test_validate_path_refuses_empty_dot_components_nul_and_backslash(path: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid path"):
        validate_path(path)
