"""webhooks: what a user or organization watches and where it goes, and each delivery's record

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 04:00:00.000000
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
