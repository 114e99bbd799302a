"""Trade and sales agreements, vendors, purchase orders and backorder allocation (issue 19).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:30:00

- customer_groups, customer_group_members: price groups that share trade agreements.
- trade_agreements: a price or a line discount for a customer or a group, from a quantity
  break on, within an optional date window.
- sales_agreements, sales_agreement_lines: commitments (product quantity, product amount or
  total amount) with prices or discounts, a validity period and a status (on hold ->
  effective -> closed), numbered in the gap-free 'sales_agreement' series (SA-).
- vendors, purchase_orders, purchase_order_lines, receipts, receipt_lines: what the store
  buys, when it is expected, and what came in (series V-, PO-, RCT-).
- sales_order_lines: list_price, price_source, price_reference (where the price came from),
  sales_agreement_line_id (fulfilment; no foreign key: SQLite drops a column only without
  one), allocation_priority (an admin's reprioritized backorder).
- sales_orders.requested_ship_date, carts.requested_ship_date.

Existing tables get plain ADD COLUMN, never a batch copy (SQLite would lose triggers and the
carts' composite foreign key).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SERIES = {"sales_agreement": "SA-", "purchase_order": "PO-", "receipt": "RCT-", "vendor": "V-"}
PRICE_OR_DISCOUNT = (
    "(unit_price IS NULL AND discount_percent > 0 AND discount_percent < 100)"
    " OR (discount_percent IS NULL AND unit_price >= 0)"
)
NEW_TABLES = (
    "receipt_lines",
    "sales_agreement_lines",
    "receipts",
    "purchase_order_lines",
    "sales_agreements",
    "purchase_orders",
    "trade_agreements",
    "customer_group_members",
    "vendors",
    "customer_groups",
)
ORDER_LINE_COLUMNS = (
    ("list_price", sa.Numeric(18, 2)),
    ("price_source", sa.String(20)),
    ("price_reference", sa.String(40)),
    ("sales_agreement_line_id", sa.Integer()),
    ("allocation_priority", sa.Integer()),
)


def upgrade() -> None:
    op.create_table(
        "customer_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_groups")),
        sa.UniqueConstraint("code", name=op.f("uq_customer_groups_code")),
    )
    op.create_table(
        "vendors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendors")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_vendors_idempotency_key")),
        sa.UniqueConstraint("number", name=op.f("uq_vendors_number")),
    )
    op.create_table(
        "customer_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_group_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["customer_groups.id"],
            name=op.f("fk_customer_group_members_group_id_customer_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "customer_id", name=op.f("pk_customer_group_members")),
    )
    with op.batch_alter_table("customer_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_group_members_customer_id"), ["customer_id"], unique=False
        )
    op.create_table(
        "trade_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_group_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(customer_id IS NULL) <> (customer_group_id IS NULL)",
            name=op.f("ck_trade_agreements_customer_or_group"),
        ),
        sa.CheckConstraint(
            PRICE_OR_DISCOUNT,
            name=op.f("ck_trade_agreements_price_or_discount"),
        ),
        sa.CheckConstraint(
            "min_quantity >= 1", name=op.f("ck_trade_agreements_min_quantity_positive")
        ),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to",
            name=op.f("ck_trade_agreements_window"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_group_id"],
            ["customer_groups.id"],
            name=op.f("fk_trade_agreements_customer_group_id_customer_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_trade_agreements_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_trade_agreements_product_id_products")
        ),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_agreements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_trade_agreements_idempotency_key")),
    )
    with op.batch_alter_table("trade_agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trade_agreements_customer_group_id"), ["customer_group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trade_agreements_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trade_agreements_product_id"), ["product_id"], unique=False
        )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "received",
                "cancelled",
                name="purchase_order_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_purchase_orders_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_purchase_orders_vendor_id_vendors")
        ),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_purchase_orders_idempotency_key")),
        sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_vendor_id"), ["vendor_id"], unique=False
        )
    op.create_table(
        "sales_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "commitment_type",
            sa.Enum(
                "product_quantity",
                "product_amount",
                "total_amount",
                name="commitment_type",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "on_hold",
                "effective",
                "closed",
                name="agreement_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("committed_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "committed_amount IS NULL OR committed_amount > 0",
            name=op.f("ck_sales_agreements_committed_amount_positive"),
        ),
        sa.CheckConstraint("valid_from <= valid_to", name=op.f("ck_sales_agreements_validity")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_sales_agreements_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sales_agreements_customer_id_customers"),
        ),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_agreements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sales_agreements_idempotency_key")),
        sa.UniqueConstraint("number", name=op.f("uq_sales_agreements_number")),
    )
    with op.batch_alter_table("sales_agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_agreements_customer_id"), ["customer_id"], unique=False
        )
    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("received_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received_quantity >= 0 AND received_quantity <= quantity",
            name=op.f("ck_purchase_order_lines_received_range"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_purchase_order_lines_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_purchase_order_id"),
            ["purchase_order_id"],
            unique=False,
        )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("receipt_date", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_receipts_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_receipts_purchase_order_id_purchase_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("number", name=op.f("uq_receipts_number")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipts_purchase_order_id"), ["purchase_order_id"], unique=False
        )
    op.create_table(
        "sales_agreement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("committed_quantity", sa.Integer(), nullable=True),
        sa.Column("committed_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.CheckConstraint(
            PRICE_OR_DISCOUNT,
            name=op.f("ck_sales_agreement_lines_price_or_discount"),
        ),
        sa.CheckConstraint(
            "committed_amount IS NULL OR committed_amount > 0",
            name=op.f("ck_sales_agreement_lines_committed_amount_positive"),
        ),
        sa.CheckConstraint(
            "committed_quantity IS NULL OR committed_quantity > 0",
            name=op.f("ck_sales_agreement_lines_committed_quantity_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sales_agreements.id"],
            name=op.f("fk_sales_agreement_lines_agreement_id_sales_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_sales_agreement_lines_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_agreement_lines")),
        sa.UniqueConstraint("agreement_id", "product_id", name="uq_sales_agreement_lines_product"),
    )
    with op.batch_alter_table("sales_agreement_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_agreement_lines_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_agreement_lines_product_id"), ["product_id"], unique=False
        )
    op.create_table(
        "receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("allocated_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "allocated_quantity >= 0 AND allocated_quantity <= quantity",
            name=op.f("ck_receipt_lines_allocated_range"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_receipt_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_lines.id"],
            name=op.f("fk_receipt_lines_purchase_order_line_id_purchase_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_receipt_lines_receipt_id_receipts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_lines")),
    )
    with op.batch_alter_table("receipt_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_lines_purchase_order_line_id"),
            ["purchase_order_line_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_receipt_lines_receipt_id"), ["receipt_id"], unique=False
        )

    for name, type_ in ORDER_LINE_COLUMNS:
        op.add_column("sales_order_lines", sa.Column(name, type_, nullable=True))
    op.create_index(
        op.f("ix_sales_order_lines_sales_agreement_line_id"),
        "sales_order_lines",
        ["sales_agreement_line_id"],
    )
    op.add_column("sales_orders", sa.Column("requested_ship_date", sa.Date(), nullable=True))
    op.add_column("carts", sa.Column("requested_ship_date", sa.Date(), nullable=True))
    for name, prefix in SERIES.items():
        op.execute(
            sa.text(
                "INSERT INTO number_sequences (name, prefix, next_value) VALUES (:n, :p, 1)"
            ).bindparams(n=name, p=prefix)
        )


def downgrade() -> None:
    for name in SERIES:
        op.execute(sa.text("DELETE FROM number_sequences WHERE name = :n").bindparams(n=name))
    op.drop_column("carts", "requested_ship_date")
    op.drop_column("sales_orders", "requested_ship_date")
    op.drop_index(op.f("ix_sales_order_lines_sales_agreement_line_id"), "sales_order_lines")
    for name, _type in reversed(ORDER_LINE_COLUMNS):
        op.drop_column("sales_order_lines", name)
    for table in NEW_TABLES:
        op.drop_table(table)
