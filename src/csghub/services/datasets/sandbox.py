"""DuckDB connections with bounded resources, and the one way SQL text is quoted here.

Every connection the engine opens comes from open_connection(): no extension is installed or loaded behind our
back, memory and threads are capped, and spilling goes to a folder the caller owns and removes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


def literal(value: str) -> str:
    """A SQL string literal. Used only for paths and options the engine itself produced or validated; user values
    always travel as bound parameters."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier (a column of a validated schema, a view named after a split)."""
    return '"' + name.replace('"', '""') + '"'


def open_connection(memory_limit_bytes: int, threads: int, spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": f"{int(memory_limit_bytes)}B",
            "threads": max(1, int(threads)),
        },
    )
    if spill is not None:
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = {literal(str(spill))}")
    else:
        con.execute("SET temp_directory = ''")
    return con


@contextmanager
def deadline(con: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    """Interrupt whatever the connection runs once `seconds` have passed (DuckDB then raises InterruptException)."""
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
