"""Invoices as buyers see them. Every buyer lookup is scoped by visible_invoices() or by the
same accounts, loaded with the user (visible_accounts()): anything else is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Row, Select, bindparam, case, false, func, or_, select
from sqlalchemy.orm import joinedload

from b2bshop.accounts.models import Customer, PaymentTerms, User
from b2bshop.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    is_invoice,
    signed_balance,
)
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import fits_money, quantize
from b2bshop.numbering import next_number


def _visible_customer_ids(user: User) -> Select:
    """The user's own customer and, when it names one, its invoice account (SPEC A3)."""
    invoice_account = (
        select(Customer.invoice_account_id).where(Customer.id == user.customer_id).scalar_subquery()
    )
    return select(Customer.id).where(
        or_(Customer.id == user.customer_id, Customer.id == invoice_account)
    )


def visible_accounts(user: User) -> list[Customer]:
    """The accounts whose invoices the user sees, own account first: loaded with the user
    (accounts.service.load_user), so no query here."""
    if user.customer is None:
        return []
    own = user.customer
    return [own, own.invoice_account] if own.invoice_account is not None else [own]


def visible_invoices(user: User) -> Select:
    """The invoices this user may see and pay. Anything else is simply not found (404)."""
    if user.customer_id is None:
        return select(Invoice).where(false())
    return select(Invoice).where(Invoice.customer_id.in_(_visible_customer_ids(user)))


def visible_by_number() -> tuple[ColumnElement[bool], ...]:
    """One of the user's invoices by number, for statements built once: the accounts loaded
    with the user (the same two as visible_invoices) and the number, as bound parameters
    (visible_by_number_params gives them)."""
    return (
        Invoice.customer_id.in_(bindparam("accounts", expanding=True)),
        Invoice.number == bindparam("number"),
    )


def visible_by_number_params(user: User, number: str) -> dict[str, Any] | None:
    """The parameters of visible_by_number(); None when the user sees no account."""
    accounts = [account.id for account in visible_accounts(user)]
    return {"accounts": accounts, "number": number} if accounts else None


def get_visible_invoice(user: User, number: str) -> Invoice | None:
    """One of the user's invoices by number, from a statement built once: the invoice's
    downloads run it on every request."""
    params = visible_by_number_params(user, number)
    if params is None:
        return None
    return db.session.scalars(_visible_invoice_statement(False), params).first()


@dataclass(frozen=True)
class InvoiceDetails:
    """What the invoice page shows beside the settlements: the invoice with its lines, and
    the name of its payment terms (the invoice's own, else its customer's)."""

    invoice: Invoice
    terms_name: str


def get_invoice_details(user: User, number: str) -> InvoiceDetails | None:
    """The invoice page's invoice, scoped as get_visible_invoice, with its lines and its
    terms' name in the same query. Its customer is one of the accounts loaded with the
    user, so `invoice.customer` costs no query either."""
    params = visible_by_number_params(user, number)
    if params is None:
        return None
    row = db.session.execute(_visible_invoice_statement(True), params).unique().first()
    return InvoiceDetails(row[0], row[1]) if row is not None else None


@cache
def _visible_invoice_statement(with_details: bool) -> Select:
    # Built once: with_details for the invoice page, without for everything else.
    scope = visible_by_number()
    if not with_details:
        return select(Invoice).where(*scope)
    # Invoice.terms, as a name: the invoice's terms, else its customer's. A column rather
    # than three more objects (the terms, the customer and its terms) for one name.
    # Correlated by hand: the inner one is two levels down, where SQLAlchemy would not.
    customer_terms = (
        select(Customer.payment_terms_id)
        .where(Customer.id == Invoice.customer_id)
        .correlate(Invoice)
        .scalar_subquery()
    )
    terms_name = (
        select(PaymentTerms.name)
        .where(PaymentTerms.id == func.coalesce(Invoice.payment_terms_id, customer_terms))
        .correlate(Invoice)
        .scalar_subquery()
    )
    return (
        select(Invoice, terms_name.label("terms_name"))
        .where(*scope)
        .options(joinedload(Invoice.lines))
    )


