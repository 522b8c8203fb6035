"""pull requests: refs/pr/N of a repository, kept as discussions that carry a diff

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00.000000
"""

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
