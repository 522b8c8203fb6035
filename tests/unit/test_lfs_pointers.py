from __future__ import annotations

import pytest

from csghub.git.lfs import LfsRules, default_gitattributes, format_pointer, parse_pointer

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"


def test_pointer_roundtrip() -> None:
    pointer = parse_pointer(format_pointer(OID, 12345))
    assert pointer is not None and (pointer.oid, pointer.size) == (OID, 12345)


def test_pointer_with_extension_lines_is_parsed() -> None:
    text = f"version https://git-lfs.github.com/spec/v1\next-0-foo sha256:{'b' * 64}\noid sha256:{OID}\nsize 7\n"
    assert parse_pointer(text.encode()) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"version https://git-lfs.github.com/spec/v1\nsize 1\n",
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID[:-1]}\nsize 1\n".encode(),
    ],
)
def test_non_pointers_are_not_parsed(data: bytes) -> None:
    assert parse_pointer(data) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("model.safetensors", True),
        ("sub/dir/w.bin", True),
        ("README.md", False),
        ("saved_model/a/b.txt", True),
        ("events.out.tfevents.1", True),
        ("a.tar.gz", True),
    ],
)
def test_default_rules_route_large_formats_to_lfs(path: str, expected: bool) -> None:
    assert LfsRules(default_gitattributes()).matches(path) is expected


def test_rules_later_lines_override_earlier() -> None:
    rules = LfsRules("*.txt filter=lfs\nkeep.txt -filter\ndocs/*.md filter=lfs\n")
    assert rules.matches("a.txt") and not rules.matches("keep.txt")
    assert rules.matches("docs/x.md") and not rules.matches("docs/sub/x.md")
