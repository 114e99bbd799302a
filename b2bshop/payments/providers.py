"""Card payment providers. The store talks to one through `CardProvider`; the sandbox ships
with the project and makes no network calls. A real provider (Stripe, Adyen, ...) plugs in
behind the same interface via the CARD_PROVIDER setting.

The store never charges before it has committed a pending payment, and it always sends that
payment's own key (Payment.provider_key): a retried charge with the same key is answered
with the first one, so a crash anywhere leaves at most one charge per payment, and
reconcile (payments/reconcile.py) can ask the provider what became of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from flask import current_app
from sqlalchemy import insert, select, update
from werkzeug.utils import import_string

from b2bshop.extensions import db


class ProviderUnavailable(Exception):
    """The provider did not answer (timeout, network, 5xx): the charge may or may not exist."""


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    #: The provider's id of the charge (shown on the receipt).
    reference: str | None = None
    #: Why it was refused: "declined", "insufficient_funds", "invalid_card".
    decline_code: str | None = None
    amount: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Charge:
    """A charge as the provider's ledger has it."""

    idempotency_key: str
    reference: str
    amount: Decimal
    currency: str
    refunded: bool


class CardProvider(Protocol):
    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str
    ) -> ChargeResult: ...

    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """What the charge made with this key became; None when no charge was attempted."""
        ...

    def succeeded_charges(self) -> list[Charge]:
        """Charges that took money and were not refunded."""
        ...

    def refund(self, reference: str) -> None: ...


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


class SandboxCardProvider:
    """Test cards (README): 4242 4242 4242 4242 approves, 4000 0000 0000 0002 is declined,
    4000 0000 0000 9995 has insufficient funds; any other valid number is declined.

    It keeps its ledger in its own table (payments.models.SandboxCharge), written on a
    connection of its own and committed at once, as a processor's ledger is: whatever the
    store's transaction does afterwards, the charge stays.
    """

    APPROVE = "4242424242424242"
    DECLINE = "4000000000000002"
    INSUFFICIENT_FUNDS = "4000000000009995"

    def _decide(self, card_number: str) -> str | None:
        number = "".join(card_number.split())
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            return "invalid_card"
        if number == self.INSUFFICIENT_FUNDS:
            return "insufficient_funds"
        if number != self.APPROVE:
            return "declined"
        return None

    @staticmethod
    def _table():  # type: ignore[no-untyped-def]
        from b2bshop.payments.models import SandboxCharge

        return SandboxCharge.__table__

    def _result(self, row) -> ChargeResult:  # type: ignore[no-untyped-def]
        return ChargeResult(
            approved=row.status != "declined",
            reference=row.reference if row.status != "declined" else None,
            decline_code=row.decline_code,
            amount=row.amount,
            currency=row.currency,
        )

    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str
    ) -> ChargeResult:
        table = self._table()
        decline = self._decide(card_number)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        with db.engine.begin() as conn:
            # Same key, same answer: a provider answers a retried charge with the first one.
            row = conn.execute(
                select(table).where(table.c.idempotency_key == idempotency_key)
            ).one_or_none()
            if row is None:
                conn.execute(
                    insert(table).values(
                        idempotency_key=idempotency_key,
                        reference=f"sandbox_{digest}",
                        amount=amount,
                        currency=currency,
                        status="declined" if decline else "succeeded",
                        decline_code=decline,
                        created_at=datetime.now(UTC).replace(tzinfo=None),
                    )
                )
                row = conn.execute(
                    select(table).where(table.c.idempotency_key == idempotency_key)
                ).one()
        return self._result(row)

    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        table = self._table()
        with db.engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.idempotency_key == idempotency_key)
            ).one_or_none()
        return None if row is None else self._result(row)

    def succeeded_charges(self) -> list[Charge]:
        table = self._table()
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(table).where(table.c.status == "succeeded").order_by(table.c.id)
            ).all()
        return [
            Charge(r.idempotency_key, r.reference, r.amount, r.currency, refunded=False)
            for r in rows
        ]

    def refund(self, reference: str) -> None:
        table = self._table()
        with db.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.reference == reference, table.c.status == "succeeded")
                .values(status="refunded", refunded_at=datetime.now(UTC).replace(tzinfo=None))
            )


def card_provider() -> CardProvider:
    provider = current_app.extensions.get("b2bshop_card_provider")
    if provider is None:
        setting = current_app.config["CARD_PROVIDER"]
        provider = import_string(setting)()
        current_app.extensions["b2bshop_card_provider"] = provider
    return provider
