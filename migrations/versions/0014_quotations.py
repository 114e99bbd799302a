"""Quotations, up-sell and cross-sell rules (issue 18).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 10:30:00

Reserved in the chain so the three issues can be built side by side; filled by its issue.
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
