"""The cart, kept in the database so it survives sign-out and works across web workers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.billing.models import Invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import MONEY


class Cart(db.Model):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartLine.id"
    )


class CartLine(db.Model):
    """Either an item (product, quantity) or an invoice (invoice, amount), never both."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        CheckConstraint(
            "(product_id IS NOT NULL AND quantity > 0 AND invoice_id IS NULL AND amount IS NULL)"
            " OR (invoice_id IS NOT NULL AND amount > 0 AND product_id IS NULL"
            " AND quantity IS NULL)",
            name="item_or_invoice",
        ),
        UniqueConstraint("cart_id", "product_id", name="uq_cart_lines_cart_product"),
        UniqueConstraint("cart_id", "invoice_id", name="uq_cart_lines_cart_invoice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    #: What the buyer chose to pay on this invoice (full balance or part of it).
    amount: Mapped[Decimal | None] = mapped_column(MONEY)

    cart: Mapped[Cart] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
