"""Invoices as buyers see them. Every buyer lookup goes through visible_invoices()."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, case, func, select

from b2bshop.accounts.models import Customer, User
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db


def visible_customer_ids(user: User) -> list[int]:
    """The user's own customer and, when it names one, its invoice account (SPEC A3)."""
    if user.customer_id is None:
        return []
    ids = [user.customer_id]
    invoice_account_id = db.session.scalar(
        select(Customer.invoice_account_id).where(Customer.id == user.customer_id)
    )
    if invoice_account_id is not None:
        ids.append(invoice_account_id)
    return ids


def visible_invoices(user: User, customer_ids: list[int] | None = None) -> Select:
    """The invoices this user may see and pay. Anything else is simply not found (404)."""
    ids = visible_customer_ids(user) if customer_ids is None else customer_ids
    return select(Invoice).where(Invoice.customer_id.in_(ids))


def get_visible_invoice(user: User, number: str) -> Invoice | None:
    return db.session.scalar(visible_invoices(user).where(Invoice.number == number))


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
    balance = Invoice.total - Invoice.amount_paid
    overdue = Invoice.due_date < today
    row = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(balance), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, balance), else_=0)), 0),
            func.min(Invoice.currency),
        ).where(
            Invoice.customer_id.in_(visible_customer_ids(user)),
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


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    sku: str | None = None


def post_invoice(customer: Customer, lines: list[LineInput], invoice_date: date) -> Invoice:
    """Post an invoice: number from the gap-free sequence, due date and cash discount from
    the customer's payment terms, tax per line."""
    from datetime import timedelta

    from b2bshop.billing.models import InvoiceLine
    from b2bshop.money import quantize
    from b2bshop.numbering import next_number

    if not lines:
        raise ValueError("an invoice needs at least one line")
    currency = customer.currency
    invoice = Invoice(
        number=next_number("invoice"),
        customer=customer,
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=customer.payment_terms.net_days),
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
    terms = customer.payment_terms
    if terms.has_cash_discount:
        invoice.cash_discount_date = invoice_date + timedelta(days=terms.cash_discount_days)
        invoice.cash_discount_amount = quantize(
            invoice.total * terms.cash_discount_percent / 100, currency
        )
    invoice.amount_paid = Decimal(0)
    invoice.status = InvoiceStatus.UNPAID
    db.session.add(invoice)
    db.session.flush()
    return invoice
