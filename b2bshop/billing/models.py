"""Invoices: what a customer owes, and how much of it is settled."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    case,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, PaymentTerms, enum_type
from b2bshop.entities.columns import entity_column
from b2bshop.extensions import db
from b2bshop.money import MONEY, ZERO, quantize


class InvoiceKind(enum.StrEnum):
    """SPEC B8. Pro forma invoices are never posted, so they are not a kind of Invoice."""

    CUSTOMER = "customer"
    FREE_TEXT = "free_text"


class DocumentType(enum.StrEnum):
    """An invoice, or a credit note (its own number series, CN-). A credit note's amounts
    are positive, as UBL and CII write them; its balance, to the buyer, is negative."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


def status_for(total: Decimal, amount_paid: Decimal) -> InvoiceStatus:
    """The one place that derives an invoice's status from its amounts."""
    if amount_paid <= 0:
        return InvoiceStatus.UNPAID
    if amount_paid >= total:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID


class InvoiceAmounts:
    """The rules of an invoice's amounts, on its columns alone: shared by the Invoice model
    and the invoice list's plain rows (listing.ListedInvoice), which skip the ORM."""

    # Reads total, amount_paid, amount_reserved, status, document_type, due_date,
    # cash_discount_date, cash_discount_amount and currency.

    @property
    def credit_note(self) -> bool:
        return self.document_type == DocumentType.CREDIT_NOTE

    @property
    def balance(self) -> Decimal:
        """What the buyer owes on it; negative for the credit still open on a credit note."""
        open_amount = self.total - self.amount_paid
        return -open_amount if self.credit_note else open_amount

    @property
    def unreserved_balance(self) -> Decimal:
        """The balance no pending payment holds: what a new payment may still settle."""
        return self.total - self.amount_paid - (self.amount_reserved or ZERO)

    def payable_amount(self, today: date) -> Decimal:
        """What a new payment must bring to settle the invoice today: the balance, less
        what pending payments hold, less the cash discount still open on the rest.
        The one rule for every buyer and admin path (cart, checkout, bulk pay)."""
        return self.unreserved_balance - self.cash_discount_available(today)

    def is_overdue(self, today: date) -> bool:
        return not self.credit_note and self.status != InvoiceStatus.PAID and self.due_date < today

    def cash_discount_open(self, today: date) -> bool:
        return (
            not self.credit_note
            and self.status != InvoiceStatus.PAID
            and self.cash_discount_date is not None
            and self.cash_discount_amount > 0
            and today <= self.cash_discount_date
        )

    def cash_discount_available(self, today: date) -> Decimal:
        """Discount still to be earned by settling the unreserved balance today.

        The discount is earned in proportion to what is settled: the share of the total
        still open carries the same share of the discount (README, "Cash discount").
        A pending payment already carries the discount of the part it holds.
        """
        if not self.cash_discount_open(today):
            return ZERO
        return quantize(
            self.cash_discount_amount * self.unreserved_balance / self.total, self.currency
        )


