"""The checkout at the edge: units of work committed one by one around the card provider.

    1. begin_invoice_payment  -> commit: the payment is pending and holds its invoices
    2. provider.charge(key)      (no transaction open; the key is the payment's own)
    3. record_charge          -> commit: completed (cart emptied) or failed

A crash between 1 and 3 leaves a pending payment; reconcile (payments/reconcile.py) asks
the provider by the key and completes it or fails it. Deadlocks are retried inside each
unit (core/unit_of_work.py), never around the charge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from b2bshop.accounts.models import User
from b2bshop.cart import service as cart_service
from b2bshop.cart.models import CartKind
from b2bshop.core import unit_of_work
from b2bshop.core.faults import crash_point
from b2bshop.payments import checkout
from b2bshop.payments.models import PaymentMethod, PaymentStatus
from b2bshop.payments.providers import ProviderUnavailable, card_provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutResult:
    kind: str  # "payment" or "order"
    number: str


def checkout_cart(
    user: User,
    method: str,
    idempotency_key: str,
    card_number: str | None = None,
    today: date | None = None,
) -> CheckoutResult:
    """Check out whatever the cart holds; raises the services' DomainErrors."""
    user_id = user.id
    cart = cart_service.get_cart(user)
    ordering = cart is not None and cart.kind == CartKind.ITEM
    if not ordering and (cart is None or not cart.lines):
        # An emptied cart: a replayed order submit finds its order by the key.
        ordering = checkout.find_order(user, idempotency_key) is not None
    if ordering:
        order = unit_of_work.run(
            lambda: checkout.place_cart_order(user, idempotency_key, method, today)
        )
        return CheckoutResult("order", order.number)
    intent = unit_of_work.run(
        lambda: checkout.begin_invoice_payment(user, method, idempotency_key, today)
    )
    if intent.method == PaymentMethod.CARD and intent.created:
        intent = _charge(user, intent, card_number or "")
    if intent.status == PaymentStatus.FAILED:
        raise checkout.PaymentDeclined(checkout.decline_message(intent.status_reason))
    log.info("checkout by user %s: %s %s", user_id, intent.number, intent.status.value)
    return CheckoutResult("payment", intent.number)


def _charge(user: User, intent: checkout.PaymentIntent, card_number: str):  # type: ignore[no-untyped-def]
    crash_point("before_charge")
    try:
        result = card_provider().charge(
            amount=intent.amount,
            currency=intent.currency,
            card_number=card_number,
            idempotency_key=intent.provider_key,
        )
    except ProviderUnavailable:
        # Unknown outcome: the payment stays pending, holding its invoices, until reconcile
        # asks the provider. The buyer sees "being confirmed", never a second charge.
        log.warning("card provider did not answer for %s; left pending", intent.number)
        return intent
    crash_point("after_charge")

    def record():  # type: ignore[no-untyped-def]
        recorded = checkout.record_charge(user, intent.payment_id, result)
        crash_point("before_outcome_commit")
        return recorded

    return unit_of_work.run(record)
