"""Glob patterns over repository paths, with the semantics the `datasets` library gives `data_files`.

`*` and `?` stay inside one path segment, `[...]` is a character class, and `**` as a whole segment spans zero or
more segments. Hidden parts (`.x`) and `__x` folders match only when the pattern names them too, and a few
metadata files (README.md, ...) are never data unless the pattern ends in that very name.
"""

from __future__ import annotations

import re

# Files the Hub's resolution never treats as data unless a pattern asks for them by name.
FILES_TO_IGNORE = frozenset(
    {"README.md", "config.json", "dataset_info.json", "dataset_infos.json", "dummy_data.zip", "dataset_dict.json"}
)
MAGIC = re.compile(r"[*?\[]")


def has_magic(pattern: str) -> bool:
    return MAGIC.search(pattern) is not None


def _segment_pieces(segment: str) -> list[str | None]:
    """The segment as regex pieces, None standing for each `*`."""
    out: list[str | None] = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out.append(None)
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = segment[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                # Escape what regex treats specially inside a class but glob does not.
                body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return out


def _segment_regex(segment: str) -> str:
    """One segment. Every piece between two stars is fixed-width, so its leftmost match is always the right
    one: an atomic group takes it and never backtracks, which keeps `*a*a*a*b` linear in the path's length
    (a plain `[^/]*a[^/]*a...` takes time to the power of the stars: a README could stall the conversion)."""
    chunks: list[str] = [""]
    for piece in _segment_pieces(segment):
        if piece is None:
            chunks.append("")
        else:
            chunks[-1] += piece
    if len(chunks) == 1:
        return chunks[0]
    middle = "".join(f"(?>[^/]*?{chunk})" for chunk in chunks[1:-1] if chunk)
    return f"{chunks[0]}{middle}[^/]*{chunks[-1]}"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regex that matches the repository paths (no leading slash) the pattern selects."""
    segments = [s for s in pattern.strip("/").split("/") if s not in ("", ".")]
    # Runs of fixed segments between `**`s; as within a segment, each middle run's leftmost match is the right
    # one, so it is taken atomically.
    runs: list[list[str]] = [[]]
    for segment in segments:
        if segment == "**":
            runs.append([])
        else:
            runs[-1].append(_segment_regex(segment))
    if len(runs) == 1:
        return re.compile("/".join(runs[0]) + r"\Z")
    regex = "".join(f"{part}/" for part in runs[0])
    for run in runs[1:-1]:
        if run:
            regex += "(?>(?:[^/]+/)*?" + "".join(f"{part}/" for part in run) + ")"
    last = runs[-1]
    # A trailing `**` must still reach a file (one segment at least).
    regex += "(?:[^/]+/)*" + "/".join(last) if last else ".+"
    return re.compile(regex + r"\Z")


def _hidden_parts(parts: list[str]) -> int:
    return sum(1 for p in parts if p.startswith(".") and p.strip(".") != "")


def _special_parts(parts: list[str]) -> int:
    return sum(1 for p in parts if p.startswith("__"))


def literal_hint(pattern: str) -> str:
    """The longest piece of the pattern without wildcards: a path lacking it cannot match, and a substring test
    is far cheaper than the regex (a split keyword rule tries some 60 patterns over every path of a commit)."""
    pieces = re.split(r"\[[^\]]*\]|[*?/]", pattern)
    return max(pieces, key=len, default="")


def match_files(pattern: str, paths: list[str], *, first: bool = False) -> list[str]:
    """The paths the pattern selects, in the order given (sorted, as the Hub's file system glob returns them);
    with `first`, stop at the first one (enough to know whether a rule applies). Plain string work on purpose:
    PurePosixPath per path made a 100,000-file commit take seconds."""
    regex = compile_pattern(pattern)
    hint = literal_hint(pattern)
    pattern_parts = [p for p in pattern.strip("/").split("/") if p not in ("", ".")]
    pattern_hidden = _hidden_parts(pattern_parts)
    pattern_special = _special_parts(pattern_parts[:-1])
    ignore = FILES_TO_IGNORE - {pattern_parts[-1] if pattern_parts else ""}
    out = []
    for path in paths:
        if hint not in path or not regex.match(path):
            continue
        parts = path.split("/")
        if parts[-1] in ignore:
            continue
        if _hidden_parts(parts) != pattern_hidden or _special_parts(parts[:-1]) != pattern_special:
            continue
        out.append(path)
        if first:
            break
    return out
