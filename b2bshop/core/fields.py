"""Form fields whose accepted values fit their columns: what validates is what the database
stores, never a driver error (issue 13)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, IntegerField

from b2bshop.core.inputs import parse_int
from b2bshop.money import parse_amount, parse_decimal


class AmountField(DecimalField):
    """An amount for a MONEY column (Numeric(18, 2)), read by money.parse_amount like the
    amounts buyers type in the cart: a plain number, at most 16 digits before the point and
    2 after ("1e20", "NaN", "Infinity" and "0.001" are refused with a message)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("places", 2)
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        self.data = parse_amount(valuelist[0])
        if self.data is None:
            raise ValueError(
                _l(
                    "Enter an amount such as 1250.00, with at most 16 digits before the "
                    "decimal point and two after."
                )
            )


class RateField(DecimalField):
    """A percentage for a Numeric(5, 2) column (tax rate, cash discount), e.g. 21 or 2.5."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("places", 2)
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        self.data = parse_decimal(valuelist[0], places=2, integer_digits=3)
        if self.data is None:
            raise ValueError(_l("Enter a percentage such as 21 or 2.5, with at most two decimals."))


#: What a WholeNumberField reads at most (either sign): 15 digits, exact as a float.
WHOLE_NUMBER_LIMIT = 10**15 - 1


class WholeNumberField(IntegerField):
    """A whole number for an Integer column: ASCII digits within the column's range, read
    by core/inputs.parse_int (int() takes a number of any size, and NumberRange then
    overflows comparing it with a float: a 400-digit "net days" answered 500)."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        # Wider than the column, so a range validator names the range for a number just
        # past it; narrow enough that no comparison overflows.
        self.data = parse_int(valuelist[0], minimum=-WHOLE_NUMBER_LIMIT, maximum=WHOLE_NUMBER_LIMIT)
        if self.data is None:
            raise ValueError(_l("Enter a whole number, such as 10."))
