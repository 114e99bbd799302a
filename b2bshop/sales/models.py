"""Sales orders and packing slips: what buyers order on the storefront or store admins enter
in the back office, and what of it has been delivered and invoiced (SPEC B5, B8)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, PaymentTerms, User, enum_type
from b2bshop.billing.models import Invoice
from b2bshop.catalog.models import Product
from b2bshop.entities.columns import entity_column
from b2bshop.extensions import db
from b2bshop.money import MONEY


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class OrderType(enum.StrEnum):
    """SPEC B5. Storefront orders are plain sales orders."""

    JOURNAL = "journal"
    SUBSCRIPTION = "subscription"
    SALES_ORDER = "sales_order"
    RETURNED_ORDER = "returned_order"
    ITEM_REQUIREMENTS = "item_requirements"


class SalesOrder(db.Model):
    __tablename__ = "sales_orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_sales_orders_user_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    legal_entity_id: Mapped[int] = entity_column()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    order_type: Mapped[OrderType] = mapped_column(
        enum_type(OrderType, "order_type"),
        default=OrderType.SALES_ORDER,
    )
    status: Mapped[OrderStatus] = mapped_column(
        enum_type(OrderStatus, "order_status"),
        default=OrderStatus.OPEN,
    )
    order_date: Mapped[date] = mapped_column(Date)
    #: The customer's terms when the order was placed; its invoices take their due date here.
    payment_terms_id: Mapped[int] = mapped_column(ForeignKey("payment_terms.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MONEY)
    #: From the checkout or new-order form: a replayed submit finds this order again.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    #: What the submit ordered: the same key with another cart is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    #: Return merchandise authorization: given automatically to returned orders (SPEC B5).
    rma_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    #: When the buyer wants it shipped: a sales agreement prices the order only when this
    #: date is inside its validity; backorders wait oldest requested date first.
    requested_ship_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()
    payment_terms: Mapped[PaymentTerms] = relationship()
    lines: Mapped[list[SalesOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="SalesOrderLine.line_no"
    )
    packing_slips: Mapped[list[PackingSlip]] = relationship(
        back_populates="order", order_by="PackingSlip.id"
    )

    @property
    def deliver_remainder(self) -> int:
        return sum(line.deliver_remainder for line in self.lines)

    @property
    def invoice_remainder(self) -> int:
        return sum(line.invoice_remainder for line in self.lines)

    @property
    def delivered_anything(self) -> bool:
        return any(line.delivered_quantity for line in self.lines)


class SalesOrderLine(db.Model):
    __tablename__ = "sales_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "backorder_quantity >= 0 AND backorder_quantity <= quantity", name="backorder_range"
        ),
        CheckConstraint(
            "invoiced_quantity >= 0 AND invoiced_quantity <= delivered_quantity"
            " AND delivered_quantity <= quantity",
            name="remainders_range",
        ),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 100", name="tax_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    #: Sales tax percent, from the product when ordered.
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    #: Units not on hand when ordered: delivered when stock comes in.
    backorder_quantity: Mapped[int] = mapped_column(Integer, default=0)
    #: Posted on packing slips so far; quantity - delivered is the deliver remainder.
    delivered_quantity: Mapped[int] = mapped_column(Integer, default=0)
    #: Posted on customer invoices so far; delivered - invoiced is the invoice remainder.
    invoiced_quantity: Mapped[int] = mapped_column(Integer, default=0)
    #: The product's list price when ordered, beside the unit price charged.
    list_price: Mapped[Decimal | None] = mapped_column(MONEY)
    #: Where the unit price came from (pricing.service.PriceSource) and its reference
    #: ("SA-000012"); None on lines from before pricing recorded it.
    price_source: Mapped[str | None] = mapped_column(String(20))
    price_reference: Mapped[str | None] = mapped_column(String(40))
    #: The sales agreement line that priced this line: its fulfilment counts it. No foreign
    #: key (SQLite drops a column only without one); only an on-hold agreement, which never
    #: priced anything, can lose a line.
    sales_agreement_line_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: An admin's reprioritization of a backorder: lower goes first; None waits by its
    #: order's requested ship date.
    allocation_priority: Mapped[int | None] = mapped_column(Integer)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def deliver_remainder(self) -> int:
        return self.quantity - self.delivered_quantity

    @property
    def reserved_quantity(self) -> int:
        """Allocated to this line and not yet delivered: the next packing slip ships it."""
        return self.quantity - self.backorder_quantity - self.delivered_quantity

    @property
    def price_label(self) -> str:
        from b2bshop.pricing.service import price_label

        return price_label(
            self.price_source, self.price_reference, self.unit_price, self.list_price
        )

    @property
    def invoice_remainder(self) -> int:
        """Still to invoice: ordered but not yet invoiced (SPEC B8's "invoice remainder")."""
        return self.quantity - self.invoiced_quantity


class PackingSlip(db.Model):
    """One delivery of an order. Invoiced once, alone or with others (SPEC B8)."""

    __tablename__ = "packing_slips"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    slip_date: Mapped[date] = mapped_column(Date)
    #: The customer invoice that billed this delivery; None while it is still to invoice.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    order: Mapped[SalesOrder] = relationship(back_populates="packing_slips")
    invoice: Mapped[Invoice | None] = relationship()
    lines: Mapped[list[PackingSlipLine]] = relationship(
        back_populates="packing_slip", cascade="all, delete-orphan", order_by="PackingSlipLine.id"
    )


class PackingSlipLine(db.Model):
    __tablename__ = "packing_slip_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    packing_slip_id: Mapped[int] = mapped_column(
        ForeignKey("packing_slips.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    packing_slip: Mapped[PackingSlip] = relationship(back_populates="lines")
    order_line: Mapped[SalesOrderLine] = relationship()
