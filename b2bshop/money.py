"""Money is Decimal, rounded half-up once, to the currency's minor unit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)
from flask_babel import get_locale
from sqlalchemy import Numeric

#: Column type for every amount: 18 digits, 2 decimals; a `currency` column stands beside it.
MONEY = Numeric(18, 2, asdecimal=True)

ZERO = Decimal("0.00")


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies met in one sum or comparison."""


@dataclass(frozen=True, slots=True)
class Money:
    """An amount and its currency, travelling together: adding or comparing two currencies
    raises instead of producing a number that means nothing."""

    amount: Decimal
    currency: str

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(quantize(Decimal(0), currency), currency)

    @classmethod
    def total(cls, values: Iterable[Money], currency: str) -> Money:
        """The sum of `values`, all in `currency` (zero when there are none)."""
        result = cls.zero(currency)
        for value in values:
            result = result + value
        return result

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def quantized(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def format(self, locale: Locale | None = None) -> str:
        """In the locale (default: the request's), as Babel writes it."""
        return format_money(self.amount, self.currency, locale)

    def __str__(self) -> str:
        return self.format()


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize(amount: Decimal, currency: str = "EUR") -> Decimal:
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


#: What a MONEY column holds: Numeric(18, 2) is 16 digits before the point and 2 after.
MONEY_PLACES = 2
MONEY_INTEGER_DIGITS = 16


def fits_money(amount: Decimal) -> bool:
    """Whether a computed amount (a total, a line) fits a MONEY column: a sum of amounts that
    each fit may not."""
    return amount.is_finite() and (not amount or amount.adjusted() < MONEY_INTEGER_DIGITS)


def parse_decimal(text: object, *, places: int, integer_digits: int) -> Decimal | None:
    """A user-typed number as Decimal (with `places` decimals), or None unless it is a
    finite number with at most `places` decimals and `integer_digits` digits before the
    point: what a Numeric(integer_digits + places, places) column holds, so it never
    reaches the database to be refused there, or rounded. Accepts a decimal comma ("12,50")
    as typed in fr, nb and nl, blanks between digit groups and an exponent ("1e3");
    refuses "NaN", "Infinity", "1e20" (too large) and "0.001" (too precise)."""
    if text is None:
        return None
    cleaned = str(text).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if len(cleaned) > 64:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    # adjusted(): the power of ten of the first digit, so "1e999999999" costs no arithmetic.
    if not value.is_finite() or (value and value.adjusted() >= integer_digits):
        return None
    # "12.500" is fine, "12.505" has more decimals than the column keeps.
    step = Decimal(1).scaleb(-places)
    try:
        quantized = value.quantize(step)
    except InvalidOperation:
        return None
    return quantized if quantized == value else None


def parse_amount(text: object, currency: str | None = None) -> Decimal | None:
    """A user-typed amount as Decimal, or None when it is not a number a MONEY column holds
    with at most the currency's decimals (the column's two without a currency). The one
    parser of money typed by buyers (cart amounts and totals) and store admins (prices,
    credit limits, payments, free text lines): core/fields.py's AmountField uses it."""
    places = MONEY_PLACES
    if currency is not None:
        places = min(places, get_currency_precision(currency))
    return parse_decimal(text, places=places, integer_digits=MONEY_INTEGER_DIGITS)


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


@lru_cache(maxsize=64)
def _currency_formatter(locale: Locale, currency: str) -> Callable[[Decimal], str]:
    """A formatter for one locale and currency, built from Babel's own output.

    Babel re-reads the pattern and the locale's symbols for every amount; an invoice list
    formats a hundred amounts per page. Babel formats a probe amount once, the probe's
    digits are replaced by a template, and the result is checked against Babel on sample
    amounts: any locale it does not reproduce (other grouping, other digits) keeps
    Babel's slow path.
    """
    pattern = parse_pattern(locale.currency_formats["standard"])

    def slow(amount: Decimal) -> str:
        return pattern.apply(
            amount, locale, currency=currency, currency_digits=True, decimal_quantization=True
        )

    digits = get_currency_precision(currency)
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    fraction = "123"[:digits]
    number = f"1{group}234{group}567" + (f"{decimal}{fraction}" if digits else "")
    probe_amount = Decimal(f"1234567.{fraction}" if digits else "1234567")
    positive, negative = slow(probe_amount), slow(-probe_amount)
    if positive.count(number) != 1 or negative.count(number) != 1:
        return slow
    prefix, suffix = positive.split(number)
    negative_prefix, negative_suffix = negative.split(number)
    table = str.maketrans({",": group, ".": decimal})

    def fast(amount: Decimal) -> str:
        text = f"{abs(amount):,.{digits}f}".translate(table)
        if amount < 0:
            return f"{negative_prefix}{text}{negative_suffix}"
        return f"{prefix}{text}{suffix}"

    samples = [
        Decimal(x)
        for x in (
            "0",
            "0.5",
            "7",
            "12.3",
            "999.99",
            "1000",
            "-42.42",
            "-1234.5",
            "1000000",
            "98765432.1",
        )
    ]
    if all(fast(x) == slow(x) for x in samples):
        return fast
    return slow


def money_formatter(currency: str, locale: Locale | None = None) -> Callable[[Decimal], str]:
    """format_money for one currency and locale, found once: a list formats dozens."""
    return _currency_formatter(locale or get_locale() or Locale.parse("en"), currency)


def format_money(amount: Decimal | None, currency: str, locale: Locale | None = None) -> str:
    """The amount in the locale (default: the request's), exactly as Babel's
    format_currency writes it."""
    if amount is None:
        return ""
    return _currency_formatter(locale or get_locale() or Locale.parse("en"), currency)(amount)


def plain_decimal(value: Decimal | int | str | None, locale: Locale | str | None = None) -> str:
    """A quantity, rate or percent as people write it: no trailing zeros, never an exponent,
    no grouping, the locale's decimal sign (default: the request's; "en" outside a request).

    10 -> "10", Decimal("10.000") -> "10", Decimal("2.50") -> "2.5" ("2,5" in fr), 0 -> "0".
    (Decimal.normalize() writes 10 as "1E+1", "%g" writes 1000000 as "1e+06".)
    """
    if value is None:
        return ""
    number = Decimal(value)
    if not number.is_finite():
        return str(number)
    if not number:
        number = Decimal(0)  # "-0.00" is 0
    chosen = locale or get_locale() or "en"
    return _plain_formatter(chosen if isinstance(chosen, Locale) else Locale.parse(chosen))(number)


@lru_cache(maxsize=64)
def _plain_formatter(locale: Locale) -> Callable[[Decimal], str]:
    """plain_decimal for one locale: Babel's format_decimal re-reads the locale on every
    call (an invoice page shows two numbers a line). The fast path writes positive numbers
    with the locale's decimal sign, checked against Babel on samples; anything else (a
    negative number, a locale it does not reproduce) is Babel's."""
    from babel.numbers import format_decimal

    def slow(number: Decimal) -> str:
        return format_decimal(
            number, format="0.###", locale=locale, decimal_quantization=False, group_separator=False
        )

    decimal = get_decimal_symbol(locale)

    def fast(number: Decimal) -> str:
        if number < 0:
            return slow(number)
        text = f"{number:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace(".", decimal)

    samples = ["0", "1", "10", "10.000", "2.50", "0.125", "19.6", "1234567.5", "1E+1", "0.0001"]
    if all(fast(Decimal(x)) == slow(Decimal(x)) for x in samples):
        return fast
    return slow