class Invoice(InvoiceAmounts, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("total > 0", name="total_positive"),
        CheckConstraint("subtotal >= 0 AND tax >= 0", name="amounts_not_negative"),
        CheckConstraint("total = ROUND(subtotal + tax, 2)", name="total_is_subtotal_plus_tax"),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="amount_paid_range"),
        # Pending payments (bank transfers on their way, card charges in flight) hold their
        # part of the balance: the invoice can never be paid twice over (migration 0009).
        CheckConstraint(
            "amount_reserved >= 0 AND amount_paid + amount_reserved <= total",
            name="amount_reserved_range",
        ),
        CheckConstraint(
            "cash_discount_amount >= 0 AND cash_discount_amount < total",
            name="cash_discount_range",
        ),
        CheckConstraint("due_date >= invoice_date", name="due_after_invoice_date"),
        # The stored status must agree with the amounts (status_for() writes it).
        CheckConstraint(
            "(status = 'unpaid' AND amount_paid = 0)"
            " OR (status = 'partially_paid' AND amount_paid > 0 AND amount_paid < total)"
            " OR (status = 'paid' AND amount_paid = total)",
            name="status_matches_amounts",
        ),
        # The invoice list (billing/listing.py) walks one of these per visible account, in
        # the order of the chosen sort, from a keyset cursor. INCLUDE makes the totals line
        # (count, sum of balances) an index-only scan on PostgreSQL.
        Index(
            "ix_invoices_customer_due",
            "customer_id",
            "due_date",
            "id",
            postgresql_include=["total", "amount_paid", "status"],
        ),
        Index(
            "ix_invoices_customer_status_due",
            "customer_id",
            "status",
            "due_date",
            "id",
            postgresql_include=["total", "amount_paid"],
        ),
        # Open invoices only: the "overdue" filter (not paid, due date passed).
        Index(
            "ix_invoices_customer_open_due",
            "customer_id",
            "due_date",
            "id",
            postgresql_include=["total", "amount_paid"],
            postgresql_where=text("status <> 'paid'"),
            sqlite_where=text("status <> 'paid'"),
        ),
        Index("ix_invoices_customer_total", "customer_id", "total", "id"),
        Index("ix_invoices_customer_number", "customer_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = entity_column()
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[InvoiceKind] = mapped_column(
        enum_type(InvoiceKind, "invoice_kind"), default=InvoiceKind.CUSTOMER
    )
    #: The order a customer invoice bills (several orders' packing slips: the first one).
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    #: The terms its due date and cash discount came from: the order's, which may not be
    #: the billed invoice account's. None on invoices posted before it was kept.
    payment_terms_id: Mapped[int | None] = mapped_column(ForeignKey("payment_terms.id"))
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    #: Last day on which paying earns the cash discount; None when the terms have none.
    cash_discount_date: Mapped[date | None] = mapped_column(Date)
    #: Discount earned by settling the whole total by cash_discount_date.
    cash_discount_amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    #: Settled so far: payments plus cash discount granted. Paid when it reaches total.
    amount_paid: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_type(InvoiceStatus, "invoice_status"),
        default=InvoiceStatus.UNPAID,
    )
    #: Held by pending payments (money plus the cash discount they will earn), settled or
    #: released when each one completes, fails, is cancelled or expires.
    amount_reserved: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    #: When the oldest pending payment still holding part of the balance was made.
    reserved_since: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    #: Invoice or credit note (migration 0013). A credit note's status says how much of its
    #: credit is used: unpaid = all of it open, paid = used up.
    document_type: Mapped[DocumentType] = mapped_column(
        enum_type(DocumentType, "invoice_document_type"),
        default=DocumentType.INVOICE,
        server_default=DocumentType.INVOICE.value,
    )
    #: The invoice a credit note corrects (EN 16931 BT-25). No FOREIGN KEY: SQLite drops a
    #: column only without one (0013's downgrade), and invoices are never deleted.
    credited_invoice_id: Mapped[int | None] = mapped_column(Integer)

    customer: Mapped[Customer] = relationship()
    payment_terms: Mapped[PaymentTerms | None] = relationship()
    credited_invoice: Mapped[Invoice | None] = relationship(
        primaryjoin="foreign(Invoice.credited_invoice_id) == remote(Invoice.id)"
    )
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.line_no", cascade="all, delete-orphan"
    )

    @property
    def terms(self) -> PaymentTerms:
        return self.payment_terms or self.customer.payment_terms


def signed_balance() -> ColumnElement[Decimal]:
    """Invoice.balance in SQL: total less settled, negative for a credit note."""
    open_amount = Invoice.total - Invoice.amount_paid
    return case(
        (Invoice.document_type == DocumentType.CREDIT_NOTE, -open_amount), else_=open_amount
    )


def is_invoice() -> ColumnElement[bool]:
    """Not a credit note: what can be overdue, paid or reminded of."""
    return Invoice.document_type == DocumentType.INVOICE


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 100", name="tax_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str | None] = mapped_column(String(40))
    #: Main account a free text line is booked to (a customer invoice line has an item).
    ledger_account: Mapped[str | None] = mapped_column(ForeignKey("ledger_accounts.number"))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    #: Sales tax percent applied to this line.
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    net_amount: Mapped[Decimal] = mapped_column(MONEY)
    tax_amount: Mapped[Decimal] = mapped_column(MONEY)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


Index("ix_invoice_lines_invoice", InvoiceLine.invoice_id, InvoiceLine.line_no, unique=True)


class InvoiceTotals(db.Model):
    """Count and sums of invoices per customer and status, kept by database triggers
    (migration 0003) on every insert, update and delete of an invoice.

    The invoice list's totals line reads these few rows instead of summing an account's
    invoices (50,000 of them take 20 ms to sum) whenever the filter is by status alone.
    """

    __tablename__ = "invoice_totals"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    invoice_count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    amount_paid: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)


class LedgerAccount(db.Model):
    """A main account of the chart of accounts: where free text invoice lines are booked."""

    __tablename__ = "ledger_accounts"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"
    POSTED = "posted"


class FreeTextInvoice(db.Model):
    """A free text invoice while it is being written (SPEC B8): it can be printed pro forma,
    and posting turns it into an Invoice of kind free_text."""

    __tablename__ = "free_text_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_date: Mapped[date] = mapped_column(Date)
    status: Mapped[DraftStatus] = mapped_column(
        enum_type(DraftStatus, "draft_status"), default=DraftStatus.DRAFT
    )
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    lines: Mapped[list[FreeTextLine]] = relationship(
        back_populates="draft", cascade="all, delete-orphan", order_by="FreeTextLine.line_no"
    )


class FreeTextLine(db.Model):
    __tablename__ = "free_text_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("free_text_invoices.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    ledger_account: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.number"))
    description: Mapped[str] = mapped_column(String(500))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))

    draft: Mapped[FreeTextInvoice] = relationship(back_populates="lines")
