"""people: profiles (full name, avatar, bio, links) and notifications

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespace_profiles",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("links", sa.Text(), nullable=False),
        sa.Column("avatar_oid", sa.String(length=64), nullable=False),
        sa.Column("avatar_type", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("namespace_id"),
    )
    with op.batch_alter_table("namespace_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_namespace_profiles_avatar_oid"), ["avatar_oid"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("repo_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("excerpt", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["namespaces.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["namespaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_inbox", ["recipient_id", "read_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_repo_id"), ["repo_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_repo_id"))
        batch_op.drop_index("ix_notifications_inbox")
    op.drop_table("notifications")
    with op.batch_alter_table("namespace_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_namespace_profiles_avatar_oid"))
    op.drop_table("namespace_profiles")
