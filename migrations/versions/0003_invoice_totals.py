"""Per customer and status invoice totals, maintained by triggers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Rows of two statuses change together; they are always touched in status order, so two
# transactions moving invoices between the same statuses cannot deadlock.
POSTGRES_FUNCTION = """
CREATE FUNCTION invoice_totals_sync() RETURNS trigger AS $$
DECLARE
    first_sign integer;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.customer_id = NEW.customer_id AND OLD.status = NEW.status
       AND OLD.total = NEW.total AND OLD.amount_paid = NEW.amount_paid THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (OLD.customer_id, OLD.status) > (NEW.customer_id, NEW.status) THEN
        PERFORM invoice_totals_add(NEW.customer_id, NEW.status, 1, NEW.total, NEW.amount_paid);
        PERFORM invoice_totals_add(OLD.customer_id, OLD.status, -1, -OLD.total, -OLD.amount_paid);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM invoice_totals_add(OLD.customer_id, OLD.status, -1, -OLD.total, -OLD.amount_paid);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM invoice_totals_add(NEW.customer_id, NEW.status, 1, NEW.total, NEW.amount_paid);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION invoice_totals_add(c integer, s varchar, n integer, t numeric, p numeric)
RETURNS void AS $$
    INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)
    VALUES (c, s, n, t, p)
    ON CONFLICT (customer_id, status) DO UPDATE SET
        invoice_count = invoice_totals.invoice_count + EXCLUDED.invoice_count,
        total = invoice_totals.total + EXCLUDED.total,
        amount_paid = invoice_totals.amount_paid + EXCLUDED.amount_paid;
$$ LANGUAGE sql;

CREATE TRIGGER invoice_totals_sync AFTER INSERT OR UPDATE OR DELETE ON invoices
FOR EACH ROW EXECUTE FUNCTION invoice_totals_sync();
"""

# SQLite serializes writers, so order does not matter there.
SQLITE_ADD = """
    INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)
    VALUES ({c}, {s}, {n}, {t}, {p})
    ON CONFLICT (customer_id, status) DO UPDATE SET
        invoice_count = invoice_count + excluded.invoice_count,
        total = ROUND(total + excluded.total, 2),
        amount_paid = ROUND(amount_paid + excluded.amount_paid, 2);
"""
SQLITE_TRIGGERS = [
    "CREATE TRIGGER invoice_totals_insert AFTER INSERT ON invoices BEGIN"
    + SQLITE_ADD.format(c="NEW.customer_id", s="NEW.status", n=1, t="NEW.total",
                        p="NEW.amount_paid")
    + "END",
    "CREATE TRIGGER invoice_totals_delete AFTER DELETE ON invoices BEGIN"
    + SQLITE_ADD.format(c="OLD.customer_id", s="OLD.status", n=-1, t="-OLD.total",
                        p="-OLD.amount_paid")
    + "END",
    "CREATE TRIGGER invoice_totals_update AFTER UPDATE OF customer_id, status, total, amount_paid"
    " ON invoices BEGIN"
    + SQLITE_ADD.format(c="OLD.customer_id", s="OLD.status", n=-1, t="-OLD.total",
                        p="-OLD.amount_paid")
    + SQLITE_ADD.format(c="NEW.customer_id", s="NEW.status", n=1, t="NEW.total",
                        p="NEW.amount_paid")
    + "END",
]

RECOMPUTE = """
INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)
SELECT customer_id, status, COUNT(*), SUM(total), SUM(amount_paid) FROM invoices
GROUP BY customer_id, status
"""


def upgrade():
    op.create_table(
        "invoice_totals",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("invoice_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_invoice_totals_customer_id_customers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", "status", name=op.f("pk_invoice_totals")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(RECOMPUTE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER invoice_totals_sync ON invoices")
        op.execute("DROP FUNCTION invoice_totals_sync()")
        op.execute("DROP FUNCTION invoice_totals_add(integer, varchar, integer, numeric, numeric)")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER invoice_totals_{name}")
    op.drop_table("invoice_totals")
