"""Settlement: the one place where money is applied to invoices.

The storefront checkout, the admin's manual payments, bank-transfer confirmations,
cancellations, expiry, reversals and reconcile all come through here, so an invoice's
amount paid, amount reserved and status are maintained in one way.

A payment's life (PaymentStatus): it is recorded *pending* before any money moves, holding
its invoices' balance (Invoice.amount_reserved); it becomes *completed* (the hold turns into
amount paid), or *failed*, *cancelled* or *expired* (the hold is released); a completed one
may be *reversed*. Every transition locks the payment row and re-reads its status first
(core/locks.py gives the order), so N simultaneous requests make one effect and the others
get PaymentStateConflict (409).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.billing.models import Invoice, InvoiceStatus, is_invoice, status_for
from b2bshop.core.idempotency import fingerprint
from b2bshop.core.locks import lock_accounts, lock_invoices, lock_payment
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import Money, format_money, quantize
from b2bshop.numbering import next_number
from b2bshop.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)

#: How far back a manual payment's date received may go: a typo ("2016" for "2026") is
#: refused, a late bank statement is not.
MANUAL_PAYMENT_MAX_AGE_DAYS = 366


class AmountTooLarge(DomainError):
    pass


class AmountInvalid(DomainError):
    pass


class InvoiceAlreadyPaid(DomainError):
    status_code = 409


class PaymentStateConflict(DomainError):
    """The payment is no longer in the state the request expected (someone was quicker)."""

    status_code = 409


# Older names, kept for callers and tests that say what they refuse.
PaymentNotPending = PaymentStateConflict
PaymentNotReversible = PaymentStateConflict


class IdempotencyConflict(DomainError):
    """The same idempotency key came back with another request (Stripe answers 409 too)."""

    status_code = 409


@dataclass(frozen=True)
class Allocation:
    invoice_id: int
    amount: Decimal
    discount: Decimal = Decimal(0)

    @property
    def settles(self) -> Decimal:
        return self.amount + self.discount


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def discount_for(invoice: Invoice, amount: Decimal, today: date) -> Decimal:
    """Cash discount earned by paying `amount` on the invoice today (README, "Cash discount"):
    in proportion to the amount, so paying the whole payable amount earns all of it."""
    available = invoice.cash_discount_available(today)
    if not available:
        return Decimal(0)
    payable = invoice.unreserved_balance - available
    discount = quantize(available * amount / payable, invoice.currency)
    return min(discount, invoice.unreserved_balance - amount, available)


def pending_refusal(invoice: Invoice) -> DomainError:
    """Why a new payment cannot take more of this invoice, naming a pending one if any."""
    if invoice.amount_reserved and invoice.unreserved_balance <= 0:
        return InvoiceAlreadyPaid(
            _l(
                "A payment of %(amount)s for invoice %(number)s is pending. It is not paid "
                "again while that payment is on its way.",
                amount=format_money(invoice.amount_reserved, invoice.currency),
                number=invoice.number,
            )
        )
    return AmountTooLarge(
        _l(
            "The amount is more than the open balance of invoice %(number)s: at most %(max)s.",
            number=invoice.number,
            max=format_money(max(invoice.unreserved_balance, Decimal(0)), invoice.currency),
        )
    )


def _hold(invoice: Invoice, settles: Decimal, since: datetime) -> None:
    invoice.amount_reserved += settles
    if invoice.reserved_since is None or since < invoice.reserved_since:
        invoice.reserved_since = since


def _release(invoices: Iterable[Invoice], payment: Payment) -> None:
    """Give back what `payment` held; its status has already left pending."""
    for allocation in payment.allocations:
        invoice = next(i for i in invoices if i.id == allocation.invoice_id)
        invoice.amount_reserved -= allocation.amount + allocation.discount_amount
    db.session.flush()
    for invoice in invoices:
        _refresh_reserved_since(invoice)


def _refresh_reserved_since(invoice: Invoice) -> None:
    if not invoice.amount_reserved:
        invoice.reserved_since = None
        return
    invoice.reserved_since = db.session.scalar(
        select(func.min(Payment.created_at))
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.invoice_id == invoice.id,
            Payment.status == PaymentStatus.PENDING,
        )
    )


def _settle(invoice: Invoice, settles: Decimal) -> None:
    invoice.amount_paid += settles
    invoice.status = status_for(invoice.total, invoice.amount_paid)


def create_payment(
    acting_user: User | None,
    customer: Customer,
    allocations: list[Allocation],
    method: PaymentMethod,
    *,
    status: PaymentStatus = PaymentStatus.COMPLETED,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    provider_reference: str | None = None,
) -> Payment:
    """Record a payment: completed settles its invoices now, pending holds their balance.

    Locks the invoices (and their accounts) first and takes the payment number last
    (core/locks.py). Each allocation must fit what no other pending payment holds.
    """
    if status not in (PaymentStatus.COMPLETED, PaymentStatus.PENDING):
        raise ValueError(status)
    if not allocations:
        raise AmountInvalid(_l("Allocate the payment to at least one invoice."))
    currency = customer.currency
    invoices = lock_invoices(a.invoice_id for a in allocations)
    now = utcnow()
    for allocation in allocations:
        invoice = invoices.get(allocation.invoice_id)
        if invoice is None:
            raise AmountInvalid(_l("This invoice cannot be paid here."))
        if invoice.credit_note:
            raise AmountInvalid(
                _l("%(number)s is a credit note: it is not paid.", number=invoice.number)
            )
        if invoice.currency != currency:
            raise AmountInvalid(
                _l(
                    "Invoice %(number)s is in %(currency)s; this payment is not.",
                    number=invoice.number,
                    currency=invoice.currency,
                )
            )
        if allocation.amount <= 0 or allocation.discount < 0:
            raise AmountInvalid(_l("The amount must be greater than zero."))
        if allocation.amount != quantize(allocation.amount, currency):
            raise AmountInvalid(_l("Amounts are in whole cents."))
        if invoice.status == InvoiceStatus.PAID:
            raise InvoiceAlreadyPaid(
                _l("Invoice %(number)s is already paid.", number=invoice.number)
            )
        if allocation.settles > invoice.unreserved_balance:
            raise pending_refusal(invoice)
        if status == PaymentStatus.COMPLETED:
            _settle(invoice, allocation.settles)
        else:
            _hold(invoice, allocation.settles, now)
    amount = sum((a.amount for a in allocations), Decimal(0))
    payment = Payment(
        number=next_number("payment", customer.legal_entity_id),
        customer=customer,
        user=acting_user,
        method=method,
        status=status,
        amount=amount,
        currency=currency,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        provider_reference=provider_reference,
        created_at=now,
        resolved_at=now if status == PaymentStatus.COMPLETED else None,
        allocations=[
            PaymentAllocation(invoice_id=a.invoice_id, amount=a.amount, discount_amount=a.discount)
            for a in allocations
        ],
    )
    db.session.add(payment)
    db.session.flush()
    return payment


#: The older name, kept for the demo data and tests.
record_payment = create_payment


def _locked(payment: Payment | int) -> Payment:
    payment_id = payment if isinstance(payment, int) else payment.id
    locked = lock_payment(payment_id)
    if locked is None:
        raise AmountInvalid(_l("There is no such payment."))
    return locked


def _expect(payment: Payment, status: PaymentStatus, method: PaymentMethod | None = None) -> None:
    """The guard of a transition: refused (409) unless the payment is still in `status`."""
    if payment.method != (method or payment.method):
        raise PaymentStateConflict(
            _l("Payment %(number)s is not a bank transfer.", number=payment.number)
        )
    if payment.status != status:
        raise PaymentStateConflict(
            _l(
                "Payment %(number)s is not %(expected)s: it is %(status)s now, so nothing "
                "was changed.",
                number=payment.number,
                expected=status_label(status),
                status=status_label(payment.status),
            )
        )


def status_label(status: PaymentStatus) -> object:
    return {
        PaymentStatus.PENDING: _l("pending"),
        PaymentStatus.COMPLETED: _l("completed"),
        PaymentStatus.FAILED: _l("failed"),
        PaymentStatus.REVERSED: _l("reversed"),
        PaymentStatus.CANCELLED: _l("cancelled"),
        PaymentStatus.EXPIRED: _l("expired"),
    }[status]


def complete_pending(payment: Payment | int, provider_reference: str | None = None) -> Payment:
    """pending -> completed: what the payment held becomes paid on each invoice."""
    payment = _locked(payment)
    _expect(payment, PaymentStatus.PENDING)
    invoices = lock_invoices(a.invoice_id for a in payment.allocations)
    for allocation in payment.allocations:
        invoice = invoices[allocation.invoice_id]
        settles = allocation.amount + allocation.discount_amount
        invoice.amount_reserved -= settles
        _settle(invoice, settles)
    payment.status = PaymentStatus.COMPLETED
    payment.resolved_at = utcnow()
    if provider_reference:
        payment.provider_reference = provider_reference
    db.session.flush()
    for invoice in invoices.values():
        _refresh_reserved_since(invoice)
    db.session.flush()
    return payment


def release_pending(payment: Payment | int, status: PaymentStatus, reason: str) -> Payment:
    """pending -> failed | cancelled | expired: the invoices' hold is given back."""
    if status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED):
        raise ValueError(status)
    payment = _locked(payment)
    _expect(payment, PaymentStatus.PENDING)
    invoices = lock_invoices(a.invoice_id for a in payment.allocations)
    payment.status = status
    payment.resolved_at = utcnow()
    payment.status_reason = reason[:500]
    db.session.flush()
    _release(invoices.values(), payment)
    db.session.flush()
    return payment


