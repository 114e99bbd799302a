"""Payments and how each one is allocated to invoices."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, User, enum_type
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from b2bshop.money import MONEY, ZERO


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    #: Recorded by a store admin (cheque, wire seen on the bank statement, ...).
    MANUAL = "manual"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REVERSED = "reversed"


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    method: Mapped[PaymentMethod] = mapped_column(enum_type(PaymentMethod, "payment_method"))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_type(PaymentStatus, "payment_status"),
        default=PaymentStatus.PENDING,
    )
    #: Money received (or to be received); cash discounts are on the allocations.
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    #: From the checkout form: a replayed or double-clicked submit finds this payment again.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The card provider's id, or the bank reference an admin typed for a manual payment.
    provider_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    #: When a store admin reversed it (status reversed); the audit log says who and why.
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


class PaymentAllocation(db.Model):
    """The part of a payment that settles one invoice."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("discount_amount >= 0", name="discount_not_negative"),
        UniqueConstraint("payment_id", "invoice_id", name="uq_payment_allocations_payment_invoice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    #: Cash discount granted with this allocation; it settles the invoice like money does.
    discount_amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()
