from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from csghub.api.commit_stream import read_commit_body
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
    spooled = body.spooled_content(body.items[1]["value"]["content"])
    assert spooled is body.spooled[0] and spooled.path.read_bytes() == data and spooled.size == len(data)
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


@pytest.mark.parametrize(
    "line",
    [
        # The key escaped, so the streaming reader does not spool it: the value is the client's own string.
        b'{"key": "file", "value": {"path": "a", "cont\\u0065nt": "\\u00000\\u0000"}}\n',
        b'{"key": "file", "value": {"path": "a", "cont\\u0065nt": "0"}}\n',
        b'{"key": "file", "value": {"path": "a", "cont\\u0065nt": ":0"}}\n',
    ],
)
def test_client_strings_never_name_a_spooled_file(tmp_path: Path, line: bytes) -> None:
    real = _lines({"key": "file", "value": {"path": "b", "content": base64.b64encode(b"secret").decode()}})
    body = read_commit_body([real + line], tmp_path, max_file_size=10**6)
    assert body.spooled_content(body.items[0]["value"]["content"]) is body.spooled[0]
    forged = body.items[1]["value"]["content"]
    assert body.spooled_content(forged) is None
    assert body.spooled_content(body.nonce + ":7") is None  # even the right nonce names no missing spool
    body.cleanup()