def _settlement_snapshot(payment: Payment) -> dict[str, object]:
    return {
        "status": payment.status.value,
        "invoices": {a.invoice.number: str(a.invoice.amount_paid) for a in payment.allocations},
    }


def confirm_bank_transfer(acting_user: User, payment: Payment | int) -> Payment:
    """A store admin saw the money arrive: pending transfer -> completed, audited."""
    payment = _locked(payment)
    _expect(payment, PaymentStatus.PENDING, method=PaymentMethod.BANK_TRANSFER)
    before = _settlement_snapshot(payment)
    complete_pending(payment)
    audit.record(
        acting_user, "payment.confirm", "payment", payment.number, before,
        _settlement_snapshot(payment),
    )  # fmt: skip
    return payment


def confirm_payment(acting_user: User | None, payment: Payment | int) -> Payment:
    """complete_pending() of a transfer without an audit entry (tests and scripts)."""
    return complete_pending(payment)


def cancel_bank_transfer(acting_user: User, payment: Payment | int, reason: str) -> Payment:
    """A store admin knows the transfer will not come: pending -> cancelled, audited."""
    if not (reason or "").strip():
        raise AmountInvalid(_l("Give a reason for the cancellation."))
    payment = _locked(payment)
    _expect(payment, PaymentStatus.PENDING, method=PaymentMethod.BANK_TRANSFER)
    release_pending(payment, PaymentStatus.CANCELLED, reason.strip())
    audit.record(
        acting_user,
        "payment.cancel",
        "payment",
        payment.number,
        {"status": PaymentStatus.PENDING.value, "reason": None},
        {"status": payment.status.value, "reason": reason.strip()},
    )
    return payment


