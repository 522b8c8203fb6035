"""Reading a training file's bytes into rows: CSV and TSV (a header, then one row per record), a JSON array of
objects, one JSON object, or JSON Lines; UTF-8 only (a byte order mark is fine). Each row keeps its 1-based
number as a user counts it (a CSV's header is not a row) and the line it starts on. A file that cannot be
read at all raises TrainingDataError naming the line; what is wrong with single rows is left to
training_rows."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from csghub.core.errors import InvalidArgument

# The containers a training file can be, by the name's ending.
CONTAINERS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
NOT_UTF8 = (
    "The file is not UTF-8 text (line {line}): training data must be UTF-8, with or without a byte order mark; "
    "save it again as UTF-8"
)


class TrainingDataError(InvalidArgument):
    """Training data that cannot be used; `problems` are the readable reasons, the message joins them."""

    code = "InvalidTrainingData"

    def __init__(self, problems: Iterable[str], *, path: str = "") -> None:
        self.problems = tuple(problems)
        self.path = path
        text = "; ".join(self.problems)
        super().__init__(f"{path}: {text}" if path else text)

    def at(self, path: str) -> TrainingDataError:
        """The same problems, said of one file."""
        return TrainingDataError(self.problems, path=path)


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # 1-based, as a user counts the file's rows (a CSV's header is not row 1)
    line: int  # the line the row starts on
    values: dict[str, Any] | None  # None: a JSON value that is not an object


@dataclass(slots=True)
class Table:
    container: str
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    # Rows with more cells than the header has columns (CSV): the rest of the row is not read.
    overlong: list[Row] = field(default_factory=list)


def container_of(path: str) -> str | None:
    """The container a file's name says it is, or None for files that cannot be training data."""
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return CONTAINERS.get(name[dot:]) if dot > 0 else None


def read_table(chunks: Iterable[bytes], container: str) -> Table:
    """The rows of a file whose bytes arrive as `chunks` (TrainingDataError when it cannot be read at all)."""
    lines = _lines(chunks)
    if container in ("csv", "tsv"):
        return _read_csv(lines, "\t" if container == "tsv" else ",", container)
    if container == "jsonl":
        return _read_json_lines(lines, container)
    text = "".join(lines)
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] == "{":
        try:
            return _tabled(container, [Row(1, text.count("\n", 0, start) + 1, json.loads(text))])
        except json.JSONDecodeError:
            return _read_json_lines(iter(text.splitlines(keepends=True)), container)  # JSON Lines named .json
    return _read_json_array(text, container)


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines with their endings ("\\r\\n" stays whole), split on "\\n" only."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    newlines = 0
    for chunk in _then_end(chunks):
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as exc:
            before = (chunk or b"")[: max(exc.start, 0)].count(b"\n")
            raise TrainingDataError([NOT_UTF8.format(line=newlines + pending.count("\n") + before + 1)]) from None
        pending += text
        parts = pending.split("\n")
        pending = parts.pop()
        newlines += len(parts)
        for part in parts:
            yield part + "\n"
    if pending:
        yield pending


def _then_end(chunks: Iterable[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None  # the end: the decoder refuses a sequence cut short


def _read_csv(lines: Iterator[str], delimiter: str, container: str) -> Table:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    table = Table(container)
    blank: list[Row] = []  # blank lines count as (empty) rows, unless nothing follows them
    last_line = 0
    try:
        header = next(reader, None)
        if header is None:
            return table
        table.columns = [name.strip() for name in header]
        repeated = sorted({n for n in table.columns if table.columns.count(n) > 1})
        if repeated:
            names = ", ".join(f"'{n}'" for n in repeated)
            raise TrainingDataError([f"The header names a column more than once: {names}"])
        last_line = reader.line_num
        for number, cells in enumerate(reader, start=1):
            row = Row(number, last_line + 1, dict(zip(table.columns, cells, strict=False)))
            last_line = reader.line_num
            if not cells:
                blank.append(row)
                continue
            table.rows += blank
            blank = []
            table.rows.append(row)
            if len(cells) > len(table.columns):
                table.overlong.append(row)
    except csv.Error as exc:
        raise TrainingDataError([f"The {container.upper()} cannot be read at line {last_line + 1}: {exc}"]) from None
    return table


def _read_json_lines(lines: Iterator[str], container: str) -> Table:
    rows: list[Row] = []
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue  # blank lines separate nothing in JSON Lines
        try:
            value = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise TrainingDataError([f"Line {line} is not valid JSON: {exc.msg} (column {exc.colno})"]) from None
        rows.append(Row(len(rows) + 1, line, value))
    return _tabled(container, rows)


def _read_json_array(text: str, container: str) -> Table:
    decoder = json.JSONDecoder()
    rows: list[Row] = []
    try:
        pos = _skip(text, 0)
        if text[pos : pos + 1] != "[":
            raise TrainingDataError(["The file holds neither a JSON array of rows nor JSON objects, one per line"])
        pos = _skip(text, pos + 1)
        while text[pos : pos + 1] != "]":
            value, end = decoder.raw_decode(text, pos)
            rows.append(Row(len(rows) + 1, text.count("\n", 0, pos) + 1, value))
            pos = _skip(text, end)
            if text[pos : pos + 1] == ",":
                pos = _skip(text, pos + 1)
            elif text[pos : pos + 1] != "]":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        if _skip(text, pos + 1) != len(text):
            raise json.JSONDecodeError("Extra data", text, _skip(text, pos + 1))
    except json.JSONDecodeError as exc:
        message = f"The JSON cannot be read at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise TrainingDataError([message]) from None
    return _tabled(container, rows)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _tabled(container: str, rows: list[Row]) -> Table:
    columns: dict[str, None] = {}
    kept = []
    for row in rows:
        values = row.values if isinstance(row.values, dict) else None
        kept.append(Row(row.number, row.line, values))
        columns.update(dict.fromkeys(values or ()))
    return Table(container, list(columns), kept)
