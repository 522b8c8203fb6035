"""What a `.safetensors` file holds, read from its header only: the parameter count and the dtypes.

A safetensors file starts with an 8-byte little-endian length N and N bytes of JSON naming each tensor's
dtype, shape and byte range. Only those 8 + N bytes are read (through the blob store for LFS and Xet
objects, from git otherwise), N is bounded, and the answer is kept by the object's id (a sha256 for
LFS), which names the same bytes for good. A file that is not what it claims becomes a clean
"unreadable" state, never an error page.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csghub.core.errors import HubError
from csghub.services.context import Hub
from csghub.services.repositories import files, lfs
from csghub.services.repositories.files import Snapshot

# huggingface_hub's bound (get_safetensors_metadata), a quarter of the format's own 100 MB: real headers,
# thousands of tensors, are a few hundred kB, and a page may parse up to MAX_SHARDS of them once each.
MAX_HEADER = 25_000_000
MAX_SHARDS = 256  # a model page sums at most this many shards
SUFFIX = ".safetensors"
# Bytes per element, for the byte-range check; a dtype not listed here is counted without that check.
_ITEM_SIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip

OK, UNREADABLE, TOO_LARGE, UNAVAILABLE = "ok", "unreadable", "too_large", "unavailable"


@dataclass(frozen=True, slots=True)
class TensorSummary:
    """`state` is ok, unreadable (truncated or corrupt header), too_large (header over MAX_HEADER) or
    unavailable (the object is not in storage); `dtypes` pairs each dtype with its parameter count."""

    state: str
    parameters: int = 0
    dtypes: tuple[tuple[str, int], ...] = ()
    tensors: int = 0
    header_size: int = 0

    @property
    def ok(self) -> bool:
        return self.state == OK


def _tensor_parameters(name: str, spec: Any, data_size: int) -> tuple[str, int] | None:
    """(dtype, element count) of one header entry, or None when the entry does not describe a tensor
    that fits the file."""
    if not isinstance(spec, dict):
        return None
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(offsets, list):
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return None
    if len(offsets) != 2 or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        return None
    start, end = offsets
    if not 0 <= start <= end <= data_size:
        return None
    count = math.prod(shape)
    item = _ITEM_SIZE.get(dtype)
    if item is not None and count * item != end - start:
        return None
    return dtype, count


def parse_header(read: Callable[[int, int], bytes], size: int, max_header: int = MAX_HEADER) -> TensorSummary:
    """Summarise a safetensors file of `size` bytes; `read(start, end)` gives its bytes [start, end)."""
    if size < 8:
        return TensorSummary(UNREADABLE)
    (length,) = struct.unpack("<Q", read(0, 8))
    if length > max_header:
        return TensorSummary(TOO_LARGE, header_size=length)
    if length < 2 or 8 + length > size:
        return TensorSummary(UNREADABLE, header_size=length)
    raw = read(8, 8 + length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return TensorSummary(UNREADABLE, header_size=length)
    if len(raw) != length or not isinstance(header, dict):
        return TensorSummary(UNREADABLE, header_size=length)
    per_dtype: dict[str, int] = {}
    tensors = 0
    data_size = size - 8 - length
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        found = _tensor_parameters(name, spec, data_size)
        if found is None:
            return TensorSummary(UNREADABLE, header_size=length)
        per_dtype[found[0]] = per_dtype.get(found[0], 0) + found[1]
        tensors += 1
    # Largest share first, as the model page names the main dtype first.
    dtypes = tuple(sorted(per_dtype.items(), key=lambda item: (-item[1], item[0])))
    return TensorSummary(OK, sum(per_dtype.values()), dtypes, tensors, length)


def _reader(hub: Hub, snapshot: Snapshot, content: files.FileContent) -> Callable[[int, int], bytes]:
    return lambda start, end: b"".join(files.read_file(hub, snapshot, content, start, end))


def _summarise(hub: Hub, snapshot: Snapshot, content: files.FileContent) -> TensorSummary:
    try:
        return parse_header(_reader(hub, snapshot, content), content.size)
    except HubError:  # BlobNotFound, a Xet file missing chunks: nothing to read
        return TensorSummary(UNAVAILABLE)


def _key(content: files.FileContent) -> str:
    pointer = content.entry.lfs
    return f"lfs:{pointer.oid}" if pointer is not None else f"git:{content.entry.oid}"


def _cached_summary(hub: Hub, snapshot: Snapshot, content: files.FileContent) -> TensorSummary:
    summary: TensorSummary = hub.tensor_headers.load(_key(content), lambda: _summarise(hub, snapshot, content))
    return summary


def summarise_files(hub: Hub, snapshot: Snapshot, paths: list[str]) -> dict[str, TensorSummary]:
    """path -> summary for the given safetensors files at the snapshot's commit (the caller has READ).

    LFS objects the repository does not hold are "unavailable": a page never starts a download from an
    upstream, and never reads an object that another repository uploaded.
    """
    contents = {path: files.file_content(snapshot, path) for path in paths if path.endswith(SUFFIX)}
    pointers = [c.entry.lfs.oid for c in contents.values() if c.entry.lfs is not None]
    held = lfs.linked_oids(hub, snapshot.repo.id, pointers)
    out: dict[str, TensorSummary] = {}
    for path, content in contents.items():
        if content.entry.lfs is not None and content.entry.lfs.oid not in held:
            out[path] = TensorSummary(UNAVAILABLE)
            continue
        out[path] = _cached_summary(hub, snapshot, content)
    return out


@dataclass(frozen=True, slots=True)
class ModelSize:
    """The sum over a model's safetensors files; `complete` is False when some could not be read."""

    parameters: int
    dtypes: tuple[tuple[str, int], ...]
    files: int
    complete: bool


def model_size(hub: Hub, snapshot: Snapshot) -> ModelSize | None:
    """The parameter count of every safetensors file of the revision (a sharded model sums its shards);
    None when it has none."""
    paths = [e.path for e in files.all_files(snapshot) if e.path.endswith(SUFFIX)][:MAX_SHARDS]
    if not paths:
        return None
    summaries = summarise_files(hub, snapshot, paths).values()
    per_dtype: dict[str, int] = {}
    for summary in summaries:
        for dtype, count in summary.dtypes:
            per_dtype[dtype] = per_dtype.get(dtype, 0) + count
    dtypes = tuple(sorted(per_dtype.items(), key=lambda item: (-item[1], item[0])))
    complete = all(s.ok for s in summaries)
    return ModelSize(sum(per_dtype.values()), dtypes, len(paths), complete)
