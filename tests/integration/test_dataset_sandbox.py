"""The engine's DuckDB time limit: once the time is up no later query on the connection runs to completion."""

from __future__ import annotations

import duckdb
import pytest

from csghub.services.datasets.sandbox import deadline, identifier, literal, open_connection


def test_a_deadline_reached_between_queries_is_not_lost() -> None:
    con = open_connection(64 * 1024 * 1024, 1)
    try:
        with pytest.raises(duckdb.InterruptException), deadline(con, 0.0) as limit:
            assert limit._expired.wait(10)  # the timer has fired while no query was running
            with pytest.raises(duckdb.InterruptException):
                limit.check()
            # A query started after the limit is interrupted too (the deadline keeps interrupting).
            con.sql("SELECT sum(a.range * b.range) FROM range(100000) a, range(100000) b").fetchall()
        assert con.sql("SELECT 42").fetchall() == [(42,)]  # the connection works again once the limit is left
    finally:
        con.close()


def test_work_done_within_the_limit_returns() -> None:
    con = open_connection(64 * 1024 * 1024, 1)
    try:
        with deadline(con, 30):
            assert con.sql("SELECT count(*) FROM range(1000)").fetchall() == [(1000,)]
    finally:
        con.close()


def test_quoting() -> None:
    assert literal("it's") == "'it''s'"
    assert identifier('a "b"') == '"a ""b"""'
    con = open_connection(64 * 1024 * 1024, 1)
    try:
        value, name = literal("'; DROP"), identifier('x" y')
        assert con.sql(f"SELECT {value} AS {name}").fetchall() == [("'; DROP",)]
        assert con.sql("SELECT current_setting('autoload_known_extensions')").fetchall() == [(False,)]
    finally:
        con.close()
