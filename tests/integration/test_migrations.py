"""The migrations build exactly the schema the models describe, and keep existing data meaningful."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.command import upgrade
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from csghub.db.engine import MIGRATIONS_DIR, make_engine, migrate
from csghub.db.models import Base
from tests.conftest import fresh_database_url


def test_migrations_match_the_models(tmp_path: Path) -> None:
    # On the PostgreSQL leg this checks PostgreSQL's schema; otherwise SQLite's.
    engine = make_engine(fresh_database_url() or f"sqlite:///{tmp_path / 'm.db'}")
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