def expire_bank_transfers(days: int, now: datetime | None = None) -> list[str]:
    """Pending transfers older than `days` expire (the cron): the numbers that did."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    candidates = db.session.scalars(
        select(Payment.id)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.method == PaymentMethod.BANK_TRANSFER,
            Payment.created_at < cutoff,
        )
        .order_by(Payment.id)
    ).all()
    expired = []
    for payment_id in candidates:
        payment = _locked(payment_id)
        if payment.status != PaymentStatus.PENDING:
            continue  # confirmed or cancelled meanwhile
        release_pending(payment, PaymentStatus.EXPIRED, f"no money after {days} days")
        audit.record(
            None,
            "payment.expire",
            "payment",
            payment.number,
            {"status": PaymentStatus.PENDING.value},
            {"status": payment.status.value},
        )
        expired.append(payment.number)
    return expired


def find_by_key(user: User, idempotency_key: str) -> Payment | None:
    """The payment this user's key made, if any: keys are scoped to their user."""
    return db.session.scalar(
        select(Payment).where(
            Payment.user_id == user.id, Payment.idempotency_key == idempotency_key
        )
    )


def record_manual_payment(
    acting_user: User,
    customer: Customer,
    allocations: list[Allocation],
    reference: str,
    idempotency_key: str | None = None,
    *,
    received_on: date | None = None,
    total: Money | None = None,
    today: date | None = None,
) -> Payment:
    """Money seen on the bank statement (a wire, a cheque), allocated by a store admin to the
    customer's invoices. No cash discount: the admin allocates what arrived. A resubmitted
    form (same key) gets the first payment back; the same key with another request is refused.

    `received_on` is the statement's day (today if not given). `total` is the amount on the
    statement: with allocations it is a control sum they must add up to, so a mistyped
    amount is caught before it settles anything; without, it is allocated to the open
    invoices, oldest due date first. Never more than is open: there is no payment on account.
    """
    today = today or date.today()
    received_on = received_on or today
    if received_on > today:
        raise AmountInvalid(_l("The date received cannot be after today."))
    if received_on < today - timedelta(days=MANUAL_PAYMENT_MAX_AGE_DAYS):
        raise AmountInvalid(
            _l(
                "Enter a date received within the last %(days)s days.",
                days=MANUAL_PAYMENT_MAX_AGE_DAYS,
            )
        )
    if total is not None and total.currency != customer.currency:
        raise AmountInvalid(
            _l(
                "%(name)s pays in %(currency)s: enter the total received in %(currency)s.",
                name=customer.name,
                currency=customer.currency,
            )
        )
    if not allocations and total is None:
        raise AmountInvalid(_l("Allocate the payment to at least one invoice."))
    if allocations:
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
        if total is not None:
            _check_control_total(allocations, total)
        # Locked before the key is looked up: a double submit waits here, then finds the first.
        lock_invoices(owned)
        request = fingerprint(
            "manual",
            customer.id,
            sorted((a.invoice_id, str(a.amount)) for a in allocations),
            received_on.isoformat(),
        )
    else:
        # Which invoices a total pays depends on what is open now: the account's row is
        # the lock a double submit waits on (core/locks.py, step 2), before the key lookup.
        lock_accounts([customer.id])
        request = fingerprint("manual-total", customer.id, str(total.amount), received_on)
    if idempotency_key:
        existing = find_by_key(acting_user, idempotency_key)
        if existing is not None:
            if existing.request_fingerprint != request:
                raise IdempotencyConflict(
                    _l(
                        "This form was already used to record payment %(number)s with other "
                        "amounts. Reload the page to record another payment.",
                        number=existing.number,
                    )
                )
            return existing
    if not allocations:
        allocations = oldest_first(customer, total)
    payment = create_payment(
        acting_user,
        customer,
        allocations,
        PaymentMethod.MANUAL,
        provider_reference=reference.strip() or None,
        idempotency_key=idempotency_key,
        request_fingerprint=request,
    )
    payment.received_on = received_on
    audit.record(
        acting_user,
        "payment.record",
        "payment",
        payment.number,
        after={
            "amount": payment.amount,
            "reference": reference,
            "received_on": received_on.isoformat(),
            **_settlement_snapshot(payment),
        },
    )
    return payment


