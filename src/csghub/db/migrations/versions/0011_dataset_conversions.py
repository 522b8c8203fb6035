"""dataset viewer: the Parquet conversion of each dataset repository and its catalog

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_conversions",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("wanted_sha", sa.String(length=40), nullable=False),
        sa.Column("source_sha", sa.String(length=40), nullable=False),
        sa.Column("parquet_sha", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("num_rows", sa.BigInteger(), nullable=True),
        sa.Column("catalog", sa.Text(), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id"),
    )
    with op.batch_alter_table("dataset_conversions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_conversions_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dataset_conversions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_conversions_state"))
    op.drop_table("dataset_conversions")
