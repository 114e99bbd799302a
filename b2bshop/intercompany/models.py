"""Intercompany relation and settings, customer and vendor transactions, payment journals."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, LegalEntity
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from b2bshop.money import MONEY, ZERO, Money
from b2bshop.payments.models import Payment
from b2bshop.purchasing.models import Vendor


class JournalKind(enum.StrEnum):
    #: The buying entity pays its vendors.
    VENDOR = "vendor"
    #: The selling entity receives its customers' payments.
    CUSTOMER = "customer"


class JournalStatus(enum.StrEnum):
    """draft -> posted -> reversed; a draft is also "reversed" when it is withdrawn."""

    DRAFT = "draft"
    POSTED = "posted"
    REVERSED = "reversed"


class JournalName(db.Model):
    """A payment journal of an entity, e.g. "IC" for intercompany receipts."""

    __tablename__ = "journal_names"
    __table_args__ = (
        CheckConstraint("kind IN ('vendor', 'customer')", name="ck_journal_names_kind"),
        UniqueConstraint("legal_entity_id", "kind", "code", name="uq_journal_names_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))


class IntercompanySettings(db.Model):
    """C4, per selling entity: where intercompany payments arrive, and whether they post."""

    __tablename__ = "intercompany_settings"

    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), primary_key=True)
    customer_journal_name_id: Mapped[int | None] = mapped_column(ForeignKey("journal_names.id"))
    auto_post: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    customer_journal_name: Mapped[JournalName | None] = relationship()


class IntercompanyRelation(db.Model):
    """A customer of the selling entity that is a vendor of the buying entity."""

    __tablename__ = "intercompany_relations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    vendor: Mapped[Vendor] = relationship()


class VendorInvoice(db.Model):
    """C2: the buying entity's copy of the selling entity's customer invoice."""

    __tablename__ = "vendor_invoices"
    __table_args__ = (
        UniqueConstraint("vendor_id", "number", name="uq_vendor_invoices_vendor_number"),
        Index("ix_vendor_invoices_legal_entity_id", "legal_entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    #: The vendor's (the selling entity's) invoice number.
    number: Mapped[str] = mapped_column(String(20))
    customer_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MONEY)
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    vendor: Mapped[Vendor] = relationship()
    customer_invoice: Mapped[Invoice] = relationship()
    transaction: Mapped[VendorTransaction] = relationship(back_populates="vendor_invoice")


class CustomerTransaction(db.Model):
    """C1: the selling entity's open item for an intercompany invoice. What is still open is
    the invoice's balance: the one settlement service keeps it, whoever pays."""

    __tablename__ = "customer_transactions"
    __table_args__ = (Index("ix_customer_transactions_legal_entity_id", "legal_entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    due_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    invoice: Mapped[Invoice] = relationship()

    @property
    def open_amount(self) -> Decimal:
        return self.invoice.total - self.invoice.amount_paid


class VendorTransaction(db.Model):
    """C2: the buying entity's open item; vendor payment journals settle it."""

    __tablename__ = "vendor_transactions"
    __table_args__ = (
        CheckConstraint(
            "settled_amount >= 0 AND settled_amount <= amount",
            name="ck_vendor_transactions_settled_range",
        ),
        Index("ix_vendor_transactions_vendor", "vendor_id", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    vendor_invoice_id: Mapped[int] = mapped_column(ForeignKey("vendor_invoices.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    settled_amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    due_date: Mapped[date] = mapped_column(Date)

    vendor_invoice: Mapped[VendorInvoice] = relationship(back_populates="transaction")

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.settled_amount


class PaymentJournal(db.Model):
    __tablename__ = "payment_journals"
    __table_args__ = (
        CheckConstraint("kind IN ('vendor', 'customer')", name="ck_payment_journals_kind"),
        CheckConstraint(
            "status IN ('draft', 'posted', 'reversed')", name="ck_payment_journals_status"
        ),
        Index("ix_payment_journals_entity_kind", "legal_entity_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    kind: Mapped[str] = mapped_column(String(10))
    journal_name_id: Mapped[int | None] = mapped_column(ForeignKey("journal_names.id"))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=JournalStatus.DRAFT.value)
    #: Why automatic posting failed: shown on the list until an admin resolves it.
    attention_reason: Mapped[str | None] = mapped_column(String(500))
    #: A customer journal: the vendor journal whose posting created it.
    source_journal_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_journals.id"), unique=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The creating form's key: a double submit finds this journal instead of a second.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    legal_entity: Mapped[LegalEntity] = relationship()
    journal_name: Mapped[JournalName | None] = relationship()
    source_journal: Mapped[PaymentJournal | None] = relationship(
        remote_side=[id], back_populates="customer_journal"
    )
    customer_journal: Mapped[PaymentJournal | None] = relationship(
        back_populates="source_journal", uselist=False
    )
    lines: Mapped[list[PaymentJournalLine]] = relationship(
        back_populates="journal",
        cascade="all, delete-orphan",
        order_by="PaymentJournalLine.line_no",
    )

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def needs_attention(self) -> bool:
        return self.status == JournalStatus.DRAFT and bool(self.attention_reason)


class PaymentJournalLine(db.Model):
    """One payment: a vendor (or customer), the invoices it pays, amount and date."""

    __tablename__ = "payment_journal_lines"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payment_journal_lines_amount_positive"),
        CheckConstraint(
            "(vendor_id IS NULL) <> (customer_id IS NULL)",
            name="ck_payment_journal_lines_one_party",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journal_id: Mapped[int] = mapped_column(
        ForeignKey("payment_journals.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[date] = mapped_column(Date)
    #: A posted customer line: the payment the settlement service recorded.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))

    journal: Mapped[PaymentJournal] = relationship(back_populates="lines")
    vendor: Mapped[Vendor | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    payment: Mapped[Payment | None] = relationship()
    settlements: Mapped[list[PaymentJournalSettlement]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="PaymentJournalSettlement.id"
    )

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PaymentJournalSettlement(db.Model):
    """What a line pays of one open item: a vendor transaction or a customer invoice."""

    __tablename__ = "payment_journal_settlements"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payment_journal_settlements_amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(
        ForeignKey("payment_journal_lines.id", ondelete="CASCADE"), index=True
    )
    vendor_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("vendor_transactions.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    line: Mapped[PaymentJournalLine] = relationship(back_populates="settlements")
    vendor_transaction: Mapped[VendorTransaction | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
