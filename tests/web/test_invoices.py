"""Buyer invoices (issue 3): the filterable table, invoice page, PDF, statement and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.billing.listing import PAGE_SIZE
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db
from b2bshop.money import quantize
from tests import factories

ROW_RE = re.compile(r'<tr id="invoice-(INV-\d+)" data-status="(\w+)"')


def rows(html: str) -> list[tuple[str, str]]:
    return ROW_RE.findall(html)


def invoices_of(app, *names: str) -> list[Invoice]:
    with app.app_context():
        result = db.session.scalars(
            select(Invoice).join(Customer).where(Customer.name.in_(names))
        ).all()
        db.session.expunge_all()
        return result


@pytest.fixture
def contoso(client, demo, login):
    return login("buyer@contoso.example")


def test_list_shows_own_and_invoice_account(contoso, app):
    html = contoso.get("/invoices").get_data(as_text=True)
    expected = {i.number for i in invoices_of(app, "Contoso Retail", "Contoso Group")}
    assert {n for n, _ in rows(html)} == expected
    assert "Contoso Group" in html and "Contoso Retail" in html  # the account column
    assert "Fabrikam" not in html
    assert f"{len(expected)} invoices" in html


def test_account_column_hidden_with_one_account(client, demo, login):
    login("buyer@fabrikam.example")
    html = client.get("/invoices").get_data(as_text=True)
    assert rows(html)
    assert ">Account<" not in html


@pytest.mark.parametrize("status", ["paid", "unpaid", "partially_paid"])
def test_filter_by_status(contoso, status):
    found = rows(contoso.get(f"/invoices?status={status}").get_data(as_text=True))
    assert found and {s for _, s in found} == {status}


def test_filter_overdue(contoso, app):
    today = date.today()
    overdue = {
        i.number for i in invoices_of(app, "Contoso Retail", "Contoso Group") if i.is_overdue(today)
    }
    html = contoso.get("/invoices?status=overdue").get_data(as_text=True)
    assert {n for n, _ in rows(html)} == overdue
    assert "days overdue" in html


def test_filter_by_due_dates_and_number(contoso, app):
    invoices = invoices_of(app, "Contoso Retail", "Contoso Group")
    pivot = sorted(i.due_date for i in invoices)[len(invoices) // 2]
    html = contoso.get(f"/invoices?due_from={pivot}").get_data(as_text=True)
    assert {n for n, _ in rows(html)} == {i.number for i in invoices if i.due_date >= pivot}
    html = contoso.get(f"/invoices?due_to={pivot}").get_data(as_text=True)
    assert {n for n, _ in rows(html)} == {i.number for i in invoices if i.due_date <= pivot}
    number = invoices[0].number
    assert [n for n, _ in rows(contoso.get(f"/invoices?q={number}").get_data(as_text=True))] == [
        number
    ]
    assert rows(contoso.get("/invoices?q=%25").get_data(as_text=True)) == []  # no LIKE injection


def test_filter_by_account(contoso, app):
    group = {i.number for i in invoices_of(app, "Contoso Group")}
    retail = {i.number for i in invoices_of(app, "Contoso Retail")}
    assert {
        n for n, _ in rows(contoso.get("/invoices?account=org").get_data(as_text=True))
    } == group
    assert {
        n for n, _ in rows(contoso.get("/invoices?account=own").get_data(as_text=True))
    } == retail


def test_account_org_without_invoice_account_shows_nothing(client, demo, login):
    login("buyer@fabrikam.example")
    html = client.get("/invoices?account=org").get_data(as_text=True)
    assert rows(html) == []
    assert "0 invoices" in html


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("due_date", "due_date", False),
        ("-due_date", "due_date", True),
        ("amount", "total", False),
        ("-amount", "total", True),
        ("number", "number", False),
    ],
)
def test_sorting(contoso, app, sort, key, reverse):
    invoices = invoices_of(app, "Contoso Retail", "Contoso Group")
    expected = sorted(invoices, key=lambda i: (getattr(i, key), i.id), reverse=reverse)
    html = contoso.get(f"/invoices?sort={sort}").get_data(as_text=True)
    assert [n for n, _ in rows(html)] == [i.number for i in expected]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "Not a valid choice"),
        ("due_from=banana", "Not a valid date value"),
        ("due_from=2026-12-31&due_to=2026-01-01", "date is before the"),
        ("sort=drop+table", "Not a valid choice"),
        ("account=everyone", "Not a valid choice"),
        ("after=not-a-cursor", "The page link is not valid"),
    ],
)
def test_bad_filters_give_a_message_and_a_safe_result(contoso, query, message):
    all_rows = rows(contoso.get("/invoices").get_data(as_text=True))
    response = contoso.get(f"/invoices?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert "not understood" in html or "not valid" in html
    assert rows(html) == all_rows  # the bad part is not applied, the rest still works


def test_bad_filter_message_is_translated(contoso):
    contoso.post("/locale", data={"locale": "fr"})
    html = contoso.get("/invoices?status=bogus").get_data(as_text=True)
    assert "Factures" in html
    assert "jours de retard" in html and "days overdue" not in html  # the rows, in French
    assert "Some filters were not understood" not in html


def test_htmx_request_gets_the_fragment_and_a_clean_url(contoso):
    response = contoso.get(
        "/invoices?status=partially_paid&due_from=&q=&sort=due_date", headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.headers["HX-Push-Url"] == "/invoices?status=partially_paid"
    assert "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<div id="invoice-list">')
    assert "<html" not in html
    assert {s for _, s in rows(html)} == {"partially_paid"}
    full = contoso.get("/invoices?status=partially_paid")
    assert "<html" in full.get_data(as_text=True) and "HX-Push-Url" not in full.headers
    # A history restore after a cache miss wants the whole page.
    restore = contoso.get(
        "/invoices", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.get_data(as_text=True)


def test_filter_form_works_without_javascript(contoso):
    html = contoso.get("/invoices?status=paid").get_data(as_text=True)
    form = html.split('<form id="invoice-filters"', 1)[1].split("</form>", 1)[0]
    assert 'method="get"' in form and 'action="/invoices"' in form
    assert '<option value="paid" selected>' in form
    assert '<button type="submit">' in form


def test_cash_discount_offer(contoso, app):
    today = date.today()
    offered = [i for i in invoices_of(app, "Contoso Retail") if i.cash_discount_open(today)]
    assert offered
    html = contoso.get("/invoices?account=own").get_data(as_text=True)
    invoice = offered[0]
    row = html.split(f'id="invoice-{invoice.number}"', 1)[1].split("</tr>", 1)[0]
    discount = invoice.cash_discount_amount
    assert f"to save €{discount}" in row
    assert f"Pay €{invoice.balance - discount:,}" in row


def test_totals_line_counts_what_the_filter_matched(contoso, app):
    unpaid = [
        i
        for i in invoices_of(app, "Contoso Retail", "Contoso Group")
        if i.status == InvoiceStatus.UNPAID
    ]
    html = contoso.get("/invoices?status=unpaid").get_data(as_text=True)
    balance = sum((i.balance for i in unpaid), Decimal(0))
    assert f"{len(unpaid)} invoices" in html
    assert f"€{quantize(balance):,}" in html


def test_empty_state(contoso):
    html = contoso.get("/invoices?q=NOPE").get_data(as_text=True)
    assert "No invoices match this filter." in html


def test_keyset_pagination(client, app, login):
    with app.app_context():
        customer = factories.customer("Many")
        factories.user("many@example.com", customer=customer, password="pw")
        for n in range(120):
            factories.invoice(customer, f"{100 + n}.00", days_ago=n % 40)
        db.session.commit()
    login("many@example.com", "pw")
    seen, url = [], "/invoices?sort=-amount"
    while url:
        html = client.get(url).get_data(as_text=True)
        page = [n for n, _ in rows(html)]
        assert 0 < len(page) <= PAGE_SIZE
        seen += page
        match = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
        assert "sort=-amount" in (url or "sort=-amount")
    assert len(seen) == len(set(seen)) == 120
    amounts = invoices_of(app, "Many")
    expected = [i.number for i in sorted(amounts, key=lambda i: (i.total, i.id), reverse=True)]
    assert seen == expected
    # and back again from the last page
    prev = re.search(r'href="([^"]+)"[^>]*rel="prev"', html).group(1).replace("&amp;", "&")
    last_start = (len(expected) - 1) // PAGE_SIZE * PAGE_SIZE
    previous_page = expected[last_start - PAGE_SIZE : last_start]
    assert [n for n, _ in rows(client.get(prev).get_data(as_text=True))] == previous_page


def test_invoice_page(contoso, app):
    invoice = next(
        i for i in invoices_of(app, "Contoso Group") if i.status == InvoiceStatus.PARTIALLY_PAID
    )
    html = contoso.get(f"/invoices/{invoice.number}").get_data(as_text=True)
    for text in [
        invoice.number,
        "Contoso Group",
        "Lines",
        "Payments and settlements",
        "Partially paid",
        f"€{invoice.total:,}",
        f"€{invoice.balance:,}",
        "PAY-",
    ]:
        assert text in html, text


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_invoice_pdf(contoso, app):
    invoice = next(
        i for i in invoices_of(app, "Contoso Retail") if i.status == InvoiceStatus.PARTIALLY_PAID
    )
    response = contoso.get(f"/invoices/{invoice.number}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    assert invoice.number in text
    assert f"€{invoice.total:,}" in text
    assert f"€{invoice.balance:,}" in text


def test_invoice_pdf_in_the_users_language(contoso, app):
    invoice = invoices_of(app, "Contoso Retail")[0]
    contoso.post("/locale", data={"locale": "fr"})
    text = _pdf_text(contoso.get(f"/invoices/{invoice.number}.pdf").data)
    assert f"Facture {invoice.number}" in text
    assert "Date d’échéance" in text or "Date d'échéance" in text


def test_statement_of_account(contoso, app):
    response = contoso.get("/account/statement.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    for heading in [
        "Statement of account",
        "Not due",
        "1–30 days",
        "31–60 days",
        "61–90 days",
        "Over 90 days",
        "Contoso Retail",
        "Contoso Group",
    ]:
        assert heading in text, heading
    open_items = [
        i
        for i in invoices_of(app, "Contoso Retail", "Contoso Group")
        if i.status != InvoiceStatus.PAID
    ]
    total = sum((i.balance for i in open_items), Decimal(0))
    assert f"€{total:,}" in text
    for invoice in open_items:
        assert invoice.number in text
    paid = [i for i in invoices_of(app, "Contoso Retail") if i.status == InvoiceStatus.PAID]
    assert paid[0].number not in text


def test_aging_buckets():
    from b2bshop.billing.service import aging_bucket

    today = date(2026, 11, 23)
    cases = {
        0: "not_due",
        -5: "not_due",
        1: "1_30",
        30: "1_30",
        31: "31_60",
        60: "31_60",
        61: "61_90",
        90: "61_90",
        91: "over_90",
        400: "over_90",
    }
    for days, bucket in cases.items():
        assert aging_bucket(today - timedelta(days=days), today) == bucket, days


def test_csv_export_follows_the_filter(contoso, app):
    response = contoso.get("/invoices.csv?status=partially_paid&sort=number")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == [
        "number",
        "account",
        "invoice_date",
        "due_date",
        "currency",
        "total",
        "amount_paid",
        "balance",
        "status",
    ]
    expected = sorted(
        (
            i
            for i in invoices_of(app, "Contoso Retail", "Contoso Group")
            if i.status == InvoiceStatus.PARTIALLY_PAID
        ),
        key=lambda i: i.number,
    )
    assert [row[0] for row in lines[1:]] == [i.number for i in expected]
    first = expected[0]
    assert lines[1][2:] == [
        first.invoice_date.isoformat(),
        first.due_date.isoformat(),
        "EUR",
        f"{first.total:.2f}",
        f"{first.amount_paid:.2f}",
        f"{first.balance:.2f}",
        "partially_paid",
    ]


def test_view_permission_is_required(client, demo, login, app):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ap@contoso.example"))
        user.may_view_invoices = False
        db.session.commit()
    login("ap@contoso.example")
    for url in ["/invoices", "/invoices.csv", "/account/statement.pdf"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "may not view invoices" in response.get_data(as_text=True)


def test_store_admin_has_no_buyer_invoice_list(client, demo, login):
    login("admin@b2bshop.example")
    assert client.get("/invoices").status_code == 403


def test_invoice_page_names_its_own_terms_else_its_customers(client, login):
    """The page reads the terms' name in the invoice's query (billing.service
    get_invoice_details): the invoice's own terms when it names them (an order's), else
    those of its customer, which may be the buyer's invoice account."""
    with client.application.app_context():
        group = factories.customer("Group account")
        own = factories.customer("Own account", invoice_account=group)
        factories.user("terms@example.com", customer=own, password="pw")
        mine, theirs = factories.invoice(own), factories.invoice(group)
        mine.payment_terms_id = theirs.payment_terms_id = None
        order_terms = factories.payment_terms(net_days=14)
        named = factories.invoice(own)
        named.payment_terms = order_terms
        db.session.commit()
        expected = {
            mine.number: own.payment_terms.name,
            theirs.number: group.payment_terms.name,
            named.number: order_terms.name,
        }
        assert len(set(expected.values())) == 3
    login("terms@example.com", "pw")
    for number, name in expected.items():
        html = client.get(f"/invoices/{number}").get_data(as_text=True)
        assert f"<dt>Payment terms</dt><dd>{name}</dd>" in html, number


@pytest.mark.parametrize("number", ["INV-000123", "2026 A-7", "X#1?y=%", "Fä-1", "A/B"])
def test_invoice_urls_are_url_fors(app, number):
    """The list rows and the invoice page put the number into URLs built once
    (presenters.invoice_urls, rows_markup); the result is url_for's, quoting included."""
    from flask import url_for

    from b2bshop.billing.presenters import invoice_urls

    endpoints = {
        "show": "billing.show_invoice",
        "pdf": "billing.invoice_pdf",
        "ubl": "billing.invoice_ubl",
        "facturx": "billing.invoice_facturx",
        "request": "requests.request_invoice",
    }
    with app.test_request_context("/invoices"):
        urls = invoice_urls(number)
        for key, endpoint in endpoints.items():
            assert urls[key] == url_for(endpoint, number=number), key
        assert urls["pay"] == url_for("cart.add_invoice")
