"""The list machinery shared by the buyer's invoice table and every admin list: a filter
form read from the query string (so each filtered view is a URL), keyset pages and the
response that swaps the list fragment and pushes the canonical URL.

Pages are cut by keyset ("after this sort value and id"), never by OFFSET, so a deep page
costs what the first one costs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from flask import Response, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from werkzeug.datastructures import MultiDict
from wtforms.validators import Length, Optional

from b2bshop.core.inputs import int_in_range, parse_int
from b2bshop.extensions import db
from b2bshop.htmx import is_htmx, render

#: Rows per page: a laptop screen and a half.
PAGE_SIZE = 25

T = TypeVar("T")


class BadCursor(ValueError):
    pass


def encode_cursor(value: object, row_id: int) -> str:
    raw = json.dumps([str(value), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def int_value(text: str) -> int:
    """An integer sort value (an id) from a cursor, within its column's range."""
    value = parse_int(text)
    if value is None:
        raise ValueError(text)
    return value


def decode_cursor(token: str, parse: Callable[[str], Any] = str) -> tuple[Any, int]:
    """(sort value, id) from a cursor; `parse` turns the value back into its type."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, row_id = json.loads(raw)
        # Within the id column's range, and no NUL: PostgreSQL would refuse either (500).
        if not int_in_range(row_id, 1) or not isinstance(value, str) or "\x00" in value:
            raise BadCursor(token)
        return parse(value), row_id
    except (ValueError, TypeError, binascii.Error, ArithmeticError) as exc:
        raise BadCursor(token) from exc


@dataclass
class Page(Generic[T]):
    items: list[T]
    count: int
    next_cursor: str | None = None
    prev_cursor: str | None = None
    #: "cursor" when the page link was not valid (the first page is shown instead).
    errors: list[str] = field(default_factory=list)


class ListFilterForm(FlaskForm):
    """A GET filter form (no CSRF: it changes nothing). Invalid fields are reported by the
    list and ignored, so a bad value never hides the rest of the filter."""

    class Meta:
        csrf = False

    #: Fields the list form shows; others (none by default) are not rendered.
    hidden_fields: tuple[str, ...] = ()
    #: Whether parse_filter may skip WTForms for plainly valid values (PlainFilter): only
    #: for lists that read the form through valid_value, query_args and the filter macros.
    plain_parse = False

    @classmethod
    def plainly_valid_together(cls, values: dict[str, Any]) -> bool:
        """What the form's own validate() checks across fields, on plainly valid values."""
        return True

    def valid_value(self, name: str) -> Any:
        """The field's value, or its default when the user's value was invalid."""
        field = self[name]
        return field.default if field.errors else field.data

    def query_args(self) -> dict[str, str]:
        """The valid, non-default values as query-string arguments (canonical URLs)."""
        args = {}
        for form_field in self:
            value = self.valid_value(form_field.name)
            if value in (None, "") or value == form_field.default:
                continue
            args[form_field.name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return args


def parse_filter(form_class: type[ListFilterForm]) -> ListFilterForm | PlainFilter:
    """The list's filter from the query string. For a form class that allows it
    (`plain_parse`), values that are plainly valid skip WTForms (PlainFilter); anything
    else, and every error message, comes from the WTForms form."""
    if form_class.plain_parse:
        parsed = plain_filter(form_class, request.args)
        if parsed is not None:
            return parsed
    form = form_class(request.args)
    form.validate()
    return form


#: Filter values as WTForms' DateField reads them (format "%Y-%m-%d"), strictly.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class NotPlain(ValueError):
    """A value PlainFilter leaves to WTForms."""


class PlainFilter:
    """A filter form whose every value was plainly valid, as WTForms would have read it:
    the same fields (shared, never validated: no errors), the same values. Binding and
    validating six WTForms fields on every list request was a twentieth of a first view.
    It answers what the lists read: iteration, form[name], valid_value, query_args, errors.
    tests/web/test_plain_filter.py compares it with the WTForms form."""

    date_range_invalid = False

    def __init__(self, fields: list[Any], values: dict[str, Any]) -> None:
        self._fields = fields
        self._by_name = {f.name: f for f in fields}
        self._values = values

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._fields)

    def __getitem__(self, name: str) -> Any:
        return self._by_name[name]

    def valid_value(self, name: str) -> Any:
        return self._values[name]

    @property
    def errors(self) -> dict[str, list[str]]:
        return {}  # no value was refused

    query_args = ListFilterForm.query_args


