"""Writing a stream of rows as Parquet shards, and putting a finished split in place.

DuckDB rotates output files (FILE_SIZE_BYTES) with parallel writers that interleave rows across shards, so a
split bigger than one shard streams from DuckDB (which parses on all its threads and hands rows over in order)
to a pyarrow writer on a thread of its own. Shards are named as the Hub's Parquet export names them
(0000.parquet, 0001.parquet, ...) and swapped into place with renames.
"""

from __future__ import annotations

import queue
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SHARD_NAME = re.compile(r"^shard_(\d+)\.parquet$")


class ShardLimits(Protocol):
    @property
    def shard_bytes(self) -> int: ...

    @property
    def row_group_rows(self) -> int: ...

    @property
    def row_group_bytes(self) -> int: ...


def stream_shards(con: duckdb.DuckDBPyConnection, query: str, staging: Path, limits: ShardLimits) -> None:
    # Small batches keep what waits in the queue small even when rows are wide.
    reader = con.sql(query).to_arrow_reader(batch_size=min(limits.row_group_rows, 8_192))
    # A few row groups in flight at most: memory stays bounded whichever side is slower.
    pending: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=4)
    failures: list[BaseException] = []

    def write() -> None:
        writer: pq.ParquetWriter | None = None
        sink: pa.NativeFile | None = None
        index = 0
        group: list[pa.RecordBatch] = []
        rows = group_bytes = 0
        last_group_bytes = 0
        dictionary: list[str] | None = None

        def close() -> None:
            nonlocal writer, sink
            if writer is not None:
                writer.close()  # writes the footer; the sink is ours to close
            if sink is not None:
                sink.close()
            writer, sink = None, None

        def flush(table: pa.Table) -> None:
            nonlocal writer, sink, index, last_group_bytes, dictionary
            # Start a new shard when the next row group (as big as the last one, most likely) would pass the bound.
            if writer is not None and sink is not None and sink.tell() + last_group_bytes > limits.shard_bytes:
                close()
                index += 1
            if writer is None:
                if dictionary is None:
                    dictionary = dictionary_columns(table)
                sink = pa.OSFile(str(staging / f"shard_{index}.parquet"), "wb")
                writer = pq.ParquetWriter(sink, reader.schema, compression="snappy", use_dictionary=dictionary)
            assert sink is not None
            before = sink.tell()
            writer.write_table(table, row_group_size=max(1, table.num_rows))
            last_group_bytes = sink.tell() - before

        finished = False
        try:
            while (batch := pending.get()) is not None:
                group.append(batch)
                rows += batch.num_rows
                group_bytes += batch.nbytes
                if rows >= limits.row_group_rows or group_bytes >= limits.row_group_bytes:
                    # Row groups of row_group_rows rows, or fewer when rows are wide (a page decodes a whole
                    # group), whatever sizes DuckDB's batches come in.
                    table = pa.Table.from_batches(group, schema=reader.schema)
                    per_group = group_rows(table, limits)
                    while table.num_rows >= per_group:
                        flush(table.slice(0, per_group))
                        table = table.slice(per_group)
                    group, rows, group_bytes = table.to_batches(), table.num_rows, table.nbytes
            finished = True
            if rows or writer is None:
                # The tail, or (nothing at all read) an empty shard that still carries the schema.
                flush(pa.Table.from_batches(group, schema=reader.schema))
            close()
        except BaseException as exc:  # handed to the reading thread, which raises it
            failures.append(exc)
            if sink is not None:
                sink.close()
            while not finished and pending.get() is not None:  # let the reader finish putting
                pass

    thread = threading.Thread(target=write, name="parquet-shards", daemon=True)
    thread.start()
    try:
        for batch in _batches(reader):
            if failures:
                break
            pending.put(batch)
    finally:
        pending.put(None)
        thread.join()
    if failures:
        raise failures[0]


def group_rows(table: pa.Table, limits: ShardLimits) -> int:
    """Rows per row group: row_group_rows, fewer when that many rows would hold more than row_group_bytes."""
    if not table.num_rows or not table.nbytes:
        return limits.row_group_rows
    per_row = table.nbytes / table.num_rows
    return max(1, min(limits.row_group_rows, int(limits.row_group_bytes / per_row)))


def dictionary_columns(sample: pa.Table) -> list[str]:
    """Columns worth dictionary encoding, judged on the first row group: few distinct values. Trying a dictionary
    on every column (pyarrow's default) doubles the writer's CPU time on unique text and makes bigger files."""
    chosen = []
    for name in sample.column_names:
        column = sample.column(name)
        if pa.types.is_nested(column.type) or not sample.num_rows:
            continue
        if pc.count_distinct(column).as_py() <= max(1, sample.num_rows // 10):
            chosen.append(name)
    return chosen


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """DuckDB's errors surface through Arrow's stream as OSError: give them back their DuckDB kind, so that the
    conversion treats them as it treats a failed COPY."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as exc:
            text = str(exc)
            kind: type[duckdb.Error] = duckdb.InvalidInputException
            if text.startswith("Conversion Error"):
                kind = duckdb.ConversionException
            elif text.startswith("Out of Memory Error"):
                kind = duckdb.OutOfMemoryException
            raise kind(text) from exc
        yield batch


def name_shards(staging: Path) -> list[str]:
    """DuckDB's shard_<i>.parquet renamed to the Hub's 0000.parquet, 0001.parquet, ... in row order."""
    found = sorted((int(m.group(1)), p) for p in staging.iterdir() if (m := SHARD_NAME.match(p.name)) is not None)
    names = []
    for index, (_, path) in enumerate(found):
        name = f"{index:04d}.parquet"
        path.rename(staging / name)
        names.append(name)
    return names


def publish(staging: Path, destination: Path) -> None:
    """Swap the finished folder in with renames: readers see the old split or the new one, never a mix."""
    old = None
    if destination.exists():
        old = destination.parent / f".{destination.name}.old-{uuid.uuid4().hex[:12]}"
        destination.rename(old)
    staging.rename(destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
