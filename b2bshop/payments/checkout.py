"""Checkout services: pay the invoices in the cart, or order the items in it on account.

Each function here is one unit of work (it flushes, the edge commits): payments/flows.py
runs them around the card provider, so the intent is committed before the card is charged
and the outcome is recorded in a transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from b2bshop.accounts.credit import CreditLimitExceeded
from b2bshop.accounts.models import User
from b2bshop.billing.models import InvoiceStatus
from b2bshop.cart import service as cart_service
from b2bshop.cart.models import CartKind
from b2bshop.cart.service import CartConflict, NotPermitted
from b2bshop.core.idempotency import fingerprint
from b2bshop.core.locks import lock_invoices
from b2bshop.errors import DomainError
from b2bshop.payments import service as settlement
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.payments.providers import ChargeResult
from b2bshop.payments.service import Allocation, IdempotencyConflict, discount_for
from b2bshop.sales import service as sales
from b2bshop.sales.models import SalesOrder

__all__ = ["CreditLimitExceeded"]

INVOICE_METHODS = (PaymentMethod.CARD.value, PaymentMethod.BANK_TRANSFER.value)
ON_ACCOUNT = "on_account"


class MethodRefused(DomainError):
    status_code = 422


class PaymentDeclined(DomainError):
    status_code = 402


DECLINE_MESSAGES = {
    "declined": _l(
        "Your card was declined. Nothing was charged; try another card or pay by bank transfer."
    ),
    "insufficient_funds": _l(
        "Your card has insufficient funds. Nothing was charged; try "
        "another card or pay by bank transfer."
    ),
    "invalid_card": _l("That card number is not valid. Check the number and try again."),
}


def decline_message(code: str | None) -> object:
    return DECLINE_MESSAGES.get(code or "", DECLINE_MESSAGES["declined"])


@dataclass(frozen=True)
class PaymentIntent:
    """A committed pending payment, in plain values: the provider is called with these
    after the commit, without touching the session (that would begin a transaction)."""

    payment_id: int
    number: str
    method: PaymentMethod
    status: PaymentStatus
    amount: Decimal
    currency: str
    provider_key: str
    status_reason: str | None
    #: False when the key found an earlier payment: it is not charged again.
    created: bool

    @classmethod
    def of(cls, payment: Payment, created: bool) -> PaymentIntent:
        return cls(
            payment.id,
            payment.number,
            payment.method,
            payment.status,
            payment.amount,
            payment.currency,
            payment.provider_key,
            payment.status_reason,
            created,
        )


def _key_conflict(number: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        _l(
            "This checkout form was already used for %(number)s, and your cart has changed "
            "since. Review your cart and check out again.",
            number=number,
        )
    )


def begin_invoice_payment(
    user: User, method: str, idempotency_key: str, today: date | None = None
) -> PaymentIntent:
    """Unit 1: check the cart against the invoices and record the payment as pending.

    Locks (core/locks.py): the cart first (a double submit waits here and then finds the
    first payment by its key), then the invoices' accounts and the invoices, then the
    payment number. A pending payment holds what it will settle, so nobody pays the same
    balance twice while the card is charged or the transfer is on its way.
    """
    today = today or date.today()
    if not user.may_pay_invoices:
        raise NotPermitted(_l("Your user may not pay invoices."))
    if method == ON_ACCOUNT:
        raise MethodRefused(
            _l("Invoices cannot be paid on account. Pay by card or by bank transfer.")
        )
    if method not in INVOICE_METHODS:
        raise MethodRefused(_l("Choose how to pay: by card or by bank transfer."))
    cart = cart_service.get_cart(user, lock=True)
    lines = list(cart.lines) if cart is not None and cart.kind == CartKind.INVOICE else []
    request = fingerprint(method, sorted((line.invoice_id, str(line.amount)) for line in lines))
    existing = settlement.find_by_key(user, idempotency_key)
    if existing is not None:
        # The same submit again (double click, back button): its payment, unless the cart
        # now holds something else, which this key never paid.
        if lines and existing.request_fingerprint != request:
            raise _key_conflict(existing.number)
        return PaymentIntent.of(existing, created=False)
    if not lines:
        raise CartConflict(_l("Your cart has no invoices to pay."))
    order = find_order(user, idempotency_key)
    if order is not None:
        raise _key_conflict(order.number)  # one key, one request: it placed an order
    invoices = lock_invoices(line.invoice_id for line in lines)
    allocations = []
    for line in lines:
        invoice = invoices[line.invoice_id]
        if invoice.status == InvoiceStatus.PAID:
            raise CartConflict(
                _l(
                    "Invoice %(number)s has been paid in the meantime. Remove it from the cart.",
                    number=invoice.number,
                )
            )
        if line.amount > invoice.payable_amount(today):
            if invoice.amount_reserved:
                raise settlement.pending_refusal(invoice)
            raise CartConflict(
                _l(
                    "The balance of invoice %(number)s has changed. Check the amount in your cart.",
                    number=invoice.number,
                )
            )
        allocations.append(
            Allocation(invoice.id, line.amount, discount_for(invoice, line.amount, today))
        )
    payment = settlement.create_payment(
        user,
        user.customer,
        allocations,
        PaymentMethod(method),
        status=PaymentStatus.PENDING,
        idempotency_key=idempotency_key,
        request_fingerprint=request,
    )
    if payment.method == PaymentMethod.BANK_TRANSFER:
        # The transfer is on its way: the cart's work is done, the payment holds the rest.
        cart_service.empty_cart(user)
    return PaymentIntent.of(payment, created=True)


def record_charge(user: User, payment_id: int, result: ChargeResult) -> PaymentIntent:
    """Unit 3: what the provider answered, in a transaction of its own. Cart first, then
    the payment (lock order). If reconcile resolved it meanwhile, its outcome stands."""
    cart_service.get_cart(user, lock=True)
    try:
        if result.approved:
            payment = settlement.complete_pending(payment_id, result.reference)
            cart_service.empty_cart(user)
        else:
            payment = settlement.release_pending(
                payment_id, PaymentStatus.FAILED, result.decline_code or "declined"
            )
    except settlement.PaymentStateConflict:
        payment = settlement.find_payment_by_id(payment_id)
    return PaymentIntent.of(payment, created=False)


def find_order(user: User, idempotency_key: str) -> SalesOrder | None:
    return sales.find_order_by_key(user, idempotency_key)


def place_cart_order(
    user: User, idempotency_key: str, method: str = ON_ACCOUNT, today: date | None = None
) -> SalesOrder:
    """Order the cart's items on account (customer credit, SPEC A1), through the one
    order-placement service; a storefront order is confirmed as it is placed."""
    if not user.may_order:
        raise NotPermitted(_l("Your user may not place orders."))
    if method != ON_ACCOUNT:
        raise MethodRefused(_l("Items are bought on account, on your payment terms."))
    cart = cart_service.get_cart(user, lock=True)
    lines = list(cart.lines) if cart is not None and cart.kind == CartKind.ITEM else []
    if not lines:
        existing = find_order(user, idempotency_key)
        if existing is not None:
            return existing  # the same submit again, after the cart was emptied
        raise CartConflict(_l("Your cart has no items to order."))
    payment = settlement.find_by_key(user, idempotency_key)
    if payment is not None:
        raise _key_conflict(payment.number)  # one key, one request: it paid invoices
    order = sales.place_order(
        user,
        user.customer,
        [sales.OrderLineInput(line.product_id, line.quantity) for line in lines],
        today=today,
        idempotency_key=idempotency_key,
        confirm=True,
        requested_ship_date=cart.requested_ship_date,
    )
    cart_service.empty_cart(user)
    return order
