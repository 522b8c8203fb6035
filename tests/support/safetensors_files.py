"""Tiny safetensors files written by hand (the format is 8 bytes of little-endian header length, the
JSON header, then the tensors' bytes): the `safetensors` package is not installed here, and the hub
reads only the header anyway."""

from __future__ import annotations

import json
import math
import struct

ITEM_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F16": 2, "BF16": 2, "I32": 4, "F32": 4, "I64": 8, "F64": 8}


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None) -> bytes:
    """A valid file holding zero-filled tensors of the given (dtype, shape)s, in order."""
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        length = math.prod(shape) * ITEM_SIZE[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + length]}
        offset += length
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads its header to 8 bytes with spaces
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def with_header(raw: bytes, data: bytes = b"", *, claimed: int | None = None) -> bytes:
    """A file whose header is `raw` as given (corrupt ones too), its length field `claimed` or the truth."""
    return struct.pack("<Q", len(raw) if claimed is None else claimed) + raw + data
