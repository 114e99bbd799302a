"""Card payment providers. The store talks to one through `CardProvider`; the sandbox ships
with the project and makes no network calls. A real provider (Stripe, Adyen, ...) plugs in
behind the same interface via the CARD_PROVIDER setting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flask import current_app
from werkzeug.utils import import_string


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    #: The provider's id of the charge (shown on the receipt), or why it was refused:
    #: "declined", "insufficient_funds", "invalid_card".
    reference: str | None = None
    decline_code: str | None = None


class CardProvider(Protocol):
    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str
    ) -> ChargeResult: ...


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
    4000 0000 0000 9995 has insufficient funds; any other valid number is declined."""

    APPROVE = "4242424242424242"
    DECLINE = "4000000000000002"
    INSUFFICIENT_FUNDS = "4000000000009995"

    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str
    ) -> ChargeResult:
        number = "".join(card_number.split())
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            return ChargeResult(False, decline_code="invalid_card")
        if number == self.INSUFFICIENT_FUNDS:
            return ChargeResult(False, decline_code="insufficient_funds")
        if number != self.APPROVE:
            return ChargeResult(False, decline_code="declined")
        # Same key, same reference: a provider answers a retried charge with the first one.
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        return ChargeResult(True, reference=f"sandbox_{digest}")


def card_provider() -> CardProvider:
    provider = current_app.extensions.get("b2bshop_card_provider")
    if provider is None:
        setting = current_app.config["CARD_PROVIDER"]
        provider = import_string(setting)()
        current_app.extensions["b2bshop_card_provider"] = provider
    return provider
