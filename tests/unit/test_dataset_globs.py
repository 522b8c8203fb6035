"""Glob semantics of `data_files` patterns: segments, `**`, classes, hidden and special folders, ignored names."""

from __future__ import annotations

from csghub.services.datasets.globs import literal_hint, match_files

PATHS = sorted(
    [
        "README.md",
        "train.csv",
        "data/train-0.csv",
        "data/deep/test.csv",
        ".hidden/train.csv",
        "data/.cache/train.csv",
        "__pycache__/train.csv",
        "data/__special__/x.csv",
        "notes/README.md",
    ]
)


def test_star_stays_in_one_segment_and_doublestar_spans_any() -> None:
    assert match_files("*.csv", PATHS) == ["train.csv"]
    assert match_files("data/*.csv", PATHS) == ["data/train-0.csv"]
    assert match_files("data/**", PATHS) == ["data/deep/test.csv", "data/train-0.csv"]
    assert match_files("**/train[-._ 0-9]*", PATHS) == ["data/train-0.csv", "train.csv"]
    assert match_files("data/?rain-[!a-z].csv", PATHS) == ["data/train-0.csv"]


def test_hidden_and_special_folders_need_naming() -> None:
    assert ".hidden/train.csv" not in match_files("**", PATHS)
    assert match_files(".hidden/*", PATHS) == [".hidden/train.csv"]
    assert match_files("data/.cache/*.csv", PATHS) == ["data/.cache/train.csv"]
    assert "__pycache__/train.csv" not in match_files("**", PATHS)
    assert match_files("__pycache__/*", PATHS) == ["__pycache__/train.csv"]
    assert match_files("data/__special__/*", PATHS) == ["data/__special__/x.csv"]


def test_readme_is_data_only_when_named() -> None:
    assert not any(p.endswith("README.md") for p in match_files("**", PATHS))
    assert match_files("notes/README.md", PATHS) == ["notes/README.md"]


def test_first_stops_early_and_hint_is_the_longest_literal() -> None:
    assert match_files("**/*.csv", PATHS, first=True) == ["data/deep/test.csv"]
    assert literal_hint("**/*[-._ 0-9]validation[-._ 0-9]*/**") == "validation"
    assert literal_hint("**") == ""


def test_a_large_commit_is_matched_by_plain_string_work() -> None:
    paths = [*sorted(f"images/{i // 1000}/img_{i}.png" for i in range(50_000)), "z/train.csv"]
    assert match_files("**/train[-._ 0-9]*", paths) == ["z/train.csv"]
    assert len(match_files("**", paths)) == 50_001
