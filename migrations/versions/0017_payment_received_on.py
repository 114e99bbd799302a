"""payments.received_on: the day a store admin's manual payment reached the bank

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 11:00:00

Nullable: card payments and transfers are dated by when they were recorded (created_at);
a manual payment carries the day on the bank statement, which may be days earlier.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: payments has no triggers, and a batch copy is not needed for it.
    op.add_column("payments", sa.Column("received_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("received_on")
