"""The database as portable JSON lines: a consistent snapshot of every table, and its load into an empty
database of either dialect.

One format for both engines, so a backup of an SQLite hub restores onto PostgreSQL and back. Each table is
one file of JSON objects (one row a line, ordered by primary key); datetimes and dates are ISO text and
binary columns base64, and a loader decodes them by the column types of the schema it loads into (the
backup's own revision, built by the migrations). The ids each table has handed out travel too, so a
restored hub never reuses the id of a deleted row (repositories' folders are named by id).
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import sqltypes

VERSION_TABLE = "alembic_version"
_BATCH = 1000


@contextlib.contextmanager
def consistent_snapshot(engine: Engine, scratch: Path) -> Iterator[Connection]:
    """A connection that sees one instant of the database while the hub keeps writing.

    SQLite: the online backup API copies the file in one read transaction (WAL lets writers go on), and the
    copy is read at leisure. PostgreSQL: one REPEATABLE READ, read-only transaction sees a single snapshot.
    """
    if engine.dialect.name == "sqlite":
        source_path = engine.url.database
        assert source_path, "an SQLite hub has a database file"
        with tempfile.TemporaryDirectory(dir=scratch, prefix=".db-snapshot-") as folder:
            copy = Path(folder) / "snapshot.sqlite"
            source = sqlite3.connect(source_path, timeout=30)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # all pages in one step: one read transaction, so one instant
            finally:
                target.close()
                source.close()
            snapshot = create_engine(f"sqlite:///{copy}")
            try:
                with snapshot.connect() as conn:
                    yield conn
            finally:
                snapshot.dispose()
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.execute(text("SET TRANSACTION READ ONLY"))
        yield conn


def schema_revision(conn: Connection) -> str:
    """The migration revision the database is at ('' when it has none)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return ""
    return str(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() or "")


def _reflect(conn: Connection) -> list[Table]:
    meta = MetaData()
    meta.reflect(bind=conn)
    return [table for table in meta.sorted_tables if table.name != VERSION_TABLE]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def dump_table(conn: Connection, table: Table, out: IO[str]) -> int:
    """Write a table's rows as JSON lines ordered by primary key (so equal tables dump equally)."""
    order = list(table.primary_key.columns) or list(table.columns)
    names = [column.name for column in table.columns]
    count = 0
    result = conn.execution_options(yield_per=_BATCH).execute(select(table).order_by(*order))
    for row in result:
        out.write(json.dumps(dict(zip(names, (_encode(v) for v in row), strict=True)), separators=(",", ":")))
        out.write("\n")
        count += 1
    return count


def dump_database(conn: Connection, folder: Path) -> dict[str, int]:
    """Every table (but the migrations' own) as `<table>.jsonl` in `folder`; returns rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in _reflect(conn):
        with open(folder / f"{table.name}.jsonl", "w", encoding="utf-8") as out:
            counts[table.name] = dump_table(conn, table, out)
    return counts


def _serial_column(table: Table) -> str | None:
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and isinstance(keys[0].type, sqltypes.Integer):
        return keys[0].name
    return None


def handed_out_ids(conn: Connection) -> dict[str, int]:
    """The highest id each table has ever handed out, where the engine remembers it (deleted rows too)."""
    if conn.dialect.name == "sqlite":
        if not inspect(conn).has_table("sqlite_sequence"):
            return {}
        return {name: int(seq) for name, seq in conn.execute(text("SELECT name, seq FROM sqlite_sequence"))}
    found = {}
    for table in _reflect(conn):
        column = _serial_column(table)
        sequence = (
            column
            and conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column}).scalar()
        )
        if sequence:
            last, called = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
            found[table.name] = int(last) if called else int(last) - 1
    return found


def _decoder(column_type: Any) -> Any:
    if isinstance(column_type, sqltypes.DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, sqltypes.Date):
        return date.fromisoformat
    if isinstance(column_type, sqltypes.LargeBinary | sqltypes._Binary):
        return base64.b64decode
    return None


def _rows(path: Path, decoders: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            for name, decode in decoders.items():
                if row.get(name) is not None:
                    row[name] = decode(row[name])
            yield row


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load_database(engine: Engine, folder: Path, handed_out: dict[str, int]) -> dict[str, int]:
    """Insert every dumped table into a fresh schema of the same revision; returns rows per table.

    The rows migrations seed (a default cluster, frameworks) go first: the dump holds them as they were."""
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        tables = _reflect(conn)
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            path = folder / f"{table.name}.jsonl"
            if not path.exists():
                continue
            decoders = {c.name: d for c in table.columns if (d := _decoder(c.type)) is not None}
            counts[table.name] = 0
            for batch in _batches(_rows(path, decoders)):
                conn.execute(table.insert(), batch)
                counts[table.name] += len(batch)
        _set_handed_out(conn, handed_out)
    return counts


def _set_handed_out(conn: Connection, handed_out: dict[str, int]) -> None:
    if conn.dialect.name == "sqlite":
        autoincrement = {
            name
            for name, sql in conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
            if "AUTOINCREMENT" in (sql or "").upper()
        }
        for name in sorted(autoincrement & set(handed_out)):
            done = conn.execute(
                text("UPDATE sqlite_sequence SET seq = :v WHERE name = :t"), {"v": handed_out[name], "t": name}
            )
            if not done.rowcount:
                conn.execute(
                    text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"), {"v": handed_out[name], "t": name}
                )
        return
    for table in _reflect(conn):
        column = _serial_column(table)
        sequence = (
            column
            and conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column}).scalar()
        )
        if not sequence:
            continue
        highest = conn.execute(text(f'SELECT COALESCE(MAX("{column}"), 0) FROM "{table.name}"')).scalar() or 0
        value = max(int(highest), handed_out.get(table.name, 0))
        if value > 0:
            conn.execute(text("SELECT setval(:s, :v, true)"), {"s": sequence, "v": value})
        else:
            conn.execute(text("SELECT setval(:s, 1, false)"), {"s": sequence})


def holds_data(engine: Engine) -> bool:
    """Whether the database has any table at all (a restore goes only into an empty one)."""
    with engine.connect() as conn:
        return bool(inspect(conn).get_table_names())


def drop_everything(engine: Engine) -> None:
    """Drop every table (a forced restore over an existing database)."""
    meta = MetaData()
    with engine.begin() as conn:
        meta.reflect(bind=conn)
        meta.drop_all(bind=conn)
