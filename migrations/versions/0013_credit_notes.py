"""credit notes: document type, own number series, settlements as payments

Invoices of document type credit_note, numbered in their own series; settlements of a
credit note recorded as payments of method credit_note.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:30:00

- invoices.document_type ('invoice' | 'credit_note', a CHECK) and credited_invoice_id (the
  invoice a credit note corrects, EN 16931 BT-25). No FOREIGN KEY on it: SQLite can drop a
  column only without one (the downgrade), and invoices are never deleted. Amounts stay positive, as UBL and CII
  write them; the buyer's balance of a credit note is negative.
- invoice_totals counts a credit note's total and settled amount negatively: the triggers
  (0003) are recreated with the sign, and the totals recomputed.
- number_sequences: 'credit_note' (CN-), gap-free like the invoices'.
- payments.method gains 'credit_note'; payments.credit_note_id names the credit note whose
  credit a payment of that method applies.

invoices: plain ADD COLUMN, never a batch copy (SQLite would lose 0003's and 0008's
triggers). payments has no triggers: it is copied in batch mode on SQLite to change the
method CHECK.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DOCUMENT_TYPE_CHECK = "document_type IN ('invoice', 'credit_note')"
OLD_METHODS = ("card", "bank_transfer", "manual")
NEW_METHODS = (*OLD_METHODS, "credit_note")


def _methods(values):
    return sa.Enum(
        *values, name="payment_method", native_enum=False, create_constraint=True, length=20
    )


def _signed(row: str, column: str) -> str:
    return f"CASE WHEN {row}.document_type = 'credit_note' THEN -{row}.{column} ELSE {row}.{column} END"


POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION invoice_totals_sync() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.customer_id = NEW.customer_id AND OLD.status = NEW.status
       AND OLD.total = NEW.total AND OLD.amount_paid = NEW.amount_paid THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (OLD.customer_id, OLD.status) > (NEW.customer_id, NEW.status) THEN
        PERFORM invoice_totals_add(NEW.customer_id, NEW.status, 1, {new_total}, {new_paid});
        PERFORM invoice_totals_add(OLD.customer_id, OLD.status, -1, -({old_total}), -({old_paid}));
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM invoice_totals_add(OLD.customer_id, OLD.status, -1, -({old_total}), -({old_paid}));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM invoice_totals_add(NEW.customer_id, NEW.status, 1, {new_total}, {new_paid});
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_ADD = """
    INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)
    VALUES ({c}, {s}, {n}, {t}, {p})
    ON CONFLICT (customer_id, status) DO UPDATE SET
        invoice_count = invoice_count + excluded.invoice_count,
        total = ROUND(total + excluded.total, 2),
        amount_paid = ROUND(amount_paid + excluded.amount_paid, 2);
