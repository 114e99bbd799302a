"""Settlement: the one place where money is applied to invoices.

The storefront checkout, the admin's manual payments and bank-transfer confirmations all
come through here, so an invoice's amount paid and status are maintained in one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
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


def _settlement_snapshot(payment: Payment) -> dict[str, object]:
    return {
        "status": payment.status.value,
        "invoices": {a.invoice.number: str(a.invoice.amount_paid) for a in payment.allocations},
    }


def confirm_bank_transfer(acting_user: User, payment: Payment) -> Payment:
    """confirm_payment(), recorded in the audit log."""
    before = _settlement_snapshot(payment)
    confirm_payment(acting_user, payment)
    audit.record(
        acting_user,
        "payment.confirm",
        "payment",
        payment.number,
        before,
        _settlement_snapshot(payment),
    )
    return payment


def record_manual_payment(
    acting_user: User,
    customer: Customer,
    allocations: list[Allocation],
    reference: str,
    idempotency_key: str | None = None,
) -> Payment:
    """Money seen on the bank statement (a wire, a cheque), allocated by a store admin to the
    customer's invoices. No cash discount: the admin allocates what arrived. A resubmitted
    form (same key) gets the first payment back."""
    if idempotency_key:
        existing = db.session.scalar(
            select(Payment).where(Payment.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing
    if not allocations:
        raise AmountInvalid(_l("Allocate the payment to at least one invoice."))
    owned = set(
        db.session.scalars(
            select(Invoice.id).where(
                Invoice.id.in_([a.invoice_id for a in allocations]),
                Invoice.customer_id == customer.id,
            )
        )
    )
    if any(a.invoice_id not in owned for a in allocations):
        raise AmountInvalid(_l("Allocate only to this customer's invoices."))
    if len(owned) != len(allocations):
        raise AmountInvalid(_l("Allocate to each invoice once."))
    for a in allocations:
        if a.amount != quantize(a.amount, customer.currency):
            raise AmountInvalid(_l("Amounts are in whole cents."))
    payment = record_payment(
        acting_user,
        customer,
        allocations,
        PaymentMethod.MANUAL,
        provider_reference=reference.strip() or None,
        idempotency_key=idempotency_key,
    )
    audit.record(
        acting_user,
        "payment.record",
        "payment",
        payment.number,
        after={"amount": payment.amount, "reference": reference, **_settlement_snapshot(payment)},
    )
    return payment


class PaymentNotReversible(DomainError):
    status_code = 409


def reverse_payment(acting_user: User, payment: Payment, reason: str) -> Payment:
    """Undo a completed payment: its invoices are unsettled by what it settled (money and
    cash discount), and the audit log keeps who, when, why and the amounts before and after.
    """
    if payment.status != PaymentStatus.COMPLETED:
        raise PaymentNotReversible(
            _l(
                "Only a completed payment can be reversed; %(number)s is not.",
                number=payment.number,
            )
        )
    if not reason.strip():
        raise AmountInvalid(_l("Give a reason for the reversal."))
    invoices = lock_invoices([a.invoice_id for a in payment.allocations])
    before = _settlement_snapshot(payment)
    for allocation in payment.allocations:
        invoice = invoices[allocation.invoice_id]
        invoice.amount_paid -= allocation.amount + allocation.discount_amount
        invoice.status = status_for(invoice.total, invoice.amount_paid)
    payment.status = PaymentStatus.REVERSED
    payment.reversed_at = datetime.now(UTC).replace(tzinfo=None)
    after = _settlement_snapshot(payment)
    audit.record(
        acting_user,
        "payment.reverse",
        "payment",
        payment.number,
        {**before, "reason": None},
        {**after, "reason": reason.strip()},
    )
    db.session.flush()
    return payment
