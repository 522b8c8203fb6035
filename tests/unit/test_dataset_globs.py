"""Glob semantics of `data_files` patterns: segments, `**`, classes, hidden and special folders, ignored names."""

from __future__ import annotations

import fnmatch
import random
import re
import time

from csghub.services.datasets.globs import compile_pattern, literal_hint, match_files

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


def test_star_patterns_match_as_fnmatch_does_within_a_segment() -> None:
    """The atomic groups that keep matching linear choose the same paths as plain backtracking would."""
    rng = random.Random(12)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab*?") for _ in range(rng.randint(1, 7)))
        name = "".join(rng.choice("ab") for _ in range(rng.randint(0, 9)))
        if pattern == "**":
            continue  # a whole-segment `**` spans segments: the next test's
        assert bool(compile_pattern(pattern).match(name)) == fnmatch.fnmatchcase(name, pattern), (pattern, name)


def _backtracking(pattern: str) -> re.Pattern[str]:
    """The plain translation (every star a greedy run): right, but exponential on crafted input."""
    parts = pattern.split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".+" if last else "(?:[^/]+/)*"
        else:
            regex += "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
            regex += "" if last else "/"
    return re.compile(regex + r"\Z")


def test_star_runs_across_segments_match_as_backtracking_would() -> None:
    rng = random.Random(13)
    for _ in range(3000):
        pattern = "/".join(rng.choice(["**", "a", "b", "*", "a*", "*b?"]) for _ in range(rng.randint(1, 5)))
        path = "/".join(rng.choice(["a", "b", "ab", "bab"]) for _ in range(rng.randint(1, 6)))
        expected = _backtracking(pattern).match(path) is not None
        assert bool(compile_pattern(pattern).match(path)) == expected, (pattern, path)


def test_patterns_built_to_backtrack_take_linear_time() -> None:
    """A README's data_files pattern must not stall the conversion: these took hours with plain backtracking."""
    cases = [
        ("*a" * 13 + "*b", "a" * 3000),
        ("/".join(["**", "a"] * 6) + "/b", "/".join(["a"] * 2000) + "/y"),
    ]
    started = time.monotonic()
    for pattern, path in cases:
        assert match_files(pattern, [path]) == []
    assert time.monotonic() - started < 2.0
