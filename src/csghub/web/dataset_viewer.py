"""How the viewer tab shows what services/datasets returns: cells (clipped text, compact lists and structs,
image thumbnails, visible nulls), column headers with their type and statistics, and page links.

Pure presentation over HF's JSON shapes (features, row objects, the /statistics body); no reads, no rules.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlparse

PER_PAGE = 100  # rows a page shows: HF's viewer pages hold at most 100
CLIP = 200  # characters a cell shows before its expand control
TOP_VALUES = 5
HIST_HEIGHT = 32


@dataclass(frozen=True, slots=True)
class Cell:
    kind: str  # null | text | number | bool | json | image | media
    text: str = ""
    clipped: str = ""  # the start of a long text, shown until the cell is expanded ("" when short)
    url: str = ""  # an image's address
    cut: bool = False  # the server cut a long value (truncated_cells)


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    y: int
    height: int
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    value: str
    count: int
    percent: float


@dataclass(frozen=True, slots=True)
class ColumnStats:
    kind: str  # numbers | labels
    measure: str = ""  # "" for the values themselves, "length" for texts' lengths and lists' sizes
    bars: list[Bar] = field(default_factory=list)
    width: int = 0
    low: Any = None
    high: Any = None
    mean: Any = None
    labels: list[Label] = field(default_factory=list)
    unique: int | None = None
    nulls: int = 0
    null_percent: float = 0.0


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    numeric: bool
    stats: ColumnStats | None
    sort_url: str  # "" for a column that cannot be sorted
    sorted: str  # "", "asc" or "desc"


def type_label(feature_type: dict[str, Any]) -> str:
    """`int64`, `string`, `list<string>`, `Image`, `struct`: what a header says a column holds."""
    kind = feature_type.get("_type")
    if kind == "Value":
        return str(feature_type.get("dtype", "?"))
    if kind == "List":
        return f"list<{type_label(feature_type.get('feature', {}))}>"
    if kind:
        return str(kind)
    return "struct"


def _is_numeric(feature_type: dict[str, Any]) -> bool:
    dtype = str(feature_type.get("dtype", ""))
    return feature_type.get("_type") == "Value" and dtype.startswith(("int", "uint", "float", "decimal"))


def _is_sortable(feature_type: dict[str, Any]) -> bool:
    """Plain values sort; lists, structs, images and binary data do not (rows.py refuses them)."""
    return feature_type.get("_type") == "Value" and feature_type.get("dtype") != "binary"


def is_text(feature_type: dict[str, Any]) -> bool:
    return feature_type.get("_type") == "Value" and feature_type.get("dtype") in ("string", "large_string")


def _image_url(value: dict[str, Any]) -> str:
    """HF's image cells carry `src`; only an http(s) or same-site address becomes a thumbnail."""
    src = value.get("src")
    if not isinstance(src, str):
        return ""
    scheme = urlparse(src).scheme
    return src if scheme in ("http", "https") or (not scheme and src.startswith("/")) else ""


def _clip(text: str) -> str:
    return text[:CLIP] + "…" if len(text) > CLIP else ""


def to_cell(value: Any, image: bool, cut: bool) -> Cell:
    if value is None:
        return Cell("null", "null")
    if isinstance(value, bool):
        return Cell("bool", "true" if value else "false")
    if isinstance(value, int | float):
        return Cell("number", str(value))
    if isinstance(value, dict) and ("src" in value or image):
        url = _image_url(value)
        if url:
            return Cell("image", str(value.get("path") or ""), url=url)
        return Cell("media", str(value.get("path") or value.get("bytes") or "image"))
    if isinstance(value, str):
        return Cell("text", value, _clip(value), cut=cut)
    # Lists and structs: one line of JSON, as compact as JSON gets.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Cell("json", text, _clip(text), cut=cut)


