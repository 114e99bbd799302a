"""customers.invoices_version: bumped by every change to the customer's invoices

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 21:50:00

The buyer's invoice list is cached under a key that holds the versions of the visible
accounts (b2bshop/billing/list_cache.py). Triggers bump it, so every writer counts: the ORM,
raw SQL, the payment triggers and the admin alike. It sits on the customer row because the
signed-in user's query already loads that row: checking the cache costs no query.
"""
from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

POSTGRES_FUNCTION = """
CREATE FUNCTION customer_invoices_version_bump() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE customers SET invoices_version = invoices_version + 1 WHERE id = OLD.customer_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.customer_id <> OLD.customer_id) THEN
        UPDATE customers SET invoices_version = invoices_version + 1 WHERE id = NEW.customer_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER customer_invoices_version AFTER INSERT OR UPDATE OR DELETE ON invoices
FOR EACH ROW EXECUTE FUNCTION customer_invoices_version_bump();
"""

BUMP = "UPDATE customers SET invoices_version = invoices_version + 1 WHERE id IN ({})"
SQLITE_TRIGGERS = {
    "insert": BUMP.format("NEW.customer_id"),
    "update": BUMP.format("OLD.customer_id, NEW.customer_id"),
    "delete": BUMP.format("OLD.customer_id"),
}


def upgrade():
    op.add_column(
        "customers",
        sa.Column("invoices_version", sa.BigInteger(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
    else:
        for event, bump in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER customer_invoices_version_{event} AFTER {event.upper()} ON invoices"
                f" BEGIN {bump}; END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER customer_invoices_version ON invoices")
        op.execute("DROP FUNCTION customer_invoices_version_bump()")
        op.drop_column("customers", "invoices_version")
    else:
        for event in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER customer_invoices_version_{event}")
        op.execute("ALTER TABLE customers DROP COLUMN invoices_version")