@dataclass(frozen=True)
class OpenItemsSummary:
    open_count: int
    open_balance: Decimal
    overdue_count: int
    overdue_balance: Decimal
    currency: str | None


def open_items_summary(user: User, today: date | None = None) -> OpenItemsSummary:
    """What the user's visible accounts still owe, in one query."""
    today = today or date.today()
    balance = signed_balance()
    overdue = (Invoice.due_date < today) & is_invoice()
    row = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(balance), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, balance), else_=0)), 0),
            func.min(Invoice.currency),
        ).where(
            Invoice.customer_id.in_(_visible_customer_ids(user)),
            Invoice.status != InvoiceStatus.PAID,
        )
    ).one()
    return OpenItemsSummary(
        open_count=row[0],
        open_balance=Decimal(row[1]),
        overdue_count=int(row[2]),
        overdue_balance=Decimal(row[3]),
        currency=row[4],
    )


class InvoiceTooLarge(DomainError):
    """A total beyond what a MONEY column holds (each line fits; their sum may not)."""


class CurrencyRefused(DomainError):
    status_code = 409


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    sku: str | None = None
    ledger_account: str | None = None


def build_invoice(
    customer: Customer,
    lines: list[LineInput],
    invoice_date: date,
    *,
    terms: PaymentTerms | None = None,
    kind: InvoiceKind = InvoiceKind.CUSTOMER,
    sales_order_id: int | None = None,
) -> Invoice:
    """An invoice with its amounts, not yet numbered nor in the session: posting adds it, a
    pro forma only prints it. Due date and cash discount from the payment terms (the
    customer's unless given), tax per line."""
    if not lines:
        raise ValueError("an invoice needs at least one line")
    terms = terms or customer.payment_terms
    currency = customer.currency
    invoice = Invoice(
        customer=customer,
        kind=kind,
        sales_order_id=sales_order_id,
        payment_terms=terms,
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=terms.net_days),
        currency=currency,
    )
    subtotal = tax = Decimal(0)
    for line_no, line in enumerate(lines, start=1):
        net = quantize(line.quantity * line.unit_price, currency)
        line_tax = quantize(net * line.tax_rate / 100, currency)
        invoice.lines.append(
            InvoiceLine(
                line_no=line_no,
                sku=line.sku,
                ledger_account=line.ledger_account,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                net_amount=net,
                tax_amount=line_tax,
            )
        )
        subtotal += net
        tax += line_tax
    invoice.subtotal, invoice.tax, invoice.total = subtotal, tax, subtotal + tax
    if not fits_money(invoice.total):
        raise InvoiceTooLarge(
            _l("This invoice's total is more than one invoice can hold. Split it into several.")
        )
    if terms.has_cash_discount:
        invoice.cash_discount_date = invoice_date + timedelta(days=terms.cash_discount_days)
        invoice.cash_discount_amount = quantize(
            invoice.total * terms.cash_discount_percent / 100, currency
        )
    else:
        invoice.cash_discount_amount = Decimal(0)
    invoice.amount_paid = Decimal(0)
    invoice.status = InvoiceStatus.UNPAID
    return invoice


def post_invoice(
    customer: Customer,
    lines: list[LineInput],
    invoice_date: date,
    *,
    terms: PaymentTerms | None = None,
    kind: InvoiceKind = InvoiceKind.CUSTOMER,
    sales_order_id: int | None = None,
    currency: str | None = None,
) -> Invoice:
    """Post an invoice: build_invoice() numbered from the gap-free sequence.

    `currency` is what the billed document is in (an order's currency): posting it to an
    account in another currency is refused, never relabelled.
    """
    if currency is not None and currency != customer.currency:
        raise CurrencyRefused(
            _l(
                "This is in %(currency)s and %(account)s is billed in %(account_currency)s: "
                "it cannot be posted to that account.",
                currency=currency,
                account=customer.name,
                account_currency=customer.currency,
            )
        )
    invoice = build_invoice(
        customer, lines, invoice_date, terms=terms, kind=kind, sales_order_id=sales_order_id
    )
    invoice.number = next_number("invoice", customer.legal_entity_id)
    db.session.add(invoice)
    db.session.flush()
    # An intercompany customer's invoice is also the buying entity's vendor invoice (C1, C2),
    # in this same transaction.
    from b2bshop.intercompany.service import transactions_for_invoice

    transactions_for_invoice(invoice)
    return invoice


