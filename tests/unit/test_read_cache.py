"""ReadCache: what a reader took before a write committed is never stored; only committed writes
(an ORM flush or an UPDATE/DELETE statement) drop the entries, reads and rollbacks do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, String, create_engine, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from csghub.services.read_cache import ReadCache


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
