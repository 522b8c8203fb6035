"""The nesting scanner that runs before json.loads, and which bound each route class gets."""

from __future__ import annotations

import json
import time

import pytest

from csghub.config import ConfigError, MiB, Settings, load_settings
from csghub.core.errors import InvalidArgument
from csghub.http.bodies import MAX_JSON_DEPTH, json_depth, parse_json
from csghub.http.body_limits import BodyLimitMiddleware, body_rules


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]]"]', 1),  # brackets inside strings do not nest
        (b'["\\"[[[", {"k": "\\\\"}]', 2),  # nor after escaped quotes and backslashes
        (b'"unterminated [[[[', 0),
    ],
)
def test_json_depth_counts_only_structural_brackets(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def _depth(value: object) -> int:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    if children is None:
        return 0
    return 1 + max((_depth(child) for child in children), default=0)


def test_json_depth_agrees_with_the_parser_on_valid_documents() -> None:
    document: object = "x"
    for level in range(1, 20):
        document = [document, {"k": "[{"}] if level % 2 else {"k": document, "s": "}]"}
        assert json_depth(json.dumps(document).encode()) == _depth(document)


@pytest.mark.parametrize("raw", [b"[" * 100_000, b"{" * 100_000, b'{"a":' * 65 + b"1" + b"}" * 65])
def test_parse_json_refuses_deep_nesting_with_a_400(raw: bytes) -> None:
    with pytest.raises(InvalidArgument, match=f"deeper than {MAX_JSON_DEPTH}"):
        parse_json(raw)


def test_parse_json_accepts_nesting_at_the_bound() -> None:
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) == json.loads(b"[" * 64 + b"]" * 64)


@pytest.mark.parametrize("raw", [b'"' + b'\\"' * 300_000, b'"' * 600_000, b"[" * 1_000_000])
def test_json_depth_is_linear_on_hostile_input(raw: bytes) -> None:
    began = time.monotonic()
    json_depth(raw)
    assert time.monotonic() - began < 2.0


SETTINGS = Settings()


@pytest.mark.parametrize(
    ("path", "rule", "limit", "buffered"),
    [
        ("/alice/m.git/info/lfs/objects/batch", "lfs-json", 4 * MiB, True),
        ("/lfs/complete/abc", "lfs-json", 4 * MiB, True),
        ("/lfs/objects/" + "a" * 64 + "/1234", "lfs-object", 1234, False),
        ("/lfs/parts/abc/1", "lfs-part", SETTINGS.lfs_part_size, False),
        ("/alice/m.git/git-receive-pack", "git", None, False),
        ("/datasets/alice/d.git/git-upload-pack", "git", None, False),
        ("/xet/v1/xorbs/default/" + "b" * 64, "xet-xorb", None, False),
        ("/xet/v1/shards", "xet-shard", 64 * MiB, False),
        ("/api/v1/models/alice/m/raw/a/b.txt", "inline-content", SETTINGS.max_inline_body, False),
        ("/api/v1/models/alice/m/commit/main", "inline-content", SETTINGS.max_inline_body, False),
        ("/datasets/alice/d/edit/main", "portal-edit", 2 * MiB, True),
        ("/api/models/alice/m/commit/main", "upload", SETTINGS.max_upload_body, False),
        ("/hf/api/datasets/alice/d/commit/refs/pr/1", "upload", SETTINGS.max_upload_body, False),
        ("/api/v1/models/alice/m/upload_file", "upload", SETTINGS.max_upload_body, False),
        ("/alice/m/upload/main", "upload", SETTINGS.max_upload_body, False),
        ("/login", "sign-in", 16 * 1024, True),
        ("/api/v1/auth/register", "sign-in", 16 * 1024, True),
        ("/api/repos/create", "json", SETTINGS.max_json_body, True),
        ("/api/models/alice/m/preupload/main", "json", SETTINGS.max_json_body, True),
        ("/api/models/alice/m/paths-info/main", "json", SETTINGS.max_json_body, True),
        ("/api/validate-yaml", "json", SETTINGS.max_json_body, True),
        ("/alice/m/discussions/new", "json", SETTINGS.max_json_body, True),
    ],
)
def test_each_route_class_gets_its_bound(path: str, rule: str, limit: int | None, buffered: bool) -> None:
    middleware = BodyLimitMiddleware(
        lambda *_: None,  # type: ignore[arg-type, return-value]
        rules=body_rules(SETTINGS),
        default_limit=SETTINGS.max_json_body,
        timeout=30.0,
        memory=SETTINGS.max_body_memory,
    )
    found, found_limit = middleware._classify(path)
    assert (found.name, found_limit, found.buffered) == (rule, limit, buffered)


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"CSGHUB_CLIENT_TIMEOUT": "0"}, "client_timeout"),
        ({"CSGHUB_MAX_HEADER_BYTES": "0"}, "max_header_bytes"),
        ({"CSGHUB_MAX_BODY_MEMORY": str(32 * MiB)}, "max_body_memory"),  # under max_inline_body's 64 MiB
    ],
)
def test_bad_request_bounds_are_refused_at_startup_naming_the_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_settings(environ)
