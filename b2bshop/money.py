"""Money is Decimal, rounded half-up once, to the currency's minor unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision
from flask_babel import get_locale
from sqlalchemy import Numeric

#: Column type for every amount: 18 digits, 2 decimals; a `currency` column stands beside it.
MONEY = Numeric(18, 2, asdecimal=True)

ZERO = Decimal("0.00")


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize(amount: Decimal, currency: str = "EUR") -> Decimal:
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def parse_amount(text: str | None, currency: str) -> Decimal | None:
    """A user-typed amount as Decimal, or None when it is not a number with at most the
    currency's decimals. Accepts a decimal comma ("12,50") as typed in fr, nb and nl."""
    if text is None:
        return None
    cleaned = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
        # "12.500" is fine, "12.505" has more decimals than the currency has.
        if not value.is_finite() or value != value.quantize(minor_unit(currency)):
            return None
    except InvalidOperation:
        return None
    return value


def allocate(total: Decimal, weights: list[Decimal], currency: str = "EUR") -> list[Decimal]:
    """Split total in proportion to weights; the rounding remainder goes to the largest share,
    so the parts always add up to the total exactly."""
    if not weights:
        return []
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        return [quantize(Decimal(0), currency) for _ in weights]
    parts = [quantize(total * w / weight_sum, currency) for w in weights]
    remainder = quantize(total, currency) - sum(parts, Decimal(0))
    if remainder:
        biggest = max(range(len(weights)), key=lambda i: weights[i])
        parts[biggest] += remainder
    return parts


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return format_currency(amount, currency, locale=str(get_locale() or "en"))
