"""The invoice filter read without WTForms (core/listing.py: PlainFilter) reads every
query string exactly as the WTForms form does, or leaves it to the form."""

from __future__ import annotations

import itertools

import pytest
from flask import request

from b2bshop.billing.forms import InvoiceFilterForm, filter_from
from b2bshop.core.filter_markup import filter_form_markup
from b2bshop.core.listing import PlainFilter, parse_filter, plain_filter

#: What the filter form sends (every field, empty ones too), links and hand-typed URLs.
PLAIN = [
    "",
    "status=unpaid",
    "status=unpaid&_=17",
    "status=&due_from=&due_to=&q=&account=&sort=due_date",
    "status=overdue&due_from=2024-01-01&due_to=2024-12-31&q=INV-0001&account=org&sort=-amount",
    "status=paid&due_from=2024-02-29",
    "q=%20%20INV-7%20%20",
    "q=" + "x" * 40,
    "due_to=2025-06-30&sort=number&after=abc",
    "account=own&due_from=2024-05-05&due_to=2024-05-05",
]
#: Refused values, several values for one field, dates out of order: WTForms decides.
NOT_PLAIN = [
    "status=bogus",
    "sort=-number",
    "account=all",
    "due_from=2024-13-01",
    "due_from=2024-1-5",
    "due_from=yesterday",
    "due_from=2024-05-06&due_to=2024-05-05",
    "q=" + "x" * 41,
    "status=paid&status=unpaid",
]


def _both(app, query):  # type: ignore[no-untyped-def]
    with app.test_request_context(f"/invoices?{query}"):
        plain = plain_filter(InvoiceFilterForm, request.args)
        form = InvoiceFilterForm(request.args)
        form.validate()
        return plain, form


def _markup(form):  # type: ignore[no-untyped-def]
    return filter_form_markup(
        form, "/invoices", "invoice-list", "invoice-filters", "filter", (), str, "Apply", "Clear"
    )


@pytest.mark.parametrize("query", PLAIN)
def test_plain_values_read_as_wtforms_reads_them(app, query):
    plain, form = _both(app, query)
    assert isinstance(plain, PlainFilter), query
    assert form.errors == {} and plain.errors == {}
    with app.test_request_context(f"/invoices?{query}"):
        assert filter_from(plain) == filter_from(form)
        assert plain.query_args() == form.query_args()
        assert _markup(plain) == _markup(form)
        for name in ("status", "due_from", "due_to", "q", "account", "sort"):
            assert plain.valid_value(name) == form.valid_value(name), name


@pytest.mark.parametrize("query", NOT_PLAIN)
def test_anything_else_goes_to_the_wtforms_form(app, query):
    plain, form = _both(app, query)
    assert plain is None, query
    with app.test_request_context(f"/invoices?{query}"):
        parsed = parse_filter(InvoiceFilterForm)
        assert isinstance(parsed, InvoiceFilterForm)
        assert parsed.errors == form.errors


def test_every_pair_of_plain_values_reads_the_same(app):
    for one, other in itertools.combinations(PLAIN[1:], 2):
        query = f"{one}&{other}"
        plain, form = _both(app, query)
        if plain is None:  # the same field twice, or dates out of order
            continue
        assert form.errors == {}, query
        with app.test_request_context(f"/invoices?{query}"):
            assert filter_from(plain) == filter_from(form), query
            assert _markup(plain) == _markup(form), query
