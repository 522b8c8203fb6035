"""Conversion of one config/split's data files into Parquet shards, the form every other module here reads.

DuckDB reads the files with the format options the layout found (delimiter, JSON flavour, compression) and
writes shards of bounded size whose row groups are small enough to serve one page of rows cheaply. The shards
are written into a temporary folder beside the destination and renamed into place, so a reader never sees a
half-written split. A file DuckDB cannot read becomes a DatasetFileError that names the file and the line.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from csghub.core.errors import InvalidArgument, TooLarge
from csghub.services.datasets.errors import DatasetFileError
from csghub.services.datasets.layout import Config, DataFile, Split
from csghub.services.datasets.sandbox import literal, open_connection
from csghub.services.datasets.shards import name_shards, publish, stream_shards

MiB = 1024 * 1024
# A page of 100 rows then decodes one row group of this many rows at most (a few MiB for wide text rows),
# while a group stays large enough for Parquet's compression and for DuckDB's parallel scan.
ROW_GROUP_ROWS = 32_768
LINE = re.compile(r"\b[Ll]ine:? (\d+)")
JSON_LINE = re.compile(r"in line (\d+)")


@dataclass(frozen=True, slots=True)
class ConversionLimits:
    shard_bytes: int = 256 * MiB
    row_group_rows: int = ROW_GROUP_ROWS
    # ... and at most this many bytes (uncompressed) for wide rows, so one page never decodes a huge group.
    row_group_bytes: int = 32 * MiB
    memory_limit_bytes: int = 1024 * MiB
    threads: int = 2


@dataclass(frozen=True, slots=True)
class SplitConversion:
    config: str
    split: str
    schema: pa.Schema
    num_rows: int
    bytes_in: int  # the source files as stored (compressed when they are)
    bytes_out: int  # the Parquet shards
    shards: tuple[str, ...]  # file names inside the destination folder, in row order (0000.parquet, ...)


def convert_split(
    config: Config,
    split: Split,
    source: Path | Mapping[str, Path],
    destination: Path,
    limits: ConversionLimits = ConversionLimits(),
) -> SplitConversion:
    """Convert `split` of `config` into `destination/0000.parquet, 0001.parquet, ...`, replacing what was there.

    `source` is the folder the repository's files are checked out in, or a map from repository path to a local
    file (e.g. LFS objects in the blob store)."""
    if not split.files:
        raise InvalidArgument(f"Split {split.name!r} of config {config.name!r} has no data files")
    if any(".." in PurePosixPath(f.path).parts or f.path.startswith("/") for f in split.files):
        raise InvalidArgument("Data file paths must stay inside the repository")
    local = {f.path: (source / f.path if isinstance(source, Path) else Path(source[f.path])) for f in split.files}
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        con = open_connection(limits.memory_limit_bytes, limits.threads, staging / ".spill")
        try:
            _copy(con, lambda sample_all: _select(config, split, local, sample_all), staging, limits, split, local)
        finally:
            con.close()
        shutil.rmtree(staging / ".spill", ignore_errors=True)
        shards = name_shards(staging)
        schema = pq.read_schema(staging / shards[0])
        num_rows = sum(pq.ParquetFile(staging / s).metadata.num_rows for s in shards)
        bytes_out = sum((staging / s).stat().st_size for s in shards)
        publish(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SplitConversion(
        config.name, split.name, schema.remove_metadata(), num_rows, split.size, bytes_out, tuple(shards)
    )


def _reader(kind: str, compression: str, paths: list[Path], delimiter: str | None, sample_all: bool) -> str:
    files = "[" + ", ".join(literal(str(p)) for p in paths) + "]"
    options = [f"compression={literal(compression)}"]
    if len(paths) > 1:
        options.append("union_by_name=true")  # each file sniffed on its own: an error names the bad one
    if sample_all:
        options.append("sample_size=-1")
    if kind in ("csv", "tsv"):
        delim = delimiter if delimiter is not None else ("\t" if kind == "tsv" else ",")
        if not 1 <= len(delim) <= 4:
            raise InvalidArgument(f"The CSV delimiter {delim!r} from the README is not usable")
        return f"read_csv({files}, header=true, delim={literal(delim)}, {', '.join(options)})"
    if kind in ("json", "jsonl"):
        # `.json` may hold an array of records or one record per line, as the Hub's json builder accepts.
        flavour = "newline_delimited" if kind == "jsonl" else "auto"
        return f"read_json({files}, format={literal(flavour)}, {', '.join(options)})"
    options = [o for o in options if not o.startswith(("compression", "sample_size"))]
    return f"read_parquet({files}{''.join(', ' + o for o in options)})"


def _select(config: Config, split: Split, local: Mapping[str, Path], sample_all: bool = False) -> str:
    """One SELECT over the split: consecutive files of the same kind read together, kinds glued by name."""
    groups: list[tuple[tuple[str, str], list[DataFile]]] = []
    for f in split.files:
        key = (f.format, f.compression)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(f)
        else:
            groups.append((key, [f]))
    selects = [
        f"SELECT * FROM {_reader(kind, comp, [local[f.path] for f in files], config.delimiter, sample_all)}"
        for (kind, comp), files in groups
    ]
    return " UNION ALL BY NAME ".join(selects)


def _copy(
    con: duckdb.DuckDBPyConnection,
    select: Callable[[bool], str],
    staging: Path,
    limits: ConversionLimits,
    split: Split,
    local: Mapping[str, Path],
) -> None:
    files = split.files
    # DuckDB writes rows in order into one file with all its threads, but once it rotates files (FILE_SIZE_BYTES)
    # its writers run in parallel and rows interleave across shards. So a split whose source fits in one shard is
    # one parallel COPY; a larger one streams from DuckDB (parsing on all its threads, rows in order) to a pyarrow
    # writer on a thread of its own that starts the next shard when one is full.
    estimate = sum(f.size * (4 if f.compression != "none" else 1) for f in files)
    sharded = estimate > limits.shard_bytes

    def run(q: str) -> None:
        if sharded:
            stream_shards(con, q, staging, limits)
        else:
            target = literal(str(staging / "shard_0.parquet"))
            con.execute(
                f"COPY ({q}) TO {target} (FORMAT parquet, ROW_GROUP_SIZE {int(limits.row_group_rows)}, "
                f"ROW_GROUP_SIZE_BYTES {int(limits.row_group_bytes)})"
            )

    try:
        try:
            run(select(False))
        except duckdb.ConversionException:
            # The type DuckDB guessed from the first rows fails further down: guess again from every row.
            for leftover in staging.glob("shard_*.parquet"):
                leftover.unlink()
            run(select(True))
    except duckdb.OutOfMemoryException as exc:
        raise TooLarge(f"Converting these files needs more than {limits.memory_limit_bytes // MiB} MiB") from exc
    except duckdb.Error as exc:
        raise _file_error(exc, files, local) from exc


def _file_error(exc: duckdb.Error, files: tuple[DataFile, ...], local: Mapping[str, Path]) -> DatasetFileError:
    """DuckDB's message, first lines only, with local paths turned back into repository paths."""
    text = str(exc)
    culprit = next((f for f in files if str(local[f.path]) in text), files[0] if len(files) == 1 else None)
    for f in files:
        text = text.replace(str(local[f.path]), f.path)
    text = re.sub(r"^[A-Za-z ]+Error: ", "", text)
    line_match = LINE.search(text)
    line = int(line_match.group(1)) if line_match else None
    json_line = JSON_LINE.search(text) if "Malformed JSON" in text else None
    if json_line:
        # DuckDB's JSON reader counts from the line after the record it failed on (a record on line 3 is reported
        # as "line 4"; tests/integration/test_dataset_convert.py pins this): tell the user the real line.
        line = int(json_line.group(1)) - 1
        text = JSON_LINE.sub(f"in line {line}", text, count=1)
    detail = " ".join(part.strip() for part in text.splitlines()[:2] if part.strip())[:300]
    where = culprit.path if culprit else ", ".join(f.path for f in files)
    prefix = where + (f", line {line}" if line is not None else "")
    return DatasetFileError(f"Cannot read {prefix}: {detail}", path=where, line=line)
