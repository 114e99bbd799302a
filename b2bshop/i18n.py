"""Translation and formatting helpers."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from flask_babel import format_date as flask_format_date
from flask_babel import format_datetime as flask_format_datetime
from flask_babel import get_locale
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape


def _escaped_html(self: LazyString) -> Markup:
    return escape(str(self))


# Flask-Babel's lazy strings say they are HTML already (__html__ returns the plain text), so
# Jinja's autoescape passes them through raw, with whatever a refusal interpolated: an
# invoice number or a product name typed by someone else. Every lazy string here is plain
# text, so it is escaped like any other string, wherever it is rendered.
LazyString.__html__ = _escaped_html  # type: ignore[method-assign]


def N_(message: str) -> str:
    """Mark a string for the catalogs where it is translated later, at display time."""
    return message


@lru_cache(maxsize=4096)
def _format_day(value: date, locale: Locale, format: str) -> str:
    return babel_format_date(value, format=format, locale=locale)


def format_day(
    value: date | datetime | None, format: str = "medium", locale: Locale | None = None
) -> str:
    """A date in the request's locale. Plain dates (due dates repeat down a list) are
    cached; datetimes go through Flask-Babel for the user's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return flask_format_date(value, format)
    return _format_day(value, locale or get_locale() or Locale.parse("en"), format)


def format_timestamp(value: datetime | None, format: str = "medium") -> str:
    """A moment (stored in UTC) in the store's time zone, with the zone's short name, so
    "10:42" never leaves a reader guessing which 10:42 (STORE_TIMEZONE)."""
    if value is None:
        return ""
    return f"{flask_format_datetime(value, format)} {flask_format_datetime(value, 'ZZZZ')}"
