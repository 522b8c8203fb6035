"""The database dump of a backup (db/dumps.py) on SQLite files: typed values come back equal, and the ids a
table handed out travel with it, so a restored hub hands out the next id as the old one would have."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from csghub.db import dumps
from csghub.db.engine import make_engine, migrate
from csghub.db.models import Namespace, Repo, XetXorb


def test_dump_and_load_keep_values_and_handed_out_ids(tmp_path: Path) -> None:
    source = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    migrate(source)
    stamp = datetime(2026, 12, 3, 4, 5, 6, 789)
    with Session(source) as session, session.begin():
        session.add(Namespace(id=1, name="ann", name_key="ann", kind="user", created_at=stamp))
        session.flush()
        session.add_all([Repo(id=i, type="model", namespace_id=1, name=f"r{i}", name_key=f"r{i}") for i in (1, 2, 3)])
        session.add(
            XetXorb(hash="a" * 64, blob_oid="b" * 64, serialized_size=9, uncompressed_size=8, chunk_table=b"\x00\xff")
        )
    with Session(source) as session, session.begin():
        session.delete(session.get(Repo, 3))  # the newest repository goes

    with dumps.consistent_snapshot(source, tmp_path) as conn:
        revision = dumps.schema_revision(conn)
        counts = dumps.dump_database(conn, tmp_path / "dump")
        handed_out = dumps.handed_out_ids(conn)
    assert revision and counts["repos"] == 2
    assert not list(tmp_path.glob(".db-snapshot-*"))  # the snapshot copy is gone

    target = make_engine(f"sqlite:///{tmp_path / 'target.db'}")
    migrate(target, revision)
    loaded = dumps.load_database(target, tmp_path / "dump", handed_out)
    assert loaded["repos"] == 2 and loaded["xet_xorbs"] == 1
    with Session(target) as session, session.begin():
        assert session.get(Namespace, 1).created_at == stamp
        assert session.get(XetXorb, "a" * 64).chunk_table == b"\x00\xff"
        session.add(Repo(type="model", namespace_id=1, name="new", name_key="new"))
    with Session(source) as session, session.begin():
        session.add(Repo(type="model", namespace_id=1, name="new", name_key="new"))
    ids = []
    for engine in (source, target):
        with Session(engine) as session:
            ids.append(session.scalar(select(Repo.id).where(Repo.name == "new")))
    assert ids[0] == ids[1] and ids[0] is not None and ids[0] >= 3
    assert dumps.holds_data(target)
    dumps.drop_everything(target)
    assert not dumps.holds_data(target)
