"""Reconcile: make the store's payments and the provider's charges agree.

Run by `flask --app wsgi payments reconcile` and by the periodic job (every
RECONCILE_INTERVAL seconds). Each resolution is a unit of work of its own; the provider is
asked between units, never inside one. After a run, with nothing in flight:
- every pending card payment older than CARD_PENDING_TIMEOUT is completed (the provider has
  a charge for its key) or failed (it has none, or a declined one);
- every charge that took money belongs to exactly one completed payment, or is refunded
  (its payment failed, was cancelled or never existed);
- bank transfers pending longer than BANK_TRANSFER_EXPIRY_DAYS have expired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from b2bshop.cart import service as cart_service
from b2bshop.core import unit_of_work
from b2bshop.extensions import db
from b2bshop.payments import service as settlement
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.payments.providers import ChargeResult, ProviderUnavailable, card_provider

log = logging.getLogger(__name__)
KEY_PREFIX = "b2bshop-"


@dataclass
class ReconcileReport:
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return ", ".join(f"{len(v)} {k}" for k, v in self.__dict__.items())


def _resolve_pending(payment_id: int, result: ChargeResult | None) -> str | None:
    payer = db.session.get(Payment, payment_id).user
    if payer is not None:
        cart_service.get_cart(payer, lock=True)  # step 1 of the lock order
    try:
        if result is not None and result.approved:
            payment = settlement.complete_pending(payment_id, result.reference)
            if payer is not None:
                # The checkout that would have emptied the cart died: paid invoices leave it.
                cart_service.remove_invoices(payer, [a.invoice_id for a in payment.allocations])
            return "completed"
        reason = "no charge at the provider" if result is None else (result.decline_code or "")
        settlement.release_pending(payment_id, PaymentStatus.FAILED, reason or "declined")
        return "failed"
    except settlement.PaymentStateConflict:
        return None  # the checkout recorded it meanwhile


def reconcile(now: datetime | None = None) -> ReconcileReport:
    config = current_app.config
    now = now or settlement.utcnow()
    cutoff = now - timedelta(seconds=config["CARD_PENDING_TIMEOUT"])
    provider = card_provider()
    report = ReconcileReport()

    stale = db.session.execute(
        select(Payment.id, Payment.number)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.method == PaymentMethod.CARD,
            Payment.created_at < cutoff,
        )
        .order_by(Payment.id)
    ).all()
    db.session.rollback()  # no transaction open while the provider is asked
    for payment_id, number in stale:
        try:
            result = provider.lookup(f"{KEY_PREFIX}{number}")
        except ProviderUnavailable:
            report.unanswered.append(number)
            continue
        outcome = unit_of_work.run(lambda pid=payment_id, r=result: _resolve_pending(pid, r))
        if outcome:
            getattr(report, outcome).append(number)

    try:
        charges = provider.succeeded_charges()
    except ProviderUnavailable:
        charges = []
        report.unanswered.append("charges")
    for charge in charges:
        number = charge.idempotency_key.removeprefix(KEY_PREFIX)
        payment = db.session.scalar(select(Payment).where(Payment.number == number))
        status, created_at = (payment.status, payment.created_at) if payment else (None, None)
        db.session.rollback()
        if status in (PaymentStatus.COMPLETED, PaymentStatus.REVERSED):
            continue  # matched: one payment for this charge
        if status == PaymentStatus.PENDING:
            if created_at >= cutoff:
                continue  # still in flight: its checkout records it
            outcome = unit_of_work.run(
                lambda pid=payment.id, c=charge: _resolve_pending(
                    pid, ChargeResult(True, reference=c.reference)
                )
            )
            if outcome:
                getattr(report, outcome).append(number)
            continue
        # Failed, cancelled, expired or unknown to the store: the money goes back.
        provider.refund(charge.reference)
        report.refunded.append(charge.reference)

    report.expired = unit_of_work.run(
        lambda: settlement.expire_bank_transfers(config["BANK_TRANSFER_EXPIRY_DAYS"], now)
    )
    if any((report.completed, report.failed, report.refunded, report.expired)):
        log.warning("reconcile: %s", report.summary())
    return report
