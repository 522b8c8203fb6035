"""pull requests: refs/pr/N of a repository, kept as discussions that carry a diff

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows of existing discussions, none of which is a pull request.
    with op.batch_alter_table("discussions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_pull_request", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("target_branch", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("base_oid", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("merge_commit_oid", sa.String(length=40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("discussions", schema=None) as batch_op:
        batch_op.drop_column("merge_commit_oid")
        batch_op.drop_column("base_oid")
        batch_op.drop_column("target_branch")
        batch_op.drop_column("is_pull_request")
