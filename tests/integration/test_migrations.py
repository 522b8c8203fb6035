"""The migrations build exactly the schema the models describe, and keep existing data meaningful."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.command import upgrade
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from csghub.db.engine import MIGRATIONS_DIR, make_engine, migrate
from csghub.db.models import Base
from tests.conftest import fresh_database_url


def test_migrations_match_the_models(tmp_path: Path) -> None:
    # On the PostgreSQL leg this checks PostgreSQL's schema; otherwise SQLite's.
    engine = make_engine(fresh_database_url(migrated=False) or f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_private_repositories_stay_private_through_the_visibility_migration(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        upgrade(cfg, "0005")
        conn.execute(
            text(
                "INSERT INTO namespaces (id, name, name_key, kind, full_name, created_at) "
                "VALUES (1, 'o', 'o', 'org', '', '2026-01-01')"
            )
        )
        insert = text(
            "INSERT INTO repos (id, type, namespace_id, name, name_key, private, default_branch, description,"
            " card_data, tags, head_sha, downloads, likes, created_at, updated_at) VALUES (:id, 'model', 1, :name,"
            " :name, :private, 'main', '', '{}', '[]', '', 0, 0, '2026-01-01', '2026-01-01')"
        )
        for repo_id, private in ((1, True), (2, False)):
            conn.execute(insert, {"id": repo_id, "name": f"r{repo_id}", "private": private})
    migrate(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, visibility FROM repos")).all())
    assert rows == {1: "private", 2: "public"}


def _insert_repo(conn: Connection, name: str) -> int:
    conn.execute(
        text(
            "INSERT INTO repos (type, namespace_id, name, name_key, visibility, gated, default_branch, description,"
            " card_data, tags, head_sha, downloads, likes, created_at, updated_at) VALUES ('model', 1, :name,"
            " :name, 'public', '', 'main', '', '{}', '[]', '', 0, 0, '2026-01-01', '2026-01-01')"
        ),
        {"name": name},
    )
    return int(conn.execute(text("SELECT id FROM repos WHERE name = :name"), {"name": name}).scalar_one())


def _insert_namespace(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO namespaces (name, name_key, kind, full_name, created_at)"
            " VALUES ('o', 'o', 'org', '', '2026-01-01')"
        )
    )


def test_a_deleted_newest_repository_id_is_never_handed_out_again(tmp_path: Path) -> None:
    """A repository's folder is named by its id: the next repository must not get the deleted one's."""
    engine = make_engine(fresh_database_url(migrated=False) or f"sqlite:///{tmp_path / 'ids.db'}")
    migrate(engine)
    with engine.begin() as conn:
        _insert_namespace(conn)
        first = _insert_repo(conn, "first")
        conn.execute(text("DELETE FROM repos WHERE id = :id"), {"id": first})
    with engine.begin() as conn:
        second = _insert_repo(conn, "second")
    assert second > first


def test_rebuilding_sqlite_tables_keeps_the_rows_that_refer_to_them_and_retires_their_ids(tmp_path: Path) -> None:
    """0017 rebuilds `repos` (among others); with foreign keys on, dropping the old table would have
    cascaded to every like, collaborator and mirror of every repository."""
    engine = make_engine(f"sqlite:///{tmp_path / 'keep.db'}")
    migrate(engine, "0016")
    with engine.begin() as conn:
        _insert_namespace(conn)
        conn.execute(text("INSERT INTO users (id, email, password_hash, is_admin) VALUES (1, 'o@x', '', 0)"))
        kept = _insert_repo(conn, "kept")
        newest = _insert_repo(conn, "newest")
        conn.execute(
            text("INSERT INTO repo_likes (user_id, repo_id, created_at) VALUES (1, :id, '2026-01-01')"), {"id": kept}
        )
        conn.execute(text("DELETE FROM repos WHERE id = :id"), {"id": newest})  # before 0017: id reusable
    migrate(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT repo_id FROM repo_likes")).scalars().all() == [kept]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1  # on again for the hub
        again = _insert_repo(conn, "again")
    # The deleted newest id was reusable before this migration and is lost to it; every id from now on is new.
    assert again > kept
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM repos WHERE id = :id"), {"id": again})
        assert _insert_repo(conn, "after") > again
