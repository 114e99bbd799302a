"""Trade and sales agreements, vendors, purchase orders and backorder allocation (issue 19).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:30:00

Reserved in the chain so the three issues can be built side by side; filled by its issue.
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
