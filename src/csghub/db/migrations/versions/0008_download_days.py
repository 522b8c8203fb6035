"""downloads per repository and day

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_download_days",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id", "day"),
    )
    with op.batch_alter_table("repo_download_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repo_download_days_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repo_download_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_download_days_day"))
    op.drop_table("repo_download_days")
