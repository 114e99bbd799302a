"""Relationships (leads, prospects, contacts), account applications and campaigns (issue 17).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:30:00

Reserved in the chain so the three issues can be built side by side; filled by its issue.
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
