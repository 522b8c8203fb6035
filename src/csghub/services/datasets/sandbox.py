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


class Deadline:
    """A time limit over one or several queries on a connection.

    DuckDB's interrupt() stops only the query running at that instant: one fired between two queries is lost. So
    once the time is up the deadline interrupts again every 50 ms until it is left, and check() (called between
    queries, or between batches of a stream) raises at once.
    """

    REPEAT_S = 0.05

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._con = con
        self._expired = threading.Event()
        self._done = threading.Event()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self._expired.set()
        while not self._done.is_set():
            self._con.interrupt()
            self._done.wait(self.REPEAT_S)

    def check(self) -> None:
        if self._expired.is_set():
            raise duckdb.InterruptException("INTERRUPT Error: the time limit was reached")

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._done.set()
        self._timer.cancel()
        if self._timer.is_alive() and self._timer is not threading.current_thread():
            self._timer.join()


@contextmanager
def deadline(con: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[Deadline]:
    """Interrupt whatever the connection runs once `seconds` have passed (DuckDB then raises InterruptException);
    work that ends after the time is up raises it too, so a limit is never silently exceeded."""
    limit = Deadline(con, seconds)
    limit.start()
    try:
        yield limit
        limit.check()
    finally:
        limit.stop()
