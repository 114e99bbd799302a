"""money integrity: reservations, payment states, user-scoped idempotency, a provider ledger

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:00:00

- invoices.amount_reserved / reserved_since: what pending payments hold, so an invoice with a
  bank transfer on its way cannot be paid again; a CHECK keeps paid + reserved <= total.
- payments: states cancelled and expired; the reason and time of the last transition; the
  request fingerprint; idempotency keys unique per user (Stripe's rule), not globally.
- sales_orders: the same per-user idempotency key and fingerprint.
- sandbox_charges: the sandbox card provider's own ledger, which reconcile reads.
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_STATUSES = ("pending", "completed", "failed", "reversed")
NEW_STATUSES = (*OLD_STATUSES, "cancelled", "expired")
RESERVED_CHECK = "amount_reserved >= 0 AND amount_paid + amount_reserved <= total"


def _status(values):
    return sa.Enum(
        *values, name="payment_status", native_enum=False, create_constraint=True, length=20
    )


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    # invoices: plain ADD COLUMN, never a batch copy (SQLite would lose 0003's and 0008's
    # triggers).
    if sqlite:
        op.execute(
            "ALTER TABLE invoices ADD COLUMN amount_reserved NUMERIC(18, 2) NOT NULL DEFAULT 0"
            f" CONSTRAINT ck_invoices_amount_reserved_range CHECK ({RESERVED_CHECK})"
        )
        op.execute("ALTER TABLE invoices ADD COLUMN reserved_since DATETIME")
    else:
        op.add_column(
            "invoices",
            sa.Column(
                "amount_reserved", sa.Numeric(18, 2), nullable=False, server_default="0"
            ),
        )
        op.add_column("invoices", sa.Column("reserved_since", sa.DateTime(), nullable=True))
        op.create_check_constraint("amount_reserved_range", "invoices", RESERVED_CHECK)

    with op.batch_alter_table("payments", recreate="auto") as batch_op:
        batch_op.alter_column(
            "status", existing_type=_status(OLD_STATUSES), type_=_status(NEW_STATUSES),
            existing_nullable=False,
        )
        batch_op.drop_constraint("uq_payments_idempotency_key", type_="unique")
        batch_op.add_column(sa.Column("request_fingerprint", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.String(500), nullable=True))
        batch_op.create_unique_constraint(
            "uq_payments_user_idempotency_key", ["user_id", "idempotency_key"]
        )
        # Reconcile and the expiry job look for pending payments.
        batch_op.create_index("ix_payments_status_created", ["status", "created_at"])

    with op.batch_alter_table("sales_orders") as batch_op:
        batch_op.drop_constraint("uq_sales_orders_idempotency_key", type_="unique")
        batch_op.add_column(sa.Column("request_fingerprint", sa.String(64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_sales_orders_user_idempotency_key", ["user_id", "idempotency_key"]
        )

    op.create_table(
        "sandbox_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "succeeded", "declined", "refunded", name="charge_status", native_enum=False,
                create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("decline_code", sa.String(40), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("refunded_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_charges")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_charges_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_sandbox_charges_reference")),
    )


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_table("sandbox_charges")
    with op.batch_alter_table("sales_orders") as batch_op:
        batch_op.drop_constraint("uq_sales_orders_user_idempotency_key", type_="unique")
        batch_op.drop_column("request_fingerprint")
        batch_op.create_unique_constraint("uq_sales_orders_idempotency_key", ["idempotency_key"])
    op.execute(
        "UPDATE payments SET status = 'failed' WHERE status IN ('cancelled', 'expired')"
    )
    with op.batch_alter_table("payments", recreate="auto") as batch_op:
        batch_op.drop_index("ix_payments_status_created")
        batch_op.drop_constraint("uq_payments_user_idempotency_key", type_="unique")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("request_fingerprint")
        batch_op.alter_column(
            "status", existing_type=_status(NEW_STATUSES), type_=_status(OLD_STATUSES),
            existing_nullable=False,
        )
        batch_op.create_unique_constraint("uq_payments_idempotency_key", ["idempotency_key"])
    if sqlite:
        # DROP COLUMN refuses a column a CHECK names: the check goes with the table's SQL.
        op.execute("ALTER TABLE invoices DROP COLUMN reserved_since")
        op.execute("ALTER TABLE invoices DROP COLUMN amount_reserved")
    else:
        op.drop_constraint(op.f("ck_invoices_amount_reserved_range"), "invoices", type_="check")
        op.drop_column("invoices", "reserved_since")
        op.drop_column("invoices", "amount_reserved")
