"""Settlement: the one place where money is applied to invoices.

The storefront checkout, the admin's manual payments and bank-transfer confirmations all
come through here, so an invoice's amount paid and status are maintained in one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.billing.models import Invoice, InvoiceStatus, status_for
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import quantize
from b2bshop.numbering import next_number
from b2bshop.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)


class AmountTooLarge(DomainError):
    pass


class AmountInvalid(DomainError):
    pass


class InvoiceAlreadyPaid(DomainError):
    status_code = 409


@dataclass(frozen=True)
class Allocation:
    invoice_id: int
    amount: Decimal
    discount: Decimal = Decimal(0)


def lock_invoices(invoice_ids: list[int]) -> dict[int, Invoice]:
    """Lock the invoices a payment touches, always in id order, so two payments that
    share invoices cannot deadlock each other."""
    rows = db.session.scalars(
        select(Invoice)
        .where(Invoice.id.in_(sorted(set(invoice_ids))))
        .order_by(Invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {invoice.id: invoice for invoice in rows}


def apply_allocations(payment: Payment, allocations: list[Allocation]) -> None:
    """Settle each invoice by its allocation (money plus cash discount), under row locks."""
    invoices = lock_invoices([a.invoice_id for a in allocations])
    for allocation in allocations:
        invoice = invoices.get(allocation.invoice_id)
        if invoice is None:
            raise AmountInvalid(_l("This invoice cannot be paid here."))
        if invoice.currency != payment.currency:
            raise AmountInvalid(_l("This invoice is in another currency."))
        if allocation.amount <= 0 or allocation.discount < 0:
            raise AmountInvalid(_l("The amount must be greater than zero."))
        if invoice.status == InvoiceStatus.PAID:
            raise InvoiceAlreadyPaid(
                _l("Invoice %(number)s is already paid.", number=invoice.number)
            )
        settled = allocation.amount + allocation.discount
        if settled > invoice.balance:
            raise AmountTooLarge(
                _l(
                    "The amount is more than the balance of invoice %(number)s.",
                    number=invoice.number,
                )
            )
        invoice.amount_paid += settled
        invoice.status = status_for(invoice.total, invoice.amount_paid)
        payment.allocations.append(
            PaymentAllocation(
                invoice_id=invoice.id, amount=allocation.amount, discount_amount=allocation.discount
            )
        )
    db.session.flush()


def discount_for(invoice: Invoice, amount: Decimal, today: date) -> Decimal:
    """Cash discount earned by paying `amount` on the invoice today (README, "Cash discount"):
    in proportion to the amount, so paying the whole payable amount earns all of it."""
    available = invoice.cash_discount_available(today)
    if not available:
        return Decimal(0)
    payable = invoice.balance - available
    discount = quantize(available * amount / payable, invoice.currency)
    return min(discount, invoice.balance - amount, available)


def record_payment(
    acting_user: User | None,
    customer: Customer,
    allocations: list[Allocation],
    method: PaymentMethod,
    *,
    status: PaymentStatus = PaymentStatus.COMPLETED,
    idempotency_key: str | None = None,
    provider_reference: str | None = None,
) -> Payment:
    """Record a payment and, when it is completed, settle its invoices in this transaction."""
    amount = sum((a.amount for a in allocations), Decimal(0))
    if amount <= 0:
        raise AmountInvalid(_l("The amount must be greater than zero."))
    payment = Payment(
        number=next_number("payment"),
        customer=customer,
        user=acting_user,
        method=method,
        status=status,
        amount=amount,
        currency=customer.currency,
        idempotency_key=idempotency_key,
        provider_reference=provider_reference,
    )
    db.session.add(payment)
    if status == PaymentStatus.COMPLETED:
        apply_allocations(payment, allocations)
    else:
        # Pending (a bank transfer on its way): remembered, applied when confirmed.
        payment.allocations = [
            PaymentAllocation(invoice_id=a.invoice_id, amount=a.amount, discount_amount=a.discount)
            for a in allocations
        ]
    db.session.flush()
    return payment


class PaymentNotPending(DomainError):
    status_code = 409


def confirm_payment(acting_user: User | None, payment: Payment) -> Payment:
    """A store admin saw the money arrive: settle the pending payment's invoices now."""
    if payment.status != PaymentStatus.PENDING:
        raise PaymentNotPending(_l("Payment %(number)s is not pending.", number=payment.number))
    planned = [Allocation(a.invoice_id, a.amount, a.discount_amount) for a in payment.allocations]
    payment.allocations.clear()
    db.session.flush()
    payment.status = PaymentStatus.COMPLETED
    apply_allocations(payment, planned)
    return payment
