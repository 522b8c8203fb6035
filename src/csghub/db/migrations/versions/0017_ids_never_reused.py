"""ids are never handed out twice on SQLite either: every table keyed by an integer id gets AUTOINCREMENT

Batch migrations (0006 and later) rebuilt tables without it, so SQLite would give a deleted newest
repository's id, and with it its folder name, to the next one. Rebuilding a table copies its rows with
their ids, which sets sqlite_sequence to the highest id present.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _tables_without_autoincrement() -> list[str]:
    bind = op.get_bind()
    found = []
    for name, sql in bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")):
        if name.startswith(("sqlite_", "alembic_")) or "AUTOINCREMENT" in (sql or "").upper():
            continue
        key = [row for row in bind.execute(sa.text(f'PRAGMA table_info("{name}")')) if row[5]]
        if len(key) == 1 and str(key[0][2]).upper() == "INTEGER":
            found.append(name)
    return found


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's sequences never hand an id out twice
    for name in _tables_without_autoincrement():
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    pass  # ids that are never reused harm nothing
