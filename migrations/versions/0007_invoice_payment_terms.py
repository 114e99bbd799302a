"""invoices keep the payment terms their due date came from

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, never a batch copy of invoices (SQLite would lose 0003's triggers).
    # No backfill: older invoices fall back to their customer's terms (Invoice.terms).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE invoices ADD COLUMN payment_terms_id INTEGER"
            " CONSTRAINT fk_invoices_payment_terms_id_payment_terms REFERENCES payment_terms (id)"
        )
    else:
        op.add_column("invoices", sa.Column("payment_terms_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_invoices_payment_terms_id_payment_terms",
            "invoices",
            "payment_terms",
            ["payment_terms_id"],
            ["id"],
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE invoices DROP COLUMN payment_terms_id")
    else:
        op.drop_constraint(
            "fk_invoices_payment_terms_id_payment_terms", "invoices", type_="foreignkey"
        )
        op.drop_column("invoices", "payment_terms_id")
