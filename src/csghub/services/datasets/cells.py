"""Arrow values and types in the JSON shapes Hugging Face's dataset viewer answers with.

A cell becomes what `json` can write: long strings are cut (and the column named in `truncated_cells`), binary
data and image/audio structs become a short description until the viewer serves assets, dates become ISO text,
and NaN/infinity become null as JSON has no such numbers.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class CellLimits:
    max_string_chars: int = 5_000  # a page of 100 rows stays a few hundred KB even for long documents
    max_list_items: int = 100


def describe_binary(size: int) -> str:
    return f"<binary data: {size} bytes>"


def _media(value: dict[str, Any]) -> dict[str, Any]:
    """The datasets library stores Image/Audio as {bytes, path}: keep the path, describe the bytes."""
    data = value.get("bytes")
    return {
        "path": value.get("path"),
        "bytes": describe_binary(len(data)) if isinstance(data, bytes | bytearray) else None,
    }


def to_json_value(value: Any, limits: CellLimits) -> tuple[Any, bool]:
    """(JSON-ready value, whether anything in it was cut)."""
    if value is None or isinstance(value, bool | int):
        return value, False
    if isinstance(value, float):
        return (value if math.isfinite(value) else None), False
    if isinstance(value, str):
        if len(value) > limits.max_string_chars:
            return value[: limits.max_string_chars], True
        return value, False
    if isinstance(value, bytes | bytearray):
        return describe_binary(len(value)), False
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(), False
    if isinstance(value, dt.timedelta):
        return value.total_seconds(), False
    if isinstance(value, decimal.Decimal):
        return str(value), False
    if isinstance(value, dict):
        if set(value) == {"bytes", "path"}:
            return _media(value), False
        cut = False
        out = {}
        for key, item in value.items():
            out[str(key)], item_cut = to_json_value(item, limits)
            cut = cut or item_cut
        return out, cut
    if isinstance(value, list | tuple):
        items = []
        cut = len(value) > limits.max_list_items
        for item in list(value)[: limits.max_list_items]:
            converted, item_cut = to_json_value(item, limits)
            items.append(converted)
            cut = cut or item_cut
        return items, cut
    return str(value), False


def rows_to_json(table: pa.Table, first_row_idx: int | list[int], limits: CellLimits) -> list[dict[str, Any]]:
    """HF's row objects: {row_idx, row, truncated_cells}."""
    names = table.column_names
    out = []
    for i, record in enumerate(table.to_pylist()):
        row = {}
        truncated = []
        for name in names:
            row[name], cut = to_json_value(record[name], limits)
            if cut:
                truncated.append(name)
        idx = first_row_idx + i if isinstance(first_row_idx, int) else first_row_idx[i]
        out.append({"row_idx": idx, "row": row, "truncated_cells": truncated})
    return out


def _value_dtype(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "string"
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "large_string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}" + (f", tz={t.tz}]" if t.tz else "]")
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        return "date32" if pa.types.is_date32(t) else "date64"
    if pa.types.is_decimal(t):
        return f"decimal128({t.precision}, {t.scale})"
    if pa.types.is_float16(t):
        return "float16"
    return str(t)  # int8..uint64, float, double -> float32/float64 named as Arrow names them below


def feature_type(t: pa.DataType) -> dict[str, Any]:
    """An Arrow type as a `datasets` Features entry (Value, List, struct dict, Image)."""
    if pa.types.is_struct(t):
        names = {t.field(i).name for i in range(t.num_fields)}
        if names == {"bytes", "path"}:
            return {"_type": "Image"}
        return {t.field(i).name: feature_type(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return {"feature": feature_type(t.value_type), "_type": "List"}
    dtype = _value_dtype(t)
    dtype = {"float": "float32", "double": "float64", "halffloat": "float16"}.get(dtype, dtype)
    return {"dtype": dtype, "_type": "Value"}


def features(schema: pa.Schema) -> list[dict[str, Any]]:
    return [{"feature_idx": i, "name": f.name, "type": feature_type(f.type)} for i, f in enumerate(schema)]
