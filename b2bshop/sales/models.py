"""Sales orders: what buyers order on the storefront (and, later, admins in the back office)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, PaymentTerms, User, enum_type
from b2bshop.catalog.models import Product
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
    __table_args__ = (CheckConstraint("total >= 0", name="total_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
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
    #: From the checkout form: a replayed submit finds this order again.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()
    payment_terms: Mapped[PaymentTerms] = relationship()
    lines: Mapped[list[SalesOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="SalesOrderLine.line_no"
    )


class SalesOrderLine(db.Model):
    __tablename__ = "sales_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "backorder_quantity >= 0 AND backorder_quantity <= quantity", name="backorder_range"
        ),
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
    #: Units not on hand when ordered: delivered when stock comes in.
    backorder_quantity: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