def to_rows(rows: list[dict[str, Any]], names: list[str], images: set[str]) -> list[tuple[int, list[Cell]]]:
    """HF's row objects as (row_idx, cells in column order)."""
    out = []
    for item in rows:
        cut = set(item.get("truncated_cells", ()))
        row = item["row"]
        out.append((int(item.get("row_idx", 0)), [to_cell(row.get(n), n in images, n in cut) for n in names]))
    return out


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _bars(histogram: dict[str, list[Any]] | None) -> tuple[list[Bar], int]:
    if not histogram or not histogram.get("hist"):
        return [], 0
    counts = [int(c) for c in histogram["hist"]]
    edges = histogram.get("bin_edges", [])
    top = max(counts) or 1
    bars = []
    for i, count in enumerate(counts):
        height = max(1, round(HIST_HEIGHT * count / top)) if count else 0
        low = edges[i] if i < len(edges) else ""
        high = edges[i + 1] if i + 1 < len(edges) else ""
        bars.append(Bar(x=i * 10, y=HIST_HEIGHT - height, height=height, title=f"{low} to {high}: {count}"))
    return bars, len(counts) * 10


def column_stats(entry: dict[str, Any] | None, num_rows: int) -> ColumnStats | None:
    """One column of HF's /statistics body as what its header shows."""
    if entry is None:
        return None
    kind, stats = entry.get("column_type", ""), entry.get("column_statistics", {})
    nulls = int(stats.get("nan_count") or 0)
    null_percent = _percent(nulls, num_rows)
    if kind in ("string_label", "bool", "class_label"):
        frequencies = stats.get("frequencies") or {}
        ranked = sorted(frequencies.items(), key=lambda kv: -int(kv[1]))[:TOP_VALUES]
        labels = [Label(str(v), int(n), _percent(int(n), num_rows)) for v, n in ranked]
        unique = stats.get("n_unique", len(frequencies))
        return ColumnStats("labels", labels=labels, unique=unique, nulls=nulls, null_percent=null_percent)
    bars, width = _bars(stats.get("histogram"))
    mean = stats.get("mean")
    return ColumnStats(
        "numbers",
        measure="length" if kind in ("string_text", "list") else "",
        bars=bars,
        width=width,
        low=stats.get("min"),
        high=stats.get("max"),
        mean=round(mean, 3) if isinstance(mean, float) else mean,
        nulls=nulls,
        null_percent=null_percent,
    )


def columns_of(
    features: list[dict[str, Any]], statistics: dict[str, Any] | None, num_rows: int, state: ViewState, base: str
) -> list[Column]:
    """The headers: each column's name, type, statistics (HF's /statistics body) and sort link."""
    by_name = {s["column_name"]: s for s in (statistics or {}).get("statistics", [])}
    columns = []
    for f in features:
        sort_url, sorted_now = state.sort_link(base, f["name"]) if _is_sortable(f["type"]) else ("", "")
        stats = column_stats(by_name.get(f["name"]), num_rows)
        columns.append(Column(f["name"], type_label(f["type"]), _is_numeric(f["type"]), stats, sort_url, sorted_now))
    return columns


def page_numbers(page: int, pages: int) -> list[int | None]:
    """The page links: the first, the last and two either side of the current one; None is a gap."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and out[-1] is not None and number - int(out[-1]) > 1:
            out.append(None)
        out.append(number)
    return out


def page_count(total: int) -> int:
    return max(1, math.ceil(total / PER_PAGE))


@dataclass(frozen=True, slots=True)
class ViewState:
    """What the viewer's address says: which split, which page, what search and order."""

    config: str = ""
    split: str = ""
    page: int = 1
    search: str = ""
    sort: str = ""
    desc: bool = False

    def link(self, base: str, **changes: Any) -> str:
        values = {
            "config": self.config,
            "split": self.split,
            "q": self.search,
            "sort": self.sort,
            "desc": "1" if self.desc else "",
            "page": self.page if self.page > 1 else "",
        }
        renamed = {("q" if k == "search" else k): v for k, v in changes.items()}
        values.update({k: ("" if v is None else v) for k, v in renamed.items()})
        if values["page"] in (1, "1"):
            values["page"] = ""
        query = urlencode({k: v for k, v in values.items() if v not in ("", False)})
        return f"{base}/viewer" + (f"?{query}" if query else "")

    def sort_link(self, base: str, column: str) -> tuple[str, str]:
        """(the header's link, how the column is sorted now): ascending, then descending, then unsorted."""
        if self.sort != column:
            return self.link(base, sort=column, desc="", page=""), ""
        if not self.desc:
            return self.link(base, desc="1", page=""), "asc"
        return self.link(base, sort="", desc="", page=""), "desc"
