from __future__ import annotations

import pytest

from csghub.core.errors import InvalidArgument, PermissionDenied
from csghub.core.names import RepoId, RepoType, check_user_ref, validate_path, validate_ref_name, validate_revision


@pytest.mark.parametrize("value", ["alice/m", "Org-1/model.v2_final", "a/b"])
def test_repo_id_parse_accepts_valid_ids(value: str) -> None:
    assert str(RepoId.parse(value)) == value


@pytest.mark.parametrize("value", ["a", "a/b/c", "api/x", "a/b--c", "a/.x", "a/x.git", "a b/c", "a/..", "x/-y"])
def test_repo_id_parse_rejects_invalid_ids(value: str) -> None:
    with pytest.raises(InvalidArgument):
        RepoId.parse(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("models", "model"), ("dataset", "dataset"), ("codes", "code"), (None, "model"), ("Spaces", "space")],
)
def test_repo_type_parse_accepts_singular_and_plural(value: str | None, expected: str) -> None:
    assert RepoType.parse(value).value == expected


def test_repo_type_parse_rejects_unknown() -> None:
    with pytest.raises(InvalidArgument, match="Invalid repo type"):
        RepoType.parse("buckets-of-stuff")


@pytest.mark.parametrize("path", ["a.txt", "dir/sub/file.bin", "données été.txt", ".gitattributes", "a/.hidden"])
def test_validate_path_accepts_relative_paths(path: str) -> None:
    assert validate_path(path) == path


@pytest.mark.parametrize(
    "path", ["", "/abs", "../x", "a/../b", "a//b", "./a", ".git", "x/.GIT/config", "a\\b", "nul\x00", "a/", "new\nline"]
)
def test_validate_path_rejects_traversal_and_oddities(path: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_path(path)


@pytest.mark.parametrize("name", ["main", "feature/x", "v1.0", "release-2024_01"])
def test_validate_ref_name_accepts_git_names(name: str) -> None:
    assert validate_ref_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "/a", "a//b", "@", "a@{1}", "a~1", "a/.b"]
)
def test_validate_ref_name_rejects_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_ref_name(name)


def test_validate_revision_accepts_sha_and_full_refs() -> None:
    assert validate_revision("a" * 40) == "a" * 40
    assert validate_revision("refs/heads/main") == "refs/heads/main"
    assert validate_revision("refs/convert/parquet") == "refs/convert/parquet", "the hub's refs are read as revisions"


@pytest.mark.parametrize(
    "ref", ["refs/convert/parquet", "refs/convert/other", "refs/heads/refs/convert/parquet", "refs/tags/refs/convert/x"]
)
def test_check_user_ref_refuses_the_hubs_own_refs(ref: str) -> None:
    with pytest.raises(PermissionDenied, match="read-only"):
        check_user_ref(ref)


@pytest.mark.parametrize(
    "ref", ["refs/heads/main", "main", "convert/parquet", "refs/tags/v1", "refs/heads/refs-convert"]
)
def test_check_user_ref_lets_branches_and_tags_through(ref: str) -> None:
    assert check_user_ref(ref) == ref
