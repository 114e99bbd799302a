"""Indexes for the invoice list: one per sort order, covering the totals line.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_invoices_customer_status_due", table_name="invoices")
    op.drop_index("ix_invoices_customer_due", table_name="invoices")
    op.create_index("ix_invoices_customer_due", "invoices", ["customer_id", "due_date", "id"],
                    postgresql_include=["total", "amount_paid", "status"])
    op.create_index("ix_invoices_customer_status_due", "invoices",
                    ["customer_id", "status", "due_date", "id"],
                    postgresql_include=["total", "amount_paid"])
    op.create_index("ix_invoices_customer_open_due", "invoices", ["customer_id", "due_date", "id"],
                    postgresql_include=["total", "amount_paid"],
                    postgresql_where=sa.text("status <> 'paid'"),
                    sqlite_where=sa.text("status <> 'paid'"))
    op.create_index("ix_invoices_customer_total", "invoices", ["customer_id", "total", "id"])
    op.create_index("ix_invoices_customer_number", "invoices", ["customer_id", "number"])


def downgrade():
    for name in ("ix_invoices_customer_number", "ix_invoices_customer_total",
                 "ix_invoices_customer_open_due", "ix_invoices_customer_status_due",
                 "ix_invoices_customer_due"):
        op.drop_index(name, table_name="invoices")
    op.create_index("ix_invoices_customer_due", "invoices", ["customer_id", "due_date", "id"])
    op.create_index("ix_invoices_customer_status_due", "invoices",
                    ["customer_id", "status", "due_date", "id"])
