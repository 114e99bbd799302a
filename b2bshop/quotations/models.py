"""Quotations (SPEC B3): what a store admin offers a customer at fixed prices until a date.

States: draft (an admin's, or a buyer's request from the cart, still to price) -> sent ->
accepted (one sales order, at the quoted prices) / declined / expired.
"""

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
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, User, enum_type
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import MONEY, quantize
from b2bshop.sales.models import SalesOrder


class QuotationStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class Quotation(db.Model):
    __tablename__ = "quotations"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(
            "(status = 'accepted') = (order_id IS NOT NULL)", name="accepted_has_order"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: QU-000001, from the gap-free 'quotation' series, taken when the quotation is created.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[QuotationStatus] = mapped_column(
        enum_type(QuotationStatus, "quotation_status"),
        default=QuotationStatus.DRAFT,
        index=True,
    )
    currency: Mapped[str] = mapped_column(String(3))
    #: Sum of the priced lines' amounts (net, as on a sales order).
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    #: The last day it can be accepted; set when it is sent.
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    #: Shown to the buyer on the quotation and its PDF.
    note: Mapped[str] = mapped_column(Text, default="")
    #: The buyer's own words when they asked for it from the cart.
    request_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The buyer who asked for it from the cart (None: a store admin opened it).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The sales order its acceptance placed.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), unique=True)
    #: When the "about to expire" email was queued: it is sent once.
    reminder_queued_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    order: Mapped[SalesOrder | None] = relationship()
    lines: Mapped[list[QuotationLine]] = relationship(
        back_populates="quotation", cascade="all, delete-orphan", order_by="QuotationLine.line_no"
    )

    @property
    def priced(self) -> bool:
        return bool(self.lines) and all(line.unit_price is not None for line in self.lines)

    def expired_on(self, today: date) -> bool:
        return self.valid_until is not None and today > self.valid_until


class QuotationLine(db.Model):
    __tablename__ = "quotation_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(
        ForeignKey("quotations.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    #: The quoted price; None on a buyer's request until a store admin prices it.
    unit_price: Mapped[Decimal | None] = mapped_column(MONEY)

    quotation: Mapped[Quotation] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def amount(self) -> Decimal | None:
        if self.unit_price is None:
            return None
        return quantize(self.unit_price * self.quantity, self.quotation.currency)


class QuotationEmailKind(enum.StrEnum):
    SENT = "sent"
    EXPIRING = "expiring"


class QuotationEmail(db.Model):
    """An email owed to the buyer about a quotation, written in the transaction that owes it
    (the intent). Its job sends it through requests/delivery.py with a SentEmail row under
    the key quotation-email-<id>: at least once, the same Message-ID on a retry."""

    __tablename__ = "quotation_emails"
    __table_args__ = (
        UniqueConstraint("quotation_id", "kind", name="uq_quotation_emails_quotation_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(
        ForeignKey("quotations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[QuotationEmailKind] = mapped_column(
        enum_type(QuotationEmailKind, "quotation_email_kind")
    )
    #: "pending" until the mail server accepted it, then "sent"; "failed" after the last try.
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    quotation: Mapped[Quotation] = relationship()
