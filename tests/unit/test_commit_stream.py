from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from csghub.api.commit_stream import read_commit_body, spooled_index
from csghub.core.errors import InvalidArgument, TooLarge


def _lines(*items: dict) -> bytes:
    return ("\n".join(json.dumps(i) for i in items) + "\n").encode()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 10**9])
def test_inline_content_is_spooled_to_disk_whatever_the_chunking(tmp_path: Path, chunk: int) -> None:
    data = os.urandom(50_001)
    raw = _lines(
        {"key": "header", "value": {"summary": 'says "content": "x"'}},
        {"key": "file", "value": {"content": base64.b64encode(data).decode(), "path": "a.bin", "encoding": "base64"}},
        {"key": "deletedFile", "value": {"path": "old"}},
    )
    body = read_commit_body((raw[i : i + chunk] for i in range(0, len(raw), chunk)), tmp_path, max_file_size=10**9)
    assert body.items[0]["value"]["summary"] == 'says "content": "x"'
    index = spooled_index(body.items[1]["value"]["content"])
    assert index == 0 and body.spooled[0].path.read_bytes() == data and body.spooled[0].size == len(data)
    assert body.items[2] == {"key": "deletedFile", "value": {"path": "old"}}
    body.cleanup()
    assert not body.spooled[0].path.exists()


def test_content_with_escaped_slashes_decodes(tmp_path: Path) -> None:
    data = b"\xff\xfe\xfd" * 100
    encoded = base64.b64encode(data).decode().replace("/", "\\/")
    raw = b'{"key": "file", "value": {"path": "a", "content": "' + encoded.encode() + b'"}}\n'
    body = read_commit_body([raw], tmp_path, max_file_size=10**6)
    assert body.spooled[0].path.read_bytes() == data


def test_oversized_inline_content_is_refused_and_spool_removed(tmp_path: Path) -> None:
    raw = _lines({"key": "file", "value": {"content": base64.b64encode(b"x" * 1000).decode(), "path": "a"}})
    with pytest.raises(TooLarge):
        read_commit_body([raw], tmp_path, max_file_size=100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"key": "file", "value": {"content": "abc',
        b"nope\n",
        b"[1]\n",
        b'{"key": "file", "value": {"content": "a=b=", "path": "x"}}\n',
    ],
)
def test_malformed_bodies_are_invalid(tmp_path: Path, raw: bytes) -> None:
    with pytest.raises(InvalidArgument):
        read_commit_body([raw], tmp_path, max_file_size=10**6)
    assert list(tmp_path.iterdir()) == []
