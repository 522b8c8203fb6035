"""ReadCache: what a reader took before a write committed is never stored; only committed writes
(an ORM flush or an UPDATE/DELETE statement) drop the entries, reads and rollbacks do not, nor a write
marked keeps_reads. Concurrent misses of one key cost one load (OneLoadPerKey)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Integer, String, create_engine, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from csghub.services.context import TtlCache
from csghub.services.read_cache import OneLoadPerKey, ReadCache, keeps_reads


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def watched() -> Iterator[tuple[ReadCache, sessionmaker[Session]]]:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    cache = ReadCache(ttl=60.0, size=8, max_bytes=100)
    cache.watch(sessions)
    yield cache, sessions
    engine.dispose()


def test_read_cache_refuses_what_was_read_before_a_write_committed(watched) -> None:
    cache, sessions = watched
    generation = cache.generation
    with sessions.begin() as session:
        session.add(_Row(id=1, name="a"))
    cache.put("row", "a", generation)
    assert cache.get("row") is None
    cache.put("row", "a", cache.generation)
    assert cache.get("row") == "a"


def test_read_cache_is_dropped_by_committed_writes_only(watched) -> None:
    cache, sessions = watched
    cache.put("row", "a", cache.generation)
    with sessions.begin() as session:
        assert session.scalar(select(_Row.name)) is None
    assert cache.get("row") == "a", "a read-only transaction keeps the entries"
    with pytest.raises(RuntimeError), sessions.begin() as session:
        session.add(_Row(id=2, name="b"))
        session.flush()
        raise RuntimeError("rolled back")
    assert cache.get("row") == "a", "a rolled back write keeps the entries"
    with sessions.begin() as session:
        session.execute(update(_Row).values(name="c"))
    assert cache.get("row") is None, "an UPDATE statement drops them"


def test_read_cache_starts_over_past_its_byte_budget(watched) -> None:
    cache, _ = watched
    cache.put("small", b"x" * 60, cache.generation, size=60)
    cache.put("large", b"y" * 60, cache.generation, size=60)
    assert cache.get("small") is None and cache.get("large") == b"y" * 60


def test_a_bookkeeping_write_marked_keeps_reads_drops_nothing(watched) -> None:
    cache, sessions = watched
    with sessions.begin() as session:
        session.add(_Row(id=1, name="a"))
    cache.put("row", "a", cache.generation)
    with sessions.begin() as session:
        session.get(_Row, 1).name = "b"  # type: ignore[union-attr]
        keeps_reads(session)
    assert cache.get("row") == "a"
    with sessions.begin() as session:  # the mark lasts one commit: the next write drops entries again
        session.get(_Row, 1).name = "c"  # type: ignore[union-attr]
    assert cache.get("row") is None


def test_one_thread_loads_a_key_while_the_others_wait_for_what_it_kept() -> None:
    loads = OneLoadPerKey()
    kept: dict[str, str] = {}
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()

    def loader() -> str:
        calls.append("load")
        started.set()
        release.wait(10)
        kept["k"] = "value"
        return "value"

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(loads.load, "k", lambda: kept.get("k"), loader)
        assert started.wait(10)
        waiting = [pool.submit(loads.load, "k", lambda: kept.get("k"), loader) for _ in range(7)]
        release.set()
        assert [f.result(10) for f in [first, *waiting]] == ["value"] * 8
    assert calls == ["load"]
    assert loads._gates == {}  # nothing left behind once no one waits


def test_a_failed_load_keeps_nothing_and_each_waiter_loads_for_itself() -> None:
    loads = OneLoadPerKey()
    calls: list[int] = []

    def failing() -> str:
        calls.append(1)
        raise ValueError("wrong password")

    for _ in range(3):
        with pytest.raises(ValueError):
            loads.load("k", lambda: None, failing)
    assert len(calls) == 3


def test_ttl_cache_keeps_nothing_a_loader_read_before_a_clear() -> None:
    cache = TtlCache(ttl=60.0, size=8)

    def revoked_meanwhile() -> str:
        cache.clear()  # a token revoked while its owner's request was reading it
        return "actor"

    assert cache.load("token", revoked_meanwhile) == "actor"
    assert cache.get("token") is None
    assert cache.load("token", lambda: "again") == "again"
    assert cache.get("token") == "again"