"""


def _sqlite_triggers(new_total, new_paid, old_total, old_paid):
    return [
        "CREATE TRIGGER invoice_totals_insert AFTER INSERT ON invoices BEGIN"
        + SQLITE_ADD.format(c="NEW.customer_id", s="NEW.status", n=1, t=new_total, p=new_paid)
        + "END",
        "CREATE TRIGGER invoice_totals_delete AFTER DELETE ON invoices BEGIN"
        + SQLITE_ADD.format(
            c="OLD.customer_id", s="OLD.status", n=-1, t=f"-({old_total})", p=f"-({old_paid})"
        )
        + "END",
        "CREATE TRIGGER invoice_totals_update AFTER UPDATE OF customer_id, status, total,"
        " amount_paid ON invoices BEGIN"
        + SQLITE_ADD.format(
            c="OLD.customer_id", s="OLD.status", n=-1, t=f"-({old_total})", p=f"-({old_paid})"
        )
        + SQLITE_ADD.format(c="NEW.customer_id", s="NEW.status", n=1, t=new_total, p=new_paid)
        + "END",
    ]


def _recompute(signed: bool) -> None:
    total = _signed("invoices", "total") if signed else "total"
    paid = _signed("invoices", "amount_paid") if signed else "amount_paid"
    op.execute("DELETE FROM invoice_totals")
    op.execute(
        "INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)"
        f" SELECT customer_id, status, COUNT(*), SUM({total}), SUM({paid}) FROM invoices"
        " GROUP BY customer_id, status"
    )


def _triggers(signed: bool) -> None:
    sign = _signed if signed else (lambda row, column: f"{row}.{column}")
    values = dict(
        new_total=sign("NEW", "total"),
        new_paid=sign("NEW", "amount_paid"),
        old_total=sign("OLD", "total"),
        old_paid=sign("OLD", "amount_paid"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION.format(**values))
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER invoice_totals_{name}")
        for statement in _sqlite_triggers(**values):
            op.execute(statement)


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "ALTER TABLE invoices ADD COLUMN document_type VARCHAR(20) NOT NULL"
            " DEFAULT 'invoice' CONSTRAINT ck_invoices_invoice_document_type"
            f" CHECK ({DOCUMENT_TYPE_CHECK})"
        )
        op.execute("ALTER TABLE invoices ADD COLUMN credited_invoice_id INTEGER")
    else:
        op.add_column(
            "invoices",
            sa.Column(
                "document_type", sa.String(20), nullable=False, server_default="invoice"
            ),
        )
        op.create_check_constraint("invoice_document_type", "invoices", DOCUMENT_TYPE_CHECK)
        op.add_column("invoices", sa.Column("credited_invoice_id", sa.Integer(), nullable=True))
    _triggers(signed=True)
    _recompute(signed=True)
    op.execute(
        "INSERT INTO number_sequences (name, prefix, next_value) VALUES ('credit_note', 'CN-', 1)"
    )
    with op.batch_alter_table("payments", recreate="auto") as batch_op:
        batch_op.alter_column(
            "method", existing_type=_methods(OLD_METHODS), type_=_methods(NEW_METHODS),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_payments_credit_note_id_invoices"), "invoices", ["credit_note_id"], ["id"]
        )
        batch_op.create_index("ix_payments_credit_note_id", ["credit_note_id"])


CREDITED = (
    "(SELECT COALESCE(SUM(a.amount), 0) FROM payment_allocations a"
    " JOIN payments p ON p.id = a.payment_id"
    " WHERE p.method = 'credit_note' AND p.status = 'completed' AND a.invoice_id = invoices.id)"
)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Credit applied to invoices goes away with the credit notes: their settled amounts and
    # statuses go back to what the other payments made (one UPDATE, so the CHECK on status
    # and amounts holds on every row).
    op.execute(
        f"UPDATE invoices SET amount_paid = amount_paid - {CREDITED},"
        f" status = CASE WHEN amount_paid - {CREDITED} <= 0 THEN 'unpaid'"
        f" WHEN amount_paid - {CREDITED} >= total THEN 'paid' ELSE 'partially_paid' END"
        f" WHERE document_type = 'invoice' AND {CREDITED} > 0"
    )
    op.execute(
        "DELETE FROM payment_allocations WHERE payment_id IN"
        " (SELECT id FROM payments WHERE method = 'credit_note')"
    )
    op.execute("DELETE FROM payments WHERE method = 'credit_note'")
    with op.batch_alter_table("payments", recreate="auto") as batch_op:
        batch_op.drop_index("ix_payments_credit_note_id")
        batch_op.drop_constraint(op.f("fk_payments_credit_note_id_invoices"), type_="foreignkey")
        batch_op.drop_column("credit_note_id")
        batch_op.alter_column(
            "method", existing_type=_methods(NEW_METHODS), type_=_methods(OLD_METHODS),
            existing_nullable=False,
        )
    op.execute("DELETE FROM number_sequences WHERE name = 'credit_note'")
    _triggers(signed=False)
    # Credit notes have no place in the older schema.
    op.execute("UPDATE packing_slips SET invoice_id = NULL WHERE invoice_id IN"
               " (SELECT id FROM invoices WHERE document_type = 'credit_note')")
    op.execute("UPDATE free_text_invoices SET invoice_id = NULL WHERE invoice_id IN"
               " (SELECT id FROM invoices WHERE document_type = 'credit_note')")
    op.execute("DELETE FROM invoice_lines WHERE invoice_id IN"
               " (SELECT id FROM invoices WHERE document_type = 'credit_note')")
    op.execute("DELETE FROM invoices WHERE document_type = 'credit_note'")
    if sqlite:
        op.execute("ALTER TABLE invoices DROP COLUMN credited_invoice_id")
        op.execute("ALTER TABLE invoices DROP COLUMN document_type")
    else:
        op.drop_column("invoices", "credited_invoice_id")
        op.drop_constraint(op.f("ck_invoices_invoice_document_type"), "invoices", type_="check")
        op.drop_column("invoices", "document_type")
    _recompute(signed=False)
