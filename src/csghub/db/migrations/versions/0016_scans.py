"""upload scanning: each stored file's scan result, keyed by its content

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 04:00:00.000000
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
