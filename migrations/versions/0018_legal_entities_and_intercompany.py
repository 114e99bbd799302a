"""Legal entities own their records; intercompany relations, transactions and payment journals

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 11:00:00

Every company-owned table gets a NOT NULL legal_entity_id. Orders, invoices and payments take
their customer's entity; products, vendors and purchase orders the default entity (the first
one). Number sequences are keyed by (entity, name). On SQLite a batch copy drops a table's
triggers (the invoice totals and version triggers of 0003 and 0008): they are read from
sqlite_master first and created again after the copy.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: table -> how existing rows find their entity (None: the default entity).
OWNED = {
    "products": None,
    "vendors": None,
    "purchase_orders": None,
    "sales_orders": "customers",
    "invoices": "customers",
    "payments": "customers",
}


def _fk(table: str) -> str:
    return f"fk_{table}_legal_entity_id_legal_entities"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _triggers(table: str) -> list[str]:
    if not _sqlite():
        return []
    rows = op.get_bind().exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    )
    return [row[0] for row in rows]


def _restore(table: str, saved: list[str]) -> None:
    present = set(_triggers(table))
    for statement in saved:
        if statement not in present:
            op.execute(statement)


def _default_entity() -> int | None:
    bind = op.get_bind()
    entity = bind.execute(sa.text("SELECT MIN(id) FROM legal_entities")).scalar()
    if entity is not None:
        return entity
    has_rows = any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
        for table in ("products", "vendors", "purchase_orders")
    )
    if not has_rows:
        return None
    # Products or vendors without any entity (a store never set up): one to own them.
    bind.execute(
        sa.text(
            "INSERT INTO legal_entities (code, name, currency, address, vat_number)"
            " VALUES ('MAIN', 'b2bshop', 'EUR', '', '')"
        )
    )
    return bind.execute(sa.text("SELECT MIN(id) FROM legal_entities")).scalar()


def _own(table: str, parent: str | None, default: int | None) -> None:
    op.add_column(table, sa.Column("legal_entity_id", sa.Integer(), nullable=True))
    if parent:
        op.execute(
            f"UPDATE {table} SET legal_entity_id = (SELECT c.legal_entity_id FROM customers c"
            f" WHERE c.id = {table}.customer_id)"
        )
    elif default is not None:
        op.execute(sa.text(f"UPDATE {table} SET legal_entity_id = :e").bindparams(e=default))
    saved = _triggers(table)
    with op.batch_alter_table(table) as batch:
        batch.alter_column("legal_entity_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            _fk(table),
            "legal_entities",
            ["legal_entity_id"],
            ["id"],
        )
        batch.create_index(f"ix_{table}_legal_entity_id", ["legal_entity_id"])
        if table == "products":
            # Each entity has its own catalog: a SKU is unique within its entity.
            batch.drop_constraint("uq_products_sku", type_="unique")
            batch.create_unique_constraint(
                "uq_products_legal_entity_id", ["legal_entity_id", "sku"]
            )
    _restore(table, saved)


def _disown(table: str) -> None:
    saved = _triggers(table)
    with op.batch_alter_table(table) as batch:
        if table == "products":
            batch.drop_constraint("uq_products_legal_entity_id", type_="unique")
            batch.create_unique_constraint("uq_products_sku", ["sku"])
        batch.drop_index(f"ix_{table}_legal_entity_id")
        batch.drop_constraint(_fk(table), type_="foreignkey")
        batch.drop_column("legal_entity_id")
    _restore(table, saved)


def _money(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=False, **kw)


def _entity_fk(nullable: bool = False) -> sa.Column:
    return sa.Column(
        "legal_entity_id", sa.Integer(), sa.ForeignKey("legal_entities.id"), nullable=nullable
    )


def upgrade() -> None:
    op.add_column(
        "legal_entities",
        sa.Column("number_prefix", sa.String(length=10), nullable=False, server_default=""),
    )
    default = _default_entity()
    for table, parent in OWNED.items():
        _own(table, parent, default)

    # Number sequences: one row per (entity, name), the existing ones the default entity's.
    op.add_column("number_sequences", sa.Column("legal_entity_id", sa.Integer(), nullable=True))
    if default is not None:
        op.execute(
            sa.text("UPDATE number_sequences SET legal_entity_id = :e").bindparams(e=default)
        )
    op.execute("DELETE FROM number_sequences WHERE legal_entity_id IS NULL")
    with op.batch_alter_table("number_sequences") as batch:
        batch.alter_column("legal_entity_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("pk_number_sequences", type_="primary")
        batch.create_primary_key("pk_number_sequences", ["legal_entity_id", "name"])
        batch.create_foreign_key(
            _fk("number_sequences"),
            "legal_entities",
            ["legal_entity_id"],
            ["id"],
        )

    op.create_table(
        "store_admin_entities",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column(
            "legal_entity_id", sa.Integer(), sa.ForeignKey("legal_entities.id", ondelete="CASCADE")
        ),
        sa.PrimaryKeyConstraint("user_id", "legal_entity_id", name="pk_store_admin_entities"),
    )
    op.create_table(
        "journal_names",
        sa.Column("id", sa.Integer(), primary_key=True),
        _entity_fk(),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.CheckConstraint("kind IN ('vendor', 'customer')", name="ck_journal_names_kind"),
        sa.UniqueConstraint("legal_entity_id", "kind", "code", name="uq_journal_names_code"),
    )
    op.create_table(
        "intercompany_settings",
        sa.Column(
            "legal_entity_id", sa.Integer(), sa.ForeignKey("legal_entities.id"), primary_key=True
        ),
        sa.Column(
            "customer_journal_name_id",
            sa.Integer(),
            sa.ForeignKey("journal_names.id"),
            nullable=True,
        ),
        sa.Column("auto_post", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "intercompany_relations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False, unique=True
        ),
        sa.Column(
            "vendor_id", sa.Integer(), sa.ForeignKey("vendors.id"), nullable=False, unique=True
        ),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "vendor_invoices",
        sa.Column("id", sa.Integer(), primary_key=True),
        _entity_fk(),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id"), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column(
            "customer_invoice_id",
            sa.Integer(),
            sa.ForeignKey("invoices.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("total"),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("vendor_id", "number", name="uq_vendor_invoices_vendor_number"),
        sa.Index("ix_vendor_invoices_legal_entity_id", "legal_entity_id"),
    )
    op.create_table(
        "customer_transactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _entity_fk(),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column(
            "invoice_id", sa.Integer(), sa.ForeignKey("invoices.id"), nullable=False, unique=True
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("amount"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Index("ix_customer_transactions_legal_entity_id", "legal_entity_id"),
    )
    op.create_table(
        "vendor_transactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _entity_fk(),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id"), nullable=False),
        sa.Column(
            "vendor_invoice_id",
            sa.Integer(),
            sa.ForeignKey("vendor_invoices.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("amount"),
        _money("settled_amount", server_default="0"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "settled_amount >= 0 AND settled_amount <= amount",
            name="ck_vendor_transactions_settled_range",
        ),
        sa.Index("ix_vendor_transactions_vendor", "vendor_id", "due_date"),
    )
    op.create_table(
        "payment_journals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _entity_fk(),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("journal_name_id", sa.Integer(), sa.ForeignKey("journal_names.id")),
        sa.Column("number", sa.String(length=20), nullable=False, unique=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attention_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "source_journal_id", sa.Integer(), sa.ForeignKey("payment_journals.id"), unique=True
        ),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("reversed_at", sa.DateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True, unique=True),
        sa.CheckConstraint("kind IN ('vendor', 'customer')", name="ck_payment_journals_kind"),
        sa.CheckConstraint(
            "status IN ('draft', 'posted', 'reversed')", name="ck_payment_journals_status"
        ),
        sa.Index("ix_payment_journals_entity_kind", "legal_entity_id", "kind", "id"),
    )
    op.create_table(
        "payment_journal_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "journal_id",
            sa.Integer(),
            sa.ForeignKey("payment_journals.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), sa.ForeignKey("vendors.id")),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id")),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("amount"),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payments.id")),
        sa.CheckConstraint("amount > 0", name="ck_payment_journal_lines_amount_positive"),
        sa.CheckConstraint(
            "(vendor_id IS NULL) <> (customer_id IS NULL)",
            name="ck_payment_journal_lines_one_party",
        ),
    )
    op.create_table(
        "payment_journal_settlements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "line_id",
            sa.Integer(),
            sa.ForeignKey("payment_journal_lines.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("vendor_transaction_id", sa.Integer(), sa.ForeignKey("vendor_transactions.id")),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoices.id")),
        _money("amount"),
        sa.CheckConstraint("amount > 0", name="ck_payment_journal_settlements_amount_positive"),
    )


def downgrade() -> None:
    for table in (
        "payment_journal_settlements",
        "payment_journal_lines",
        "payment_journals",
        "vendor_transactions",
        "customer_transactions",
        "vendor_invoices",
        "intercompany_relations",
        "intercompany_settings",
        "journal_names",
        "store_admin_entities",
    ):
        op.drop_table(table)
    # Back to one series per name: the default entity's (the others' numbers stay on their
    # documents, which keep their prefixes).
    op.execute(
        "DELETE FROM number_sequences WHERE legal_entity_id <> (SELECT MIN(id) FROM legal_entities)"
    )
    with op.batch_alter_table("number_sequences") as batch:
        batch.drop_constraint(_fk("number_sequences"), type_="foreignkey")
        batch.drop_constraint("pk_number_sequences", type_="primary")
        batch.create_primary_key("pk_number_sequences", ["name"])
        batch.drop_column("legal_entity_id")
    for table in reversed(OWNED):
        _disown(table)
    with op.batch_alter_table("legal_entities") as batch:
        batch.drop_column("number_prefix")
