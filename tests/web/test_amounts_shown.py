"""How amounts, quantities and rates are shown: money paid and cash discount apart (page and
PDF), plain decimals without exponents, the dashboard per currency, and a free text line's
tax rate that must be given (SPEC B8)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.billing.models import FreeTextInvoice, InvoiceStatus
from b2bshop.billing.service import LineInput, post_invoice
from b2bshop.extensions import db
from b2bshop.money import plain_decimal
from b2bshop.payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from tests import factories

BUYER = "amounts@example.com"
ADMIN = "amounts-admin@example.com"
PASSWORD = "secret-pass"


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _pay(invoice, number: str, amount: str, discount: str = "0", status=PaymentStatus.COMPLETED):
    """A payment row with one allocation; a completed one settles the invoice."""
    amount_d, discount_d = Decimal(amount), Decimal(discount)
    db.session.add(
        Payment(
            number=number,
            customer_id=invoice.customer_id,
            method=PaymentMethod.CARD,
            status=status,
            amount=amount_d,
            currency=invoice.currency,
            allocations=[
                PaymentAllocation(
                    invoice_id=invoice.id, amount=amount_d, discount_amount=discount_d
                )
            ],
        )
    )
    if status == PaymentStatus.COMPLETED:
        invoice.amount_paid += amount_d + discount_d
        invoice.status = (
            InvoiceStatus.PAID
            if invoice.amount_paid == invoice.total
            else InvoiceStatus.PARTIALLY_PAID
        )
    db.session.flush()


@pytest.fixture
def settled_invoices(app):
    """A buyer with a €10.20 invoice settled by €10.00 paid and €0.20 cash discount (and a
    failed payment that settles nothing), and a €50.00 invoice paid €20.00, no discount."""
    with app.app_context():
        terms = factories.payment_terms(net_days=30, percent="2", days=10)
        customer = factories.customer("Discount Buyer", terms=terms)
        factories.user(BUYER, customer=customer, password=PASSWORD)
        discounted = factories.invoice(customer, "10.20", days_ago=2)
        assert discounted.cash_discount_amount == Decimal("0.20")
        _pay(discounted, "PAY-T-1", "10.00", "0.20")
        _pay(discounted, "PAY-T-2", "5.00", status=PaymentStatus.FAILED)
        partial = factories.invoice(customer, "50.00", days_ago=2)
        _pay(partial, "PAY-T-3", "20.00")
        db.session.commit()
        return discounted.number, partial.number


def _dd(html: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    return match.group(1) if match else None


def test_invoice_page_shows_money_paid_and_cash_discount_apart(client, login, settled_invoices):
    discounted, partial = settled_invoices
    login(BUYER, PASSWORD)
    html = client.get(f"/invoices/{discounted}").get_data(as_text=True)
    assert _dd(html, "invoice-paid") == "€10.00"
    assert _dd(html, "invoice-discount") == "€0.20"
    assert "PAY-T-2" not in html  # a failed payment settled nothing
    # No cash discount granted: no such row.
    html = client.get(f"/invoices/{partial}").get_data(as_text=True)
    assert _dd(html, "invoice-paid") == "€20.00"
    assert 'id="invoice-discount"' not in html


def test_invoice_pdf_shows_money_paid_and_cash_discount_apart(client, login, settled_invoices):
    discounted, partial = settled_invoices
    login(BUYER, PASSWORD)
    text = _pdf_text(client.get(f"/invoices/{discounted}.pdf").data)
    assert re.search(r"Paid\s*−€10\.00", text), text
    assert re.search(r"Cash discount\s*−€0\.20", text), text
    assert "−€10.20" not in text
    assert "Payments and settlements" in text and "PAY-T-1" in text
    assert "PAY-T-2" not in text
    text = _pdf_text(client.get(f"/invoices/{partial}.pdf").data)
    assert re.search(r"Paid\s*−€20\.00", text), text
    assert not re.search(r"Cash discount\s*−", text), text


# --- plain decimals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "locale", "shown"),
    [
        (Decimal("10"), "en", "10"),
        (Decimal("10.000"), "en", "10"),
        (Decimal("1E+1"), "en", "10"),
        (Decimal("20.00"), "en", "20"),
        (Decimal("2.50"), "en", "2.5"),
        (Decimal("2.50"), "fr", "2,5"),
        (Decimal("0.125"), "nl", "0,125"),
        (Decimal("1000000"), "nb", "1000000"),
        (Decimal("0"), "en", "0"),
        (Decimal("-0.00"), "en", "0"),
        (10, "en", "10"),
        (None, "en", ""),
    ],
)
def test_plain_decimal(value, locale, shown):
    assert plain_decimal(value, locale) == shown


@pytest.fixture
def store_admin(app, client, login):
    with app.app_context():
        factories.user(ADMIN, role=Role.STORE_ADMIN, password=PASSWORD)
        db.session.commit()
    return login(ADMIN, PASSWORD)


@pytest.fixture
def ten_at_twenty(app):
    """An invoice of quantity 10 at a tax rate of 20.00 %, a product at 20.00 % and terms
    with a 2.50 % cash discount."""
    with app.app_context():
        customer = factories.customer("Plain Numbers")
        factories.user(BUYER, customer=customer, password=PASSWORD)
        invoice = post_invoice(
            customer,
            [
                LineInput(
                    description="Boxes",
                    quantity=Decimal("10.000"),
                    unit_price=Decimal("1.50"),
                    tax_rate=Decimal("20.00"),
                )
            ],
            date.today(),
        )
        product = factories.product("SKU-TWENTY")
        product.tax_rate = Decimal("20.00")
        factories.payment_terms(percent="2.50", days=10)
        db.session.commit()
        return invoice.number


def test_admin_pages_show_plain_decimals(store_admin, ten_at_twenty):
    html = store_admin.get(f"/admin/invoices/{ten_at_twenty}").get_data(as_text=True)
    assert 'class="num">10</td>' in html
    assert 'class="num">20 % ·' in html
    html += store_admin.get("/admin/products").get_data(as_text=True)
    assert 'class="num">20</td>' in html
    html += store_admin.get("/admin/payment-terms").get_data(as_text=True)
    assert "2.5 % within 10 days" in html
    assert "E+" not in html and "e+" not in html
    pdf = _pdf_text(store_admin.get(f"/admin/invoices/{ten_at_twenty}.pdf").data)
    assert "E+" not in pdf and "20 %" in pdf


def test_plain_decimals_follow_the_locale(store_admin, ten_at_twenty):
    store_admin.post("/locale", data={"locale": "fr"})
    html = store_admin.get("/admin/payment-terms").get_data(as_text=True)
    assert "2,5\u00a0%" in html or "2,5 %" in html
    assert "2.5" not in html


def test_buyer_invoice_page_and_pdf_show_plain_decimals(client, login, ten_at_twenty):
    login(BUYER, PASSWORD)
    html = client.get(f"/invoices/{ten_at_twenty}").get_data(as_text=True)
    assert 'class="num">10</td>' in html and 'class="num">20 %</td>' in html
    assert "E+" not in html
    text = _pdf_text(client.get(f"/invoices/{ten_at_twenty}.pdf").data)
    assert "E+" not in text and "20 %" in text


# --- dashboard per currency -----------------------------------------------------------------


def test_dashboard_totals_each_currency_apart(app, store_admin):
    with app.app_context():
        eur = factories.customer("Euro Buyer", currency="EUR")
        usd = factories.customer("Dollar Buyer", currency="USD")
        factories.invoice(eur, "100.00", days_ago=45)  # Net 30: 15 days overdue
        factories.invoice(usd, "200.00", days_ago=45)
        factories.invoice(usd, "7.00", days_ago=1)  # not due
        db.session.commit()
    html = store_admin.get("/admin/").get_data(as_text=True)
    tile = re.search(r'id="overdue-total">(.*?)</span>', html, re.S).group(1)
    assert "€100.00" in tile and "$200.00" in tile
    assert "300.00" not in html and "307.00" not in html and "207.00" not in html
    # The chart: a section per currency, each with its own buckets.
    sections = dict(re.findall(r'<g data-currency="(\w+)">(.*?)</g>\s*</g>', html, re.S))
    assert set(sections) == {"EUR", "USD"}
    assert "€100.00 · 1" in sections["EUR"] and "$" not in sections["EUR"]
    assert "$200.00 · 1" in sections["USD"] and "$7.00 · 1" in sections["USD"]
    assert "€" not in sections["USD"]


# --- free text invoice: the tax rate must be given ------------------------------------------


def _free_text(customer_id: int, tax: str) -> dict:
    return {
        "customer_id": customer_id,
        "invoice_date": date.today().isoformat(),
        "account-0": "4400",
        "description-0": "Installation, 6 hours",
        "amount-0": "540.00",
        "tax-0": tax,
        "action": "save",
    }


def test_free_text_line_without_a_tax_rate_is_refused(app, store_admin):
    with app.app_context():
        customer_id = factories.customer("Free Text Buyer").id
        db.session.commit()
    response = store_admin.post("/admin/free-text/new", data=_free_text(customer_id, "  "))
    assert response.status_code == 422
    assert "Line 1: enter a tax rate (0 for no tax)." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(FreeTextInvoice.id))) == 0
    # Translated.
    store_admin.post("/locale", data={"locale": "nl"})
    response = store_admin.post("/admin/free-text/new", data=_free_text(customer_id, ""))
    assert response.status_code == 422
    assert "Regel 1: vul een btw-tarief in" in response.get_data(as_text=True)
    store_admin.post("/locale", data={"locale": "en"})
    # A rate of 0 typed explicitly is a rate.
    response = store_admin.post("/admin/free-text/new", data=_free_text(customer_id, "0"))
    assert response.status_code == 302
    with app.app_context():
        draft = db.session.scalar(select(FreeTextInvoice))
        assert draft.lines[0].tax_rate == 0
        draft_id = draft.id
    # The saved draft shows its rate back as "0", not as an empty field.
    html = store_admin.get(f"/admin/free-text/{draft_id}").get_data(as_text=True)
    assert re.search(r'name="tax-0"[^>]*value="0"', html)
