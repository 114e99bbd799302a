"""Credit exposure, computed once, for the account that is billed.

An order of a customer with an invoice account is billed to that account (SPEC A3), so the
exposure and the limit are the account's: its open invoice balance, plus the part of its
customers' open orders not yet invoiced, each counted once, tax included (that is what
the invoices will bill). The check runs under the account's row lock (core/locks.py, step
2), so two orders placed at the same moment cannot both pass the limit.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from b2bshop.accounts.models import Customer
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.core.locks import lock_accounts
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import Money, quantize


class CreditLimitExceeded(DomainError):
    status_code = 409


def billed_account(customer: Customer) -> Customer:
    """Who the customer's invoices are billed to: its invoice account, or itself."""
    return customer.invoice_account or customer


def exposure(account: Customer) -> Money:
    """What the account owes and has on order: open invoices billed to it, plus the
    uninvoiced remainder of open orders of every customer it bills for."""
    from b2bshop.sales.models import OrderStatus, OrderType, SalesOrder, SalesOrderLine

    invoices = db.session.scalar(
        select(func.coalesce(func.sum(Invoice.total - Invoice.amount_paid), 0)).where(
            Invoice.customer_id == account.id, Invoice.status != InvoiceStatus.PAID
        )
    )
    remaining = SalesOrderLine.quantity - SalesOrderLine.invoiced_quantity
    orders = db.session.scalar(
        select(
            func.coalesce(
                func.sum(
                    SalesOrderLine.unit_price * remaining * (100 + SalesOrderLine.tax_rate) / 100
                ),
                0,
            )
        )
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(
            or_(Customer.id == account.id, Customer.invoice_account_id == account.id),
            SalesOrder.status.in_([OrderStatus.OPEN, OrderStatus.CONFIRMED, OrderStatus.DELIVERED]),
            # A journal is a draft, a return is a credit: neither is owed.
            SalesOrder.order_type.notin_([OrderType.JOURNAL, OrderType.RETURNED_ORDER]),
        )
    )
    total = Decimal(str(invoices)) + Decimal(str(orders))
    return Money(quantize(total, account.currency), account.currency)


def check_credit(customer: Customer, order_value: Money) -> Customer:
    """Lock the billed account and refuse an order its credit does not cover."""
    account = billed_account(customer)
    lock_accounts([account.id])
    db.session.refresh(account)
    limit = Money(account.credit_limit, account.currency)
    available = limit - exposure(account)
    if order_value > available:
        raise CreditLimitExceeded(
            _l(
                "This order of %(total)s is more than the available credit of %(available)s. "
                "Pay open invoices or order less.",
                total=order_value.format(),
                available=max(available, Money.zero(account.currency)).format(),
            )
        )
    return account
