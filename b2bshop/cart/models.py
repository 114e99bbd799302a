"""The cart, kept in the database so it survives sign-out and works across web workers."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import enum_type
from b2bshop.billing.models import Invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import MONEY, Money


class CartKind(enum.StrEnum):
    ITEM = "item"
    INVOICE = "invoice"


class Cart(db.Model):
    __tablename__ = "carts"
    __table_args__ = (
        # Target of the lines' (cart_id, kind) foreign key: see CartLine.
        UniqueConstraint("id", "kind", name="uq_carts_id_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    #: What the cart holds now: items or invoices (SPEC A7); None while it is empty.
    kind: Mapped[CartKind | None] = mapped_column(enum_type(CartKind, "cart_kind", 10))
    #: When the buyer wants the items shipped: prices are for this date (a sales agreement
    #: applies only inside its validity) and the order carries it. None: as soon as possible.
    requested_ship_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart",
        cascade="all, delete-orphan",
        order_by="CartLine.id",
        primaryjoin="Cart.id == CartLine.cart_id",
        foreign_keys="CartLine.cart_id",
    )

    @property
    def currency(self) -> str | None:
        return self.lines[0].currency if self.lines else None

    @property
    def money_total(self) -> Money | None:
        """What checkout charges (invoices) or orders (items), as the cart stands; a cart
        of two currencies raises CurrencyMismatch instead of adding them up."""
        if not self.lines:
            return None
        currency = self.lines[0].currency
        return Money.total((Money(ln.line_total, ln.currency) for ln in self.lines), currency)

    @property
    def total(self) -> Decimal:
        money = self.money_total
        return money.amount if money is not None else Decimal(0)


class CartLine(db.Model):
    """Either an item (product, quantity) or an invoice (invoice, amount), never both.

    Each line repeats its cart's kind, and (cart_id, kind) must match the cart's: so the
    database itself refuses an item in an invoice cart, and the cart's kind cannot change
    while it has lines.
    """

    __tablename__ = "cart_lines"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'item' AND product_id IS NOT NULL AND quantity > 0"
            " AND invoice_id IS NULL AND amount IS NULL)"
            " OR (kind = 'invoice' AND invoice_id IS NOT NULL AND amount > 0"
            " AND product_id IS NULL AND quantity IS NULL)",
            name="item_or_invoice",
        ),
        ForeignKeyConstraint(
            ["cart_id", "kind"], ["carts.id", "carts.kind"], name="fk_cart_lines_cart_kind"
        ),
        UniqueConstraint("cart_id", "product_id", name="uq_cart_lines_cart_product"),
        UniqueConstraint("cart_id", "invoice_id", name="uq_cart_lines_cart_invoice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    kind: Mapped[CartKind] = mapped_column(enum_type(CartKind, "cart_line_kind", 10))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    #: What the buyer chose to pay on this invoice (full balance or part of it).
    amount: Mapped[Decimal | None] = mapped_column(MONEY)

    @property
    def currency(self) -> str:
        return self.invoice.currency if self.invoice is not None else self.product.currency

    @property
    def price(self):  # type: ignore[no-untyped-def]
        """This item's pricing.service.Price for the cart's customer and requested ship date.

        cart.service.get_cart prices every line in one batch and leaves the result here; a
        line priced before its quantity changed (a quantity break) is priced again."""
        price = self.__dict__.get("_price")
        if price is None or price.quantity != self.quantity:
            from b2bshop.accounts.models import User
            from b2bshop.pricing.service import price_for

            user = db.session.get(User, self.cart.user_id)
            price = price_for(
                user.customer if user else None,
                self.product,
                self.quantity,
                self.cart.requested_ship_date,
            )
            self.__dict__["_price"] = price
        return price

    @property
    def line_total(self) -> Decimal:
        if self.kind == CartKind.INVOICE:
            return self.amount
        return self.price.amount.amount

    cart: Mapped[Cart] = relationship(
        back_populates="lines", primaryjoin="Cart.id == CartLine.cart_id", foreign_keys=[cart_id]
    )
    product: Mapped[Product | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
