"""plain_decimal's fast path writes what Babel's format_decimal writes (money.py)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_decimal

from b2bshop.money import _plain_formatter, plain_decimal


def _babel(number: Decimal, code: str) -> str:
    return format_decimal(
        number, format="0.###", locale=code, decimal_quantization=False, group_separator=False
    )


@pytest.mark.parametrize("code", ["en", "fr", "nb", "nl"])
def test_the_fast_path_writes_what_babel_writes(code):
    assert _plain_formatter(Locale.parse(code)).__name__ == "fast"  # the path under test
    rng = random.Random(21)
    numbers = [
        Decimal(rng.randint(0, 10**8)) / Decimal(10 ** rng.randint(0, 6)) for _ in range(2000)
    ]
    numbers += [Decimal(x) for x in ("0", "0.000", "10", "1E+1", "100.0", "19.60", "-2.50")]
    for number in numbers:
        assert plain_decimal(number, code) == _babel(number if number else Decimal(0), code), number
