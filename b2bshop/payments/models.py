"""Payments and how each one is allocated to invoices."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, User, enum_type
from b2bshop.billing.models import Invoice
from b2bshop.entities.columns import entity_column
from b2bshop.extensions import db
from b2bshop.money import MONEY, ZERO, Money


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    #: Recorded by a store admin (cheque, wire seen on the bank statement, ...).
    MANUAL = "manual"
    #: A credit note's credit applied to invoices of its account (no money moves).
    CREDIT_NOTE = "credit_note"


class PaymentStatus(enum.StrEnum):
    """pending -> completed -> reversed; pending -> failed | cancelled | expired.

    Every change is a guarded transition under the payment's row lock (payments/service.py),
    so concurrent requests make one effect and the rest are refused.
    """

    #: Recorded before the money moves: a card charge in flight or a bank transfer on its
    #: way. Its allocations hold their invoices' balance (Invoice.amount_reserved).
    PENDING = "pending"
    COMPLETED = "completed"
    #: Declined by the card provider, or no charge was ever made (found by reconcile).
    FAILED = "failed"
    REVERSED = "reversed"
    #: A pending bank transfer a store admin cancelled, with a reason.
    CANCELLED = "cancelled"
    #: A pending bank transfer that did not arrive within BANK_TRANSFER_EXPIRY_DAYS.
    EXPIRED = "expired"


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # Stripe's rule: a key belongs to the user who sent it; another user's equal key
        # is simply another key.
        UniqueConstraint("user_id", "idempotency_key", name="uq_payments_user_idempotency_key"),
        # Reconcile and the transfer expiry look for old pending payments.
        Index("ix_payments_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = entity_column()
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
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    #: What the submit asked for (method, invoices and amounts): the same key with another
    #: request is refused, never answered with this payment's receipt.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    #: The card provider's id, or the bank reference an admin typed for a manual payment.
    provider_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    #: A manual payment's day on the bank statement (migration 0017); None for the others.
    received_on: Mapped[date | None] = mapped_column(Date)
    #: When a store admin reversed it (status reversed); the audit log says who and why.
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When it left pending (completed, failed, cancelled or expired).
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Why it failed or was cancelled: a decline code, an admin's reason, "expired".
    status_reason: Mapped[str | None] = mapped_column(String(500))
    #: Method credit_note: the credit note whose credit this applies (migration 0013).
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="PaymentAllocation.id"
    )

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def provider_key(self) -> str:
        """The idempotency key the card provider gets: one per payment row, so a retried or
        reconciled charge can never become a second charge."""
        return f"b2bshop-{self.number}"

    @property
    def discount_total(self) -> Decimal:
        return sum((a.discount_amount for a in self.allocations), ZERO)


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


class ChargeStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REFUNDED = "refunded"


class SandboxCharge(db.Model):
    """The sandbox card provider's own ledger, as a real processor keeps one: written in the
    provider's own transaction, so it survives whatever happens to the store's. Reconcile
    (payments/reconcile.py) compares it with the payments."""

    __tablename__ = "sandbox_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[ChargeStatus] = mapped_column(enum_type(ChargeStatus, "charge_status"))
    decline_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime)