def settlements(invoice: Invoice, *, with_pending: bool = False) -> list[tuple[Any, Any]]:
    """The payments applied to an invoice so far, oldest first: (payment, allocation).
    `with_pending` adds the pending ones (in the same query)."""
    stmt = _settlements_statement(invoice.credit_note, with_pending, False)
    return [tuple(row) for row in db.session.execute(stmt, {"invoice_id": invoice.id})]


def settlement_rows(invoice: Invoice) -> list[Row]:
    """The invoice page's settlements, completed and pending, oldest first, as plain rows:
    created_at, number, method, status (the payment's), amount, discount_amount (the
    allocation's). The same statement as settlements(), its columns only: two ORM objects
    a row cost a tenth of the page."""
    stmt = _settlements_statement(invoice.credit_note, True, True)
    return db.session.connection().execute(stmt, {"invoice_id": invoice.id}).all()


@cache
def _settlements_statement(credit_note: bool, with_pending: bool, columns: bool) -> Select:
    # Built once per kind: the invoice page and the PDF run it on every view.
    from b2bshop.payments.models import Payment, PaymentAllocation, PaymentStatus

    statuses = [PaymentStatus.COMPLETED]
    if with_pending:
        statuses.append(PaymentStatus.PENDING)
    # A credit note's are the settlements its credit made (on the invoices it went to).
    invoice_id = bindparam("invoice_id")
    applies_to = (
        Payment.credit_note_id == invoice_id
        if credit_note
        else PaymentAllocation.invoice_id == invoice_id
    )
    shown = (
        (
            Payment.created_at,
            Payment.number,
            Payment.method,
            Payment.status,
            PaymentAllocation.amount,
            PaymentAllocation.discount_amount,
        )
        if columns
        else (Payment, PaymentAllocation)
    )
    return (
        select(*shown)
        .select_from(Payment)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(applies_to, Payment.status.in_(statuses))
        .order_by(Payment.created_at, Payment.id)
    )


#: Aging buckets of the statement of account: (key, first day overdue, last day overdue).
AGING_BUCKETS = [
    ("not_due", None, 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
]


def aging_bucket(due_date: date, today: date) -> str:
    days = (today - due_date).days
    for key, low, high in AGING_BUCKETS:
        if (low is None or days >= low) and (high is None or days <= high):
            return key
    raise AssertionError(days)


@dataclass
class AccountStatement:
    account: Customer
    invoices: list[Invoice]
    buckets: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0))


@dataclass
class Statement:
    today: date
    accounts: list[AccountStatement]
    currency: str | None

    @property
    def buckets(self) -> dict[str, Decimal]:
        return {
            key: sum((a.buckets[key] for a in self.accounts), Decimal(0))
            for key, _, _ in AGING_BUCKETS
        }

    @property
    def total(self) -> Decimal:
        return sum((a.total for a in self.accounts), Decimal(0))


def statement_of_account(user: User, today: date | None = None) -> Statement:
    """Open items of the user's own account and its invoice account, aged (SPEC D2)."""
    today = today or date.today()
    accounts = visible_accounts(user)
    open_items = db.session.scalars(
        select(Invoice)
        .where(
            Invoice.customer_id.in_([a.id for a in accounts]), Invoice.status != InvoiceStatus.PAID
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    per_account = []
    for account in accounts:
        invoices = [i for i in open_items if i.customer_id == account.id]
        buckets = {key: Decimal(0) for key, _, _ in AGING_BUCKETS}
        for invoice in invoices:
            # Open credit is never overdue.
            bucket = "not_due" if invoice.credit_note else aging_bucket(invoice.due_date, today)
            buckets[bucket] += invoice.balance
        per_account.append(AccountStatement(account, invoices, buckets))
    return Statement(today, per_account, accounts[0].currency if accounts else None)
