"""which repository LFS bytes were uploaded to (proof of possession)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_lfs_uploads",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id", "oid"),
    )
    with op.batch_alter_table("repo_lfs_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repo_lfs_uploads_oid"), ["oid"], unique=False)
    # Uploads in progress before this revision belong to no repository: they are never resumed, and
    # their clients start a new one (the parts are re-sent, which proves possession again).
    with op.batch_alter_table("lfs_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repo_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_lfs_uploads_repo_id_repos", "repos", ["repo_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("lfs_uploads", schema=None) as batch_op:
        batch_op.drop_constraint("fk_lfs_uploads_repo_id_repos", type_="foreignkey")
        batch_op.drop_column("repo_id")
    with op.batch_alter_table("repo_lfs_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_lfs_uploads_oid"))
    op.drop_table("repo_lfs_uploads")
