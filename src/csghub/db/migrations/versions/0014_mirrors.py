"""mirrors: sources, mirrored repositories, their sync tasks, and the pull-through cache's objects

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 00:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=False),
        sa.Column("token_sealed", sa.Text(), nullable=False),
        sa.Column("use_git", sa.Boolean(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("bandwidth_bytes_per_s", sa.BigInteger(), nullable=False),
        sa.Column("upstream_proxy", sa.Boolean(), nullable=False),
        sa.Column("proxy_rules", sa.Text(), nullable=False),
        sa.Column("cache_max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("object_max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "mirrors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("upstream_type", sa.String(length=16), nullable=False),
        sa.Column("upstream_id", sa.String(length=256), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(), nullable=True),
        sa.Column("last_commit", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("next_sync_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["mirror_sources.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id"),
    )
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mirrors_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mirrors_next_sync_at"), ["next_sync_at"], unique=False)
    op.create_table(
        "mirror_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mirror_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["mirror_id"], ["mirrors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mirror_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mirror_tasks_mirror_id"), ["mirror_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mirror_tasks_state"), ["state"], unique=False)
    op.create_table(
        "mirror_cache_objects",
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["mirror_sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("oid"),
    )
    with op.batch_alter_table("mirror_cache_objects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mirror_cache_objects_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mirror_cache_objects_last_used_at"), ["last_used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mirror_cache_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirror_cache_objects_last_used_at"))
        batch_op.drop_index(batch_op.f("ix_mirror_cache_objects_source_id"))
    op.drop_table("mirror_cache_objects")
    with op.batch_alter_table("mirror_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirror_tasks_state"))
        batch_op.drop_index(batch_op.f("ix_mirror_tasks_mirror_id"))
    op.drop_table("mirror_tasks")
    with op.batch_alter_table("mirrors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirrors_next_sync_at"))
        batch_op.drop_index(batch_op.f("ix_mirrors_source_id"))
    op.drop_table("mirrors")
    op.drop_table("mirror_sources")
