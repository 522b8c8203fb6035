"""spaces: secrets and variables, and when an instance last served a request

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_env",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id", "name", name="uq_space_env_name"),
    )
    with op.batch_alter_table("space_env", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_space_env_repo_id"), ["repo_id"], unique=False)
    with op.batch_alter_table("compute_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_instances", schema=None) as batch_op:
        batch_op.drop_column("active_at")
    with op.batch_alter_table("space_env", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_space_env_repo_id"))
    op.drop_table("space_env")
