"""Quotations, up-sell and cross-sell rules (issue 18).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 10:30:00

- quotations, quotation_lines: numbered in the gap-free 'quotation' series (QU-); states
  draft -> sent -> accepted / declined / expired; an accepted one names its sales order.
- quotation_emails: the emails owed to the buyer (sent, about to expire), the intent row.
- suggestion_rules: up-sell and cross-sell for a product or a category.
- products.category: the category those rules may name. Plain ADD COLUMN (no batch copy).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "quotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            _enum("quotation_status", "draft", "sent", "accepted", "declined", "expired"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Numeric(18, 2), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("request_note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("reminder_queued_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("total >= 0", name=op.f("ck_quotations_total_not_negative")),
        sa.CheckConstraint(
            "(status = 'accepted') = (order_id IS NOT NULL)",
            name=op.f("ck_quotations_accepted_has_order"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_quotations_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_quotations_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_quotations_requested_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_quotations_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], name=op.f("fk_quotations_order_id_sales_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotations")),
        sa.UniqueConstraint("number", name=op.f("uq_quotations_number")),
        sa.UniqueConstraint("order_id", name=op.f("uq_quotations_order_id")),
    )
    op.create_index(op.f("ix_quotations_customer_id"), "quotations", ["customer_id"])
    op.create_index(op.f("ix_quotations_status"), "quotations", ["status"])
    op.create_index(op.f("ix_quotations_valid_until"), "quotations", ["valid_until"])
    op.create_table(
        "quotation_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quotation_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(18, 2), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_quotation_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price IS NULL OR unit_price >= 0",
            name=op.f("ck_quotation_lines_unit_price_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["quotation_id"],
            ["quotations.id"],
            name=op.f("fk_quotation_lines_quotation_id_quotations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_quotation_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotation_lines")),
    )
    op.create_index(op.f("ix_quotation_lines_quotation_id"), "quotation_lines", ["quotation_id"])
    op.create_table(
        "quotation_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quotation_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("quotation_email_kind", "sent", "expiring"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["quotation_id"],
            ["quotations.id"],
            name=op.f("fk_quotation_emails_quotation_id_quotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotation_emails")),
        sa.UniqueConstraint("quotation_id", "kind", name="uq_quotation_emails_quotation_kind"),
    )
    op.create_index(op.f("ix_quotation_emails_quotation_id"), "quotation_emails", ["quotation_id"])
    op.create_index(op.f("ix_quotation_emails_state"), "quotation_emails", ["state"])
    op.create_table(
        "suggestion_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("suggestion_kind", "upsell", "cross_sell"), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("suggested_product_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("note", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(product_id IS NULL) <> (category = '')",
            name=op.f("ck_suggestion_rules_product_or_category"),
        ),
        sa.CheckConstraint(
            "product_id IS NULL OR product_id <> suggested_product_id",
            name=op.f("ck_suggestion_rules_not_itself"),
        ),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to",
            name=op.f("ck_suggestion_rules_window"),
        ),
        sa.CheckConstraint(
            "priority >= 0 AND priority <= 1000", name=op.f("ck_suggestion_rules_priority_range")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_suggestion_rules_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["suggested_product_id"],
            ["products.id"],
            name=op.f("fk_suggestion_rules_suggested_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_rules")),
    )
    op.create_index(op.f("ix_suggestion_rules_product_id"), "suggestion_rules", ["product_id"])
    op.create_index(op.f("ix_suggestion_rules_category"), "suggestion_rules", ["category"])
    # Plain ADD COLUMN: a batch copy of products is not needed for a nullable-free default.
    op.add_column(
        "products", sa.Column("category", sa.String(60), server_default="", nullable=False)
    )
    op.create_index(op.f("ix_products_category"), "products", ["category"])
    op.execute(
        "INSERT INTO number_sequences (name, prefix, next_value) VALUES ('quotation', 'QU-', 1)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM number_sequences WHERE name = 'quotation'")
    op.drop_index(op.f("ix_products_category"), table_name="products")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE products DROP COLUMN category")
    else:
        op.drop_column("products", "category")
    op.drop_index(op.f("ix_suggestion_rules_category"), table_name="suggestion_rules")
    op.drop_index(op.f("ix_suggestion_rules_product_id"), table_name="suggestion_rules")
    op.drop_table("suggestion_rules")
    op.drop_index(op.f("ix_quotation_emails_state"), table_name="quotation_emails")
    op.drop_index(op.f("ix_quotation_emails_quotation_id"), table_name="quotation_emails")
    op.drop_table("quotation_emails")
    op.drop_index(op.f("ix_quotation_lines_quotation_id"), table_name="quotation_lines")
    op.drop_table("quotation_lines")
    op.drop_index(op.f("ix_quotations_valid_until"), table_name="quotations")
    op.drop_index(op.f("ix_quotations_status"), table_name="quotations")
    op.drop_index(op.f("ix_quotations_customer_id"), table_name="quotations")
    op.drop_table("quotations")
