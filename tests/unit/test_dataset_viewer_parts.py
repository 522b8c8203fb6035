"""The viewer tab's presentation of HF's shapes: cells, column statistics, page links and addresses."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from csghub.web.dataset_viewer import (
    CLIP,
    ViewState,
    column_stats,
    columns_of,
    page_numbers,
    to_cell,
    to_rows,
    type_label,
)
from csghub.web.i18n import _ZH
from csghub.web.render import TEMPLATES


def test_cells_show_nulls_numbers_clipped_text_and_compact_json() -> None:
    assert to_cell(None, False, False).kind == "null"
    assert (to_cell(True, False, False).text, to_cell(0.5, False, False).kind) == ("true", "number")
    short = to_cell("short", False, False)
    assert (short.kind, short.text, short.clipped) == ("text", "short", "")
    long = to_cell("x" * (CLIP + 50), False, True)
    assert long.clipped == "x" * CLIP + "…" and long.text == "x" * (CLIP + 50) and long.cut
    nested = to_cell({"a": [1, 2], "b": "中"}, False, False)
    assert (nested.kind, nested.text) == ("json", '{"a":[1,2],"b":"中"}')


def test_image_cells_are_thumbnails_only_with_a_safe_address() -> None:
    assert to_cell({"src": "https://cdn.example/1.jpg", "height": 4}, False, False).url == "https://cdn.example/1.jpg"
    assert to_cell({"src": "/datasets/a/b/resolve/main/1.png"}, False, False).kind == "image"
    for src in ("javascript:alert(1)", "data:image/png;base64,AAAA", None):
        assert to_cell({"src": src}, False, False).kind == "media"
    # The datasets library's {bytes, path} in an Image column: a placeholder naming the file.
    placeholder = to_cell({"path": "cat.png", "bytes": "<binary data: 10 bytes>"}, True, False)
    assert (placeholder.kind, placeholder.text) == ("media", "cat.png")


def test_rows_keep_their_index_and_column_order() -> None:
    rows = to_rows(
        [{"row_idx": 7, "row": {"b": None, "a": "x" * (CLIP + 1)}, "truncated_cells": ["a"]}], ["a", "b"], set()
    )
    assert rows[0][0] == 7 and [c.kind for c in rows[0][1]] == ["text", "null"] and rows[0][1][0].cut


def test_type_labels() -> None:
    assert type_label({"dtype": "int64", "_type": "Value"}) == "int64"
    assert type_label({"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"}) == "list<string>"
    assert type_label({"_type": "Image"}) == "Image"
    assert type_label({"a": {"dtype": "int64", "_type": "Value"}}) == "struct"


def test_statistics_of_numbers_give_bars_scaled_to_the_tallest() -> None:
    entry = {
        "column_name": "score",
        "column_type": "float",
        "column_statistics": {
            "nan_count": 1,
            "min": 0.0,
            "max": 9.0,
            "mean": 4.123456,
            "histogram": {"hist": [1, 4, 0, 2], "bin_edges": [0.0, 2.25, 4.5, 6.75, 9.0]},
        },
    }
    stats = column_stats(entry, 8)
    assert stats is not None and stats.kind == "numbers" and stats.measure == ""
    assert [b.height for b in stats.bars] == [8, 32, 0, 16] and stats.width == 40
    assert stats.bars[1].title == "2.25 to 4.5: 4" and stats.bars[1].y == 0
    assert (stats.low, stats.high, stats.mean, stats.nulls, stats.null_percent) == (0.0, 9.0, 4.123, 1, 12.5)
    text = column_stats({"column_type": "string_text", "column_statistics": {"histogram": None}}, 0)
    assert text is not None and text.measure == "length" and text.bars == [] and text.null_percent == 0.0


def test_statistics_of_labels_give_the_most_frequent_values() -> None:
    frequencies = {f"v{i}": i for i in range(1, 9)}
    entry = {
        "column_type": "string_label",
        "column_statistics": {"nan_count": 0, "n_unique": 8, "frequencies": frequencies},
    }
    stats = column_stats(entry, 36)
    assert stats is not None and [label.value for label in stats.labels] == ["v8", "v7", "v6", "v5", "v4"]
    assert stats.labels[0].percent == 22.2 and stats.unique == 8
    assert column_stats(None, 10) is None


def test_page_links_show_the_ends_and_the_neighbourhood() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(10, 40) == [1, None, 8, 9, 10, 11, 12, None, 40]
    assert page_numbers(40, 40) == [1, None, 38, 39, 40]


def test_view_addresses_keep_the_state_and_drop_defaults() -> None:
    state = ViewState(config="default", split="train", page=3, search="a&b", sort="score", desc=True)
    query = parse_qs(urlparse(state.link("/datasets/o/d")).query)
    assert query == {
        "config": ["default"],
        "split": ["train"],
        "q": ["a&b"],
        "sort": ["score"],
        "desc": ["1"],
        "page": ["3"],
    }
    assert (
        state.link("/datasets/o/d", page=1, search="", sort="", desc="")
        == "/datasets/o/d/viewer?config=default&split=train"
    )
    # A header's link cycles ascending, descending, unsorted, and starts from the first page.
    plain = ViewState(config="c", split="s", page=2)
    url, now = plain.sort_link("/b", "x")
    assert now == "" and "sort=x" in url and "desc" not in url and "page" not in url
    url, now = ViewState(sort="x").sort_link("/b", "x")
    assert now == "asc" and "desc=1" in url
    url, now = ViewState(sort="x", desc=True).sort_link("/b", "x")
    assert now == "desc" and url == "/b/viewer"


def test_every_viewer_label_has_a_chinese_translation() -> None:
    template = (TEMPLATES / "dataset_viewer.html").read_text(encoding="utf-8")
    labels = set(re.findall(r"t\('([^']+)'\)", template))
    assert len(labels) > 30
    assert sorted(label for label in labels if label not in _ZH) == []


def test_headers_carry_type_statistics_and_sort_state() -> None:
    features = [
        {"feature_idx": 0, "name": "n", "type": {"dtype": "int64", "_type": "Value"}},
        {"feature_idx": 1, "name": "s", "type": {"dtype": "string", "_type": "Value"}},
    ]
    statistics = {"statistics": [{"column_name": "n", "column_type": "int", "column_statistics": {"nan_count": 2}}]}
    n, s = columns_of(features, statistics, 4, ViewState(sort="n"), "/datasets/o/d")
    assert (n.name, n.type, n.numeric, n.sorted) == ("n", "int64", True, "asc")
    assert n.stats is not None and n.stats.nulls == 2 and n.stats.null_percent == 50.0
    assert (s.numeric, s.stats, s.sorted) == (False, None, "")
    assert s.sort_url == "/datasets/o/d/viewer?sort=s"


def test_only_plain_values_get_a_sort_link() -> None:
    features = [
        {"name": "tags", "type": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"}},
        {"name": "img", "type": {"_type": "Image"}},
        {"name": "blob", "type": {"dtype": "binary", "_type": "Value"}},
        {"name": "when", "type": {"dtype": "timestamp[us]", "_type": "Value"}},
    ]
    assert [c.sort_url != "" for c in columns_of(features, None, 0, ViewState(), "/b")] == [False, False, False, True]
