"""A streaming reader for the NDJSON commit body.

huggingface_hub inlines "regular" files as base64 inside one JSON line, which can be many megabytes.
This reader decodes such `content` strings straight into a temp file while hashing them, so a large
inline file never sits whole in memory; everything else on the line is parsed as ordinary JSON.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csghub.core.errors import InvalidArgument, TooLarge

_CONTENT_MARKER = re.compile(rb'"content"\s*:\s*"')
MAX_LINE = 1024 * 1024  # a line without inline content


@dataclass(slots=True)
class SpooledContent:
    path: Path
    size: int
    sha256: str


@dataclass(slots=True)
class CommitBody:
    items: list[dict[str, Any]] = field(default_factory=list)
    spooled: list[SpooledContent] = field(default_factory=list)
    # Every temp file created, finished or not, so a failure half-way through one removes it too.
    temp_paths: list[Path] = field(default_factory=list)
    # Spooled content is replaced by "<nonce>:<index>" in the parsed line. The nonce is random per body
    # and never sent back, so no string a client writes (an escaped key, a NUL) can name a spool.
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    def placeholder(self, index: int) -> str:
        return f"{self.nonce}:{index}"

    def spooled_content(self, value: Any) -> SpooledContent | None:
        """The spooled file a `content` value stands for, or None when the value is not a placeholder."""
        if not isinstance(value, str):
            return None
        nonce, _, index = value.partition(":")
        if nonce != self.nonce or not index.isdigit() or int(index) >= len(self.spooled):
            return None
        return self.spooled[int(index)]

    def cleanup(self) -> None:
        for path in self.temp_paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class _Spool:
    def __init__(self, directory: Path, max_size: int) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="commit-")
        self.path = Path(name)
        self.fh = os.fdopen(fd, "wb")
        self.sha = hashlib.sha256()
        self.size = 0
        self.pending = b""
        self.max_size = max_size

    def close(self) -> None:
        self.fh.close()

    def write_b64(self, data: bytes) -> None:
        if b"\\" in data:
            data = data.replace(b"\\/", b"/")
        data = self.pending + data
        usable = len(data) - len(data) % 4
        self.pending = data[usable:]
        self._emit(data[:usable])

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise InvalidArgument("Inline file content is not valid base64") from None
        self.size += len(raw)
        if self.size > self.max_size:
            raise TooLarge(f"Inline file content exceeds {self.max_size} bytes; upload it through LFS")
        self.sha.update(raw)
        self.fh.write(raw)

    def finish(self) -> SpooledContent:
        if self.pending:
            raise InvalidArgument("Inline file content is not valid base64 (truncated)")
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        return SpooledContent(self.path, self.size, self.sha.hexdigest())


def read_commit_body(chunks: Iterable[bytes], spool_dir: Path, *, max_file_size: int) -> CommitBody:
    body = CommitBody()
    try:
        _parse(chunks, spool_dir, max_file_size, body)
    except BaseException:
        body.cleanup()
        raise
    return body


def _parse(chunks: Iterable[bytes], spool_dir: Path, max_file_size: int, body: CommitBody) -> None:
    opened: list[_Spool] = []
    try:
        _parse_into(chunks, spool_dir, max_file_size, body, opened)
    finally:
        for spool in opened:
            spool.close()


def _parse_into(
    chunks: Iterable[bytes], spool_dir: Path, max_file_size: int, body: CommitBody, opened: list[_Spool]
) -> None:
    buf = bytearray()
    line_head = bytearray()  # the part of the current line before an inline content string
    spool: _Spool | None = None
    in_suffix = False

    def finish_line(line: bytes) -> None:
        nonlocal in_suffix, line_head
        text = bytes(line_head) + line
        line_head = bytearray()
        in_suffix = False
        if not text.strip():
            return
        try:
            item = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"Malformed NDJSON commit line {len(body.items) + 1}: {exc}") from None
        if not isinstance(item, dict):
            raise InvalidArgument(f"NDJSON commit line {len(body.items) + 1} is not an object")
        body.items.append(item)

    for chunk in chunks:
        buf += chunk
        while buf:
            if spool is not None:
                quote = buf.find(b'"')
                if quote < 0:
                    keep = len(buf) - (1 if buf.endswith(b"\\") else 0)
                    spool.write_b64(bytes(buf[:keep]))
                    del buf[:keep]
                    break
                spool.write_b64(bytes(buf[:quote]))
                del buf[: quote + 1]
                body.spooled.append(spool.finish())
                line_head += b'"' + body.placeholder(len(body.spooled) - 1).encode() + b'"'
                spool = None
                in_suffix = True
                continue
            newline = buf.find(b"\n")
            marker = None if in_suffix else _CONTENT_MARKER.search(buf)
            if marker is not None and (newline < 0 or marker.start() < newline):
                line_head += buf[: marker.end() - 1]
                del buf[: marker.end()]
                spool = _Spool(spool_dir, max_file_size)
                opened.append(spool)
                body.temp_paths.append(spool.path)
                continue
            if newline < 0:
                if len(buf) + len(line_head) > MAX_LINE:
                    raise InvalidArgument("NDJSON commit line is too long")
                break
            finish_line(bytes(buf[:newline]))
            del buf[: newline + 1]
    if spool is not None:
        raise InvalidArgument("NDJSON commit body ended inside a file's content")
    if buf or line_head:
        finish_line(bytes(buf))