def _check_control_total(allocations: list[Allocation], total: Money) -> None:
    allocated = sum((a.amount for a in allocations), Decimal(0))
    if allocated != total.amount:
        raise AmountInvalid(
            _l(
                "The amounts allocated add up to %(allocated)s, not the %(total)s received. "
                "Correct the amounts or the total.",
                allocated=format_money(allocated, total.currency),
                total=format_money(total.amount, total.currency),
            )
        )


def oldest_first(customer: Customer, total: Money) -> list[Allocation]:
    """A total split over the customer's open invoices, oldest due date first; what pending
    payments hold is not open. More than is open is refused (no payment on account)."""
    open_invoices = db.session.scalars(
        select(Invoice)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.status != InvoiceStatus.PAID,
            is_invoice(),
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    left, allocations = total.amount, []
    for invoice in open_invoices:
        if left <= 0:
            break
        share = min(left, invoice.unreserved_balance)
        if share > 0:
            allocations.append(Allocation(invoice.id, share))
            left -= share
    if left > 0:
        raise AmountInvalid(
            _l(
                "%(total)s is more than the %(open)s open on %(name)s's invoices. Record only "
                "what pays invoices: a store does not keep money on account.",
                total=format_money(total.amount, total.currency),
                open=format_money(total.amount - left, total.currency),
                name=customer.name,
            )
        )
    return allocations


def reverse_payment(acting_user: User, payment: Payment | int, reason: str) -> Payment:
    """completed -> reversed: its invoices are unsettled by what it settled (money and cash
    discount), and the audit log keeps who, when, why and the amounts before and after.
    Locked first, so simultaneous reversals make one."""
    if not (reason or "").strip():
        raise AmountInvalid(_l("Give a reason for the reversal."))
    payment = _locked(payment)
    _expect(payment, PaymentStatus.COMPLETED)
    credit_note_ids = [payment.credit_note_id] if payment.credit_note_id else []
    invoices = lock_invoices([*(a.invoice_id for a in payment.allocations), *credit_note_ids])
    before = _settlement_snapshot(payment)
    for allocation in payment.allocations:
        invoice = invoices[allocation.invoice_id]
        invoice.amount_paid -= allocation.amount + allocation.discount_amount
        invoice.status = status_for(invoice.total, invoice.amount_paid)
    for note_id in credit_note_ids:
        # The credit it applied is open again on the credit note.
        note = invoices[note_id]
        note.amount_paid -= payment.amount
        note.status = status_for(note.total, note.amount_paid)
    payment.status = PaymentStatus.REVERSED
    payment.reversed_at = utcnow()
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


def pending_payments(invoice: Invoice) -> list[tuple[Payment, PaymentAllocation]]:
    """The pending payments holding part of an invoice, oldest first."""
    return [
        (payment, allocation)
        for payment, allocation in db.session.execute(
            select(Payment, PaymentAllocation)
            .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(
                PaymentAllocation.invoice_id == invoice.id,
                Payment.status == PaymentStatus.PENDING,
            )
            .order_by(Payment.created_at, Payment.id)
        )
    ]


def find_payment_by_id(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if payment is None:
        raise AmountInvalid(_l("There is no such payment."))
    return payment


def settle_credit_note(
    acting_user: User | None, credit_note: Invoice | int, allocations: list[Allocation]
) -> Payment:
    """Apply a credit note's open credit to open invoices of the same account: each invoice
    is settled by its allocation, the credit note by their sum, and a completed payment of
    method credit_note (its number from the payment sequence) records it, audited.

    Locks (core/locks.py): the account, then the credit note and the invoices in id order;
    the credit left is re-read under the lock, so two simultaneous settlements of one
    credit note apply it once and the other is refused (409)."""
    note_id = credit_note if isinstance(credit_note, int) else credit_note.id
    if not allocations:
        raise AmountInvalid(_l("Allocate the credit to at least one invoice."))
    if len({a.invoice_id for a in allocations}) != len(allocations):
        raise AmountInvalid(_l("Allocate to each invoice once."))
    invoices = lock_invoices([note_id, *(a.invoice_id for a in allocations)])
    note = invoices.get(note_id)
    if note is None or not note.credit_note:
        raise AmountInvalid(_l("There is no such credit note."))
    before = {"credit_used": str(note.amount_paid)}
    credit_left = note.total - note.amount_paid
    total = sum((a.amount for a in allocations), Decimal(0))
    if credit_left <= 0:
        raise PaymentStateConflict(
            _l("Credit note %(number)s is used up: nothing was changed.", number=note.number)
        )
    if total > credit_left:
        raise AmountTooLarge(
            _l(
                "Credit note %(number)s has %(amount)s of credit left.",
                number=note.number,
                amount=format_money(credit_left, note.currency),
            )
        )
    for allocation in allocations:
        invoice = invoices.get(allocation.invoice_id)
        if (
            invoice is None
            or invoice.credit_note
            or invoice.customer_id != note.customer_id
            or invoice.currency != note.currency
        ):
            raise AmountInvalid(_l("A credit note settles only open invoices of its own account."))
        if allocation.amount <= 0 or allocation.discount:
            raise AmountInvalid(_l("The amount must be greater than zero."))
        if allocation.amount != quantize(allocation.amount, note.currency):
            raise AmountInvalid(_l("Amounts are in whole cents."))
        if invoice.status == InvoiceStatus.PAID:
            raise InvoiceAlreadyPaid(
                _l("Invoice %(number)s is already paid.", number=invoice.number)
            )
        if allocation.amount > invoice.unreserved_balance:
            raise pending_refusal(invoice)
        before[invoice.number] = str(invoice.amount_paid)
        _settle(invoice, allocation.amount)
    _settle(note, total)
    now = utcnow()
    payment = Payment(
        number=next_number("payment", note.legal_entity_id),
        customer_id=note.customer_id,
        user=acting_user,
        method=PaymentMethod.CREDIT_NOTE,
        status=PaymentStatus.COMPLETED,
        amount=total,
        currency=note.currency,
        credit_note_id=note.id,
        provider_reference=note.number,
        created_at=now,
        resolved_at=now,
        allocations=[
            PaymentAllocation(invoice_id=a.invoice_id, amount=a.amount, discount_amount=0)
            for a in allocations
        ],
    )
    db.session.add(payment)
    db.session.flush()
    after = {"credit_used": str(note.amount_paid), "payment": payment.number}
    after.update(
        {
            invoices[a.invoice_id].number: str(invoices[a.invoice_id].amount_paid)
            for a in allocations
        }
    )
    audit.record(acting_user, "credit_note.settle", "invoice", note.number, before, after)
    return payment
