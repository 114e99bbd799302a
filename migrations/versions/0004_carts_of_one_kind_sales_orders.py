"""carts of one kind, sales orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:05:31.875696

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sales_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('order_type', sa.Enum('journal', 'subscription', 'sales_order', 'returned_order', 'item_requirements', name='order_type', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('open', 'confirmed', 'delivered', 'invoiced', 'cancelled', name='order_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('payment_terms_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('total >= 0', name=op.f('ck_sales_orders_total_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_sales_orders_customer_id_customers')),
    sa.ForeignKeyConstraint(['payment_terms_id'], ['payment_terms.id'], name=op.f('fk_sales_orders_payment_terms_id_payment_terms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sales_orders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_orders')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_sales_orders_idempotency_key')),
    sa.UniqueConstraint('number', name=op.f('uq_sales_orders_number'))
    )
    with op.batch_alter_table('sales_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_orders_customer_id'), ['customer_id'], unique=False)

    op.create_table('sales_order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('backorder_quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('backorder_quantity >= 0 AND backorder_quantity <= quantity', name=op.f('ck_sales_order_lines_backorder_range')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_sales_order_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['sales_orders.id'], name=op.f('fk_sales_order_lines_order_id_sales_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_sales_order_lines_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_order_lines'))
    )
    with op.batch_alter_table('sales_order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_order_lines_order_id'), ['order_id'], unique=False)

    # A cart holds items or invoices, never both (SPEC A7): the cart records its kind and
    # each line repeats it under a foreign key to (carts.id, carts.kind).
    cart_kind = sa.Enum("item", "invoice", name="cart_kind", native_enum=False,
                        create_constraint=True, length=10)
    line_kind = sa.Enum("item", "invoice", name="cart_line_kind", native_enum=False,
                        create_constraint=True, length=10)
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", cart_kind, nullable=True))
        batch_op.create_unique_constraint("uq_carts_id_kind", ["id", "kind"])
    with op.batch_alter_table("cart_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", line_kind, nullable=True))
    op.execute("UPDATE cart_lines SET kind = CASE WHEN product_id IS NOT NULL THEN 'item'"
               " ELSE 'invoice' END")
    # A cart that somehow holds both keeps its invoices (money owed) and drops its items.
    op.execute("DELETE FROM cart_lines WHERE kind = 'item' AND cart_id IN"
               " (SELECT cart_id FROM cart_lines WHERE kind = 'invoice')")
    op.execute("UPDATE carts SET kind = (SELECT MIN(kind) FROM cart_lines"
               " WHERE cart_lines.cart_id = carts.id)")
    with op.batch_alter_table("cart_lines", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=line_kind, nullable=False)
        batch_op.drop_constraint(op.f("ck_cart_lines_item_or_invoice"), type_="check")
        batch_op.create_check_constraint(
            "item_or_invoice",
            "(kind = 'item' AND product_id IS NOT NULL AND quantity > 0"
            " AND invoice_id IS NULL AND amount IS NULL)"
            " OR (kind = 'invoice' AND invoice_id IS NOT NULL AND amount > 0"
            " AND product_id IS NULL AND quantity IS NULL)",
        )
        batch_op.create_foreign_key("fk_cart_lines_cart_kind", "carts", ["cart_id", "kind"],
                                    ["id", "kind"])


def downgrade():
    with op.batch_alter_table("cart_lines", schema=None) as batch_op:
        batch_op.drop_constraint("fk_cart_lines_cart_kind", type_="foreignkey")
        batch_op.drop_constraint(op.f("ck_cart_lines_item_or_invoice"), type_="check")
        batch_op.create_check_constraint(
            "item_or_invoice",
            "(product_id IS NOT NULL AND quantity > 0 AND invoice_id IS NULL AND amount IS NULL)"
            " OR (invoice_id IS NOT NULL AND amount > 0 AND product_id IS NULL"
            " AND quantity IS NULL)",
        )
        batch_op.drop_constraint(op.f("ck_cart_lines_cart_line_kind"), type_="check")
        batch_op.drop_column("kind")
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_carts_id_kind", type_="unique")
        batch_op.drop_constraint(op.f("ck_carts_cart_kind"), type_="check")
        batch_op.drop_column("kind")
    op.drop_index(op.f("ix_sales_order_lines_order_id"), table_name="sales_order_lines")
    op.drop_table("sales_order_lines")
    op.drop_index(op.f("ix_sales_orders_customer_id"), table_name="sales_orders")
    op.drop_table("sales_orders")