_prototypes: dict[type, list[Any]] = {}


def plain_filter(form_class: type[ListFilterForm], args: Any) -> PlainFilter | None:
    """`args` read the way WTForms reads them, when every value is plainly valid; None when
    one is not (or is of a kind this does not know), for WTForms to judge and word."""
    fields = _prototypes.get(form_class)
    if fields is None:
        # Bound to no values: each field's data is what an absent argument leaves.
        fields = _prototypes[form_class] = list(form_class(formdata=MultiDict()))
    values = {}
    try:
        for f in fields:
            raw = args.getlist(f.name)
            if not raw:
                values[f.name] = f.data
            elif len(raw) > 1:
                return None
            else:
                values[f.name] = _plain_value(f, raw[0])
    except NotPlain:
        return None
    if not form_class.plainly_valid_together(values):
        return None
    return PlainFilter(fields, values)


def _plain_value(f: Any, raw: str) -> Any:
    validators = list(f.validators)
    optional = bool(validators) and isinstance(validators[0], Optional)
    if optional:
        validators.pop(0)
    if f.type == "SelectField":
        if validators or f.coerce is not str or f.filters:
            raise NotPlain(f.name)
        if raw not in {str(choice.value) for choice in f.choices}:
            raise NotPlain(f.name)  # "Not a valid choice."
        return raw
    if f.type == "DateField":
        if validators or f.format != ["%Y-%m-%d"] or f.filters:
            raise NotPlain(f.name)
        if optional and not raw.strip():
            return None  # WTForms' error for the empty date is cleared by Optional
        try:
            if _ISO_DATE.fullmatch(raw):
                return date.fromisoformat(raw)
        except ValueError:
            pass  # a day or month out of range
        raise NotPlain(f.name)
    if f.type in ("StringField", "SearchField"):
        value = raw
        for keep in f.filters:
            value = keep(value)
        if optional and not raw.strip():
            return value  # Optional stops the other validators
        for validator in validators:
            if not isinstance(validator, Length):
                raise NotPlain(f.name)
            length = len(value) if value else 0
            if length < validator.min or (validator.max != -1 and length > validator.max):
                raise NotPlain(f.name)
        return value
    raise NotPlain(f.name)


def keyset_page(
    stmt: Select,
    sort_column: Any,
    id_column: Any,
    *,
    descending: bool = True,
    after: str | None = None,
    before: str | None = None,
    parse: Callable[[str], Any] = int_value,
    limit: int = PAGE_SIZE,
    count: bool = True,
    options: tuple = (),
) -> Page:
    """One page of `stmt` in (sort_column, id) order from a cursor, and the count of all
    rows it matches: two queries whatever the depth."""
    page: Page = Page([], 0)
    if count:
        page.count = db.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        )
    token, forward = (before, False) if before else (after, True)
    cursor = None
    if token:
        try:
            cursor = decode_cursor(token, parse)
        except BadCursor:
            page.errors.append("cursor")
            token = None
    reverse = descending == forward
    key = tuple_(sort_column, id_column)
    conditions: list[ColumnElement[bool]] = []
    if cursor is not None:
        conditions.append(key < tuple_(*cursor) if reverse else key > tuple_(*cursor))
    order = (
        [sort_column.desc(), id_column.desc()] if reverse else [sort_column.asc(), id_column.asc()]
    )
    # Loader options (the rows' related objects in one go) apply to the page, not the count.
    page_stmt = stmt.options(*options).where(*conditions).order_by(*order).limit(limit + 1)
    rows = list(db.session.scalars(page_stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    page.items = rows
    if rows:
        sort_key, id_key = sort_column.key, id_column.key
        has_next = more if forward else True
        has_prev = (token is not None) if forward else more
        last, first = rows[-1], rows[0]
        if has_next:
            page.next_cursor = encode_cursor(getattr(last, sort_key), getattr(last, id_key))
        if has_prev:
            page.prev_cursor = encode_cursor(getattr(first, sort_key), getattr(first, id_key))
    return page


def list_response(
    page_template: str, fragment_template: str, endpoint: str, args: dict[str, str], /, **context
) -> Response:
    """The page, or for HTMX its list fragment with the canonical URL (valid filters only,
    no empty fields) pushed to the address bar."""
    response = render(page_template, fragment_template, args=args, **context)
    if is_htmx():
        cursor = {k: v for k in ("after", "before") if (v := request.args.get(k))}
        response.headers["HX-Push-Url"] = url_for(endpoint, **args, **cursor)
    return response
