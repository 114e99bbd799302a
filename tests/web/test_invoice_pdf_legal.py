"""Legally complete invoice PDFs (issue 16), in all four languages: the seller's legal name,
address, VAT and registration numbers; the customer's address and VAT number; payment
instructions with IBAN/BIC and the invoice number as the payment reference; the cash
discount only while it runs; the pro forma without a balance or a second date."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from pypdf import PdfReader

from b2bshop.billing import credit_notes, pdf
from b2bshop.billing.service import LineInput, build_invoice, post_invoice, settlements
from b2bshop.extensions import db
from b2bshop.i18n import format_day
from tests import factories
from tests.web.test_einvoices import _buyer, _customer, _seller

#: Per language: the payment reference label and the "Bill to" heading.
WORDS = {
    "en": ("Payment reference: ", "Bill to", "Cash discount"),
    "fr": ("Référence de paiement : ", "Facturé à", "Escompte"),
    "nb": ("Betalingsreferanse: ", "Faktureres til", "Kontantrabatt"),
    "nl": ("Betalingskenmerk: ", "Factuur aan", "Betalingskorting"),
}


def _text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


@pytest.fixture
def invoice(app_ctx):  # type: ignore[no-untyped-def]
    _seller()
    terms = factories.payment_terms(net_days=30, percent="2", days=10)
    customer = _customer("Plain Retail", terms=terms)
    return post_invoice(
        customer,
        [
            LineInput("Copy paper", Decimal(10), Decimal("24.90"), Decimal(21)),
            LineInput("Training course", Decimal(1), Decimal("450.00"), Decimal(0)),
        ],
        date.today() - timedelta(days=2),
    )


@pytest.mark.parametrize("locale", list(WORDS))
def test_invoice_pdf_says_everything_the_law_asks(invoice, locale):
    reference, bill_to, discount = WORDS[locale]
    with force_locale(locale):
        text = _text(pdf.invoice_pdf(invoice, [], date.today()))
    for needed in (
        "b2bshop Supplies B.V.",
        "Keizersgracht 1, 1015 CJ Amsterdam, NL",
        "NL812345678B01",
        "81234567",
        bill_to,
        "Rue Royale 120, 1000 Bruxelles, BE",
        "BE0403177530",
        "IBAN NL91ABNA0417164300",
        "BIC ABNANL2A",
        reference + invoice.number,
        "Article 135(1)",  # the exemption reason of the 0 % line
        discount,  # inside its cash discount period
    ):
        assert needed in text, (locale, needed, text)


def test_cash_discount_only_while_it_runs(invoice):
    later = invoice.cash_discount_date + timedelta(days=1)
    text = _text(pdf.invoice_pdf(invoice, [], later))
    assert "Cash discount" not in text and "to save" not in text
    assert "Payment reference: " + invoice.number in text


def test_pro_forma_has_no_balance_nor_a_second_date(app_ctx):
    _seller()
    customer = _customer("Plain Retail")
    draft = build_invoice(
        customer, [LineInput("Desk", Decimal(1), Decimal("529.00"), Decimal(21))], date.today()
    )
    text = _text(pdf.invoice_pdf(draft, [], date.today(), pro_forma=True))
    assert "PRO FORMA" in text
    assert "Balance" not in text and "Payment reference" not in text
    # Today's date once, as the invoice date (the old pro forma printed it again as "Date").
    with force_locale("en"):
        assert text.count(format_day(date.today())) == 1, text


def test_credit_note_pdf_names_the_invoice_it_corrects(app_ctx):
    _seller()
    admin = factories.user(role=factories.Role.STORE_ADMIN)
    customer = _customer("Plain Retail")
    original = factories.invoice(customer, "100.00")
    product = factories.product(price="10.00")
    from b2bshop.sales import service as sales
    from b2bshop.sales.models import OrderType

    order = sales.place_order(
        admin,
        customer,
        [sales.OrderLineInput(product.id, 1)],
        order_type=OrderType.RETURNED_ORDER,
    )
    sales.confirm_order(admin, order)
    sales.post_packing_slip(admin, order, {order.lines[0].id: 1})
    note = credit_notes.credit_returned_order(admin, order, original.number)
    text = _text(pdf.invoice_pdf(note, settlements(note), date.today()))
    assert f"Credit note {note.number}" in text and original.number in text
    assert "Payment reference" not in text


def test_the_buyer_downloads_it_in_their_language(app, client, login):
    with app.app_context():
        _seller()
        customer = _customer("Plain Retail")
        email = _buyer(customer)
        number = factories.invoice(customer, "100.00").number
        db.session.commit()
    login(email, "secret-pass")
    body = client.get(f"/invoices/{number}.pdf", headers={"Accept-Language": "nl"}).data
    assert "Betalingskenmerk: " + number in _text(body)
