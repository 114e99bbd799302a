"""What a request may carry before any of it reaches the database (issue 13).

PostgreSQL refuses what SQLite takes: a NUL byte in any text, an integer past its column's
type (SQLAlchemy sends every bound value cast to the column's type, so even a lookup
`WHERE id = 2147483648::INTEGER` fails). Both surface as driver errors, answered 500. So:

- a NUL byte anywhere in the path, the query string or the form is refused here, once,
  with 400 and a translated message;
- integers are read by `parse_int` / `parse_id` (ASCII digits, within the column's range),
  and the URL map's `<int:...>` matches ids only (a bigger number finds no route: 404);
- amounts and rates are read by `money.parse_amount` / `money.parse_decimal`.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

#: Integer columns (ids, foreign keys, quantities, stock, days): PostgreSQL's "integer".
INT32_MAX = 2**31 - 1
#: BigInteger columns (version counters).
INT64_MAX = 2**63 - 1


def int_in_range(value: object, minimum: int = 0, maximum: int = INT32_MAX) -> bool:
    """An int (not a bool) that fits the column: the one range check for every integer."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum


def parse_int(text: object, *, minimum: int = 0, maximum: int = INT32_MAX) -> int | None:
    """A typed integer: ASCII digits (a leading minus when `minimum` < 0) within
    [minimum, maximum], surrounding blanks ignored; anything else, blank included, is None.

    str.isdigit() and int() are not enough: "²" is a digit to isdigit() and not to int(),
    and int() takes "١٢", "1_000" and numbers of any size.
    """
    if not isinstance(text, str | int) or isinstance(text, bool):
        return None
    raw = str(text).strip()
    digits = raw[1:] if raw.startswith("-") and minimum < 0 else raw
    if not digits or len(digits) > 20 or not digits.isascii() or not digits.isdigit():
        return None
    value = int(raw)
    return value if int_in_range(value, minimum, maximum) else None


def parse_id(text: object) -> int | None:
    """A row id from a form or query string (ids start at 1), else None."""
    return parse_int(text, minimum=1)


def coerce_id(value: object) -> int:
    """SelectField coerce for id choices, 0 meaning "none": a value that cannot be an id
    raises ValueError, which the field reports as an invalid choice."""
    number = value if isinstance(value, int) else parse_int(value)
    if number is None or not int_in_range(number):
        raise ValueError(value)
    return number


class IdConverter(IntegerConverter):
    """`<int:...>` in the URL map: ASCII digits up to the id columns' maximum; a longer
    number matches no route (404) instead of reaching the database."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


class InputRefused(BadRequest):
    """400 with a message for the user (core/errors.py shows it in their language)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def _has_nul(pairs) -> bool:  # type: ignore[no-untyped-def]
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def refuse_nul_bytes() -> None:
    """400 for a NUL byte in the path, a query argument or a form field (names too)."""
    form = request.form if request.method not in ("GET", "HEAD", "OPTIONS") else None
    if (
        "\x00" in request.path
        or _has_nul(request.args.items(multi=True))
        or (form is not None and _has_nul(form.items(multi=True)))
    ):
        raise InputRefused(
            _l(
                "The request contains a character that is not allowed (a NUL byte). "
                "Remove it and try again."
            )
        )


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: the converter is bound when a rule is added."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_bytes)
