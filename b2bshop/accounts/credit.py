"""Credit exposure, computed once, for the account that is billed.

An order of a customer with an invoice account is billed to that account (SPEC A3), so the
exposure and the limit are the account's: the open invoice balance of the account and of
the customers it bills for (a free text invoice may be posted to a member directly), plus
the part of their open orders not yet invoiced, each counted once, tax included and
rounded per line as the invoices will bill it. The check runs under the account's row
lock (core/locks.py, step 2), so two orders placed at the same moment cannot both pass
the limit.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from b2bshop.accounts.models import Customer
from b2bshop.billing.models import Invoice, InvoiceStatus, signed_balance
from b2bshop.core.locks import lock_accounts
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import Money, quantize


class CreditLimitExceeded(DomainError):
    status_code = 409


def billed_account(customer: Customer) -> Customer:
    """Who the customer's invoices are billed to: its invoice account, or itself."""
    return customer.invoice_account or customer


def line_gross(unit_price: Decimal, quantity: int, tax_rate: Decimal, currency: str) -> Decimal:
    """What an invoice will bill for this line: net rounded, then its tax rounded, per line
    (as billing/service.py: build_invoice computes it)."""
    net = quantize(unit_price * quantity, currency)
    return net + quantize(net * tax_rate / 100, currency)


def exposure(account: Customer) -> Money:
    """What the account owes and has on order: open invoices of the account and of every
    customer it bills for, plus the uninvoiced remainder of their open orders."""
    from b2bshop.sales.models import OrderStatus, OrderType, SalesOrder, SalesOrderLine

    billed = or_(Customer.id == account.id, Customer.invoice_account_id == account.id)
    invoices = db.session.scalar(
        # Open credit notes lower what is owed (signed_balance: negative for them).
        select(func.coalesce(func.sum(signed_balance()), 0))
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(billed, Invoice.status != InvoiceStatus.PAID)
    )
    remaining = SalesOrderLine.quantity - SalesOrderLine.invoiced_quantity
    lines = db.session.execute(
        select(SalesOrderLine.unit_price, remaining, SalesOrderLine.tax_rate)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(
            billed,
            remaining > 0,
            SalesOrder.status.in_([OrderStatus.OPEN, OrderStatus.CONFIRMED, OrderStatus.DELIVERED]),
            # A journal is a draft, a return is a credit: neither is owed.
            SalesOrder.order_type.notin_([OrderType.JOURNAL, OrderType.RETURNED_ORDER]),
        )
    ).all()
    currency = account.currency
    orders = sum((line_gross(price, qty, rate, currency) for price, qty, rate in lines), Decimal(0))
    return Money(quantize(Decimal(str(invoices)) + orders, currency), currency)


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
