"""The seller's legal data and the customers' e-invoice fields (issue 16): VAT numbers by
python-stdnum, IBANs and BICs by schwifty, Peppol identifiers by their scheme; the admin
pages; the demo data and migration 0012's values are valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from b2bshop.accounts.models import Customer, EInvoiceFormat, LegalEntity
from b2bshop.audit.models import AuditEntry
from b2bshop.einvoice import parties
from b2bshop.extensions import db
from tests import factories

ADMIN = "admin@b2bshop.example"


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("nl 8123.45678 b01", "NL812345678B01"),
        ("FR44 732 829 320", "FR44732829320"),
        ("BE 0403.177.530", "BE0403177530"),
        ("NO 923 980 474 MVA", "NO923980474MVA"),
        ("", ""),
    ],
)
def test_vat_numbers_are_compacted_when_valid(raw, compact):
    assert parties.compact_vat(raw) == compact


@pytest.mark.parametrize(
    "raw", ["NL812345679B01", "FR45732829320", "BE0403177531", "NO923980475MVA", "812345678"]
)
def test_vat_numbers_with_wrong_check_digits_are_refused(raw):
    with pytest.raises(parties.PartyInvalid, match="not a valid VAT number"):
        parties.compact_vat(raw)


def test_iban_and_bic_by_schwifty():
    assert parties.compact_iban("nl91 abna 0417 1643 00") == "NL91ABNA0417164300"
    with pytest.raises(parties.PartyInvalid, match="not a valid IBAN"):
        parties.compact_iban("NL92ABNA0417164300")
    assert parties.compact_bic("abnanl2a") == "ABNANL2A"
    with pytest.raises(parties.PartyInvalid, match="not a valid BIC"):
        parties.compact_bic("ABNAQQ2A")


@pytest.mark.parametrize(
    ("scheme", "raw", "compact"),
    [
        ("0009", "732 829 320 00017", "73282932000017"),
        ("0002", "732829320", "732829320"),
        ("0192", "923980474", "923980474"),
        ("0208", "0403.177.530", "0403177530"),
        ("0106", "81234567", "81234567"),
        ("9944", "NL812345678B01", "NL812345678B01"),
        ("9957", "FR44732829320", "FR44732829320"),
        ("9925", "BE0403177530", "BE0403177530"),
        ("0088", "4000001000005", "4000001000005"),
    ],
)
def test_peppol_endpoints_valid_for_their_scheme(scheme, raw, compact):
    assert parties.peppol_endpoint(scheme, raw) == (scheme, compact)


@pytest.mark.parametrize(
    ("scheme", "raw"),
    [
        ("0009", "73282932000018"),
        ("0192", "923980475"),
        ("0106", "8123456"),
        ("9944", "FR44732829320"),  # a French VAT number in the Dutch VAT scheme
        ("", "81234567"),  # an identifier without its scheme
        ("1234", "81234567"),  # not a scheme we know
    ],
)
def test_peppol_endpoints_refused(scheme, raw):
    with pytest.raises(parties.PartyInvalid):
        parties.peppol_endpoint(scheme, raw)


def test_customer_einvoice_fields_saved_validated_and_audited(app_ctx):
    admin = factories.user(role=factories.Role.STORE_ADMIN)
    customer = factories.customer()
    data = parties.CustomerEInvoiceInput(
        street="Karl Johans gate 22",
        postal_code="0159",
        city="Oslo",
        country_code="no",
        vat_number="NO 923 980 474 MVA",
        peppol_scheme="0192",
        peppol_id="923 980 474",
        einvoice_format="pdf_ubl",
    )
    parties.save_customer_einvoice(admin, customer, data)
    assert (customer.country_code, customer.vat_number) == ("NO", "NO923980474MVA")
    assert (customer.peppol_scheme, customer.peppol_id) == ("0192", "923980474")
    assert customer.einvoice_format == EInvoiceFormat.PDF_UBL
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.einvoice"))
    assert entry.after["vat_number"] == "NO923980474MVA"
    for bad in (
        {"vat_number": "NO923980475MVA"},
        {"country_code": "Norway"},
        {"einvoice_format": "xml"},
        {"street": ""},
    ):
        with pytest.raises(parties.PartyInvalid):
            parties.save_customer_einvoice(
                admin, customer, parties.CustomerEInvoiceInput(**{**data.__dict__, **bad})
            )


def test_demo_parties_are_valid(app_ctx):
    from b2bshop import demo

    demo.load()
    entity = db.session.scalar(select(LegalEntity))
    assert parties.compact_vat(entity.vat_number) == entity.vat_number
    assert parties.compact_iban(entity.iban) == entity.iban
    assert parties.compact_bic(entity.bic) == entity.bic
    assert parties.peppol_endpoint(entity.peppol_scheme, entity.peppol_id)[1] == entity.peppol_id
    for customer in db.session.scalars(select(Customer)):
        assert customer.country_code and customer.city and customer.street
        assert parties.compact_vat(customer.vat_number) == customer.vat_number
        endpoint = parties.peppol_endpoint(customer.peppol_scheme, customer.peppol_id)
        assert endpoint == (customer.peppol_scheme, customer.peppol_id)


def test_migration_0012_fills_the_demo_parties_with_valid_values(tmp_path: Path):
    """An existing demo database (built before 0012) gets valid values; down and up again."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    from flask import Flask

    from b2bshop.extensions import migrate

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parents[2] / "migrations"))
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        upgrade(revision="0010")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO legal_entities (id, code, name, currency, address, vat_number)"
                    " VALUES (1, 'B2B', 'b2bshop Supplies B.V.', 'EUR', 'x', 'NL000000000B01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO payment_terms (id, code, name, net_days, cash_discount_percent,"
                    " cash_discount_days, active) VALUES (1, 'N30', 'Net 30', 30, 0, 0, 1)"
                )
            )
            for i, number in enumerate(("C-1000", "C-1001", "C-2001", "C-9999"), start=1):
                conn.execute(
                    text(
                        "INSERT INTO customers (id, legal_entity_id, number, name, email,"
                        " currency, payment_terms_id, credit_limit, active)"
                        " VALUES (:id, 1, :n, :n, 'a@b.example', 'EUR', 1, 0, 1)"
                    ),
                    {"id": i, "n": number},
                )
        upgrade(revision="0012")
        downgrade(revision="0010")
        upgrade(revision="0012")
        with engine.connect() as conn:
            seller = conn.execute(text("SELECT * FROM legal_entities")).mappings().one()
            rows = conn.execute(text("SELECT * FROM customers ORDER BY number")).mappings().all()
    engine.dispose()
    with app.app_context():
        db.engine.dispose()
    assert parties.compact_vat(seller["vat_number"]) == "NL812345678B01"
    assert parties.compact_iban(seller["iban"]) == seller["iban"]
    filled = {row["number"]: row for row in rows}
    for number in ("C-1000", "C-1001", "C-2001"):
        row = filled[number]
        assert parties.compact_vat(row["vat_number"]) == row["vat_number"]
        assert parties.peppol_endpoint(row["peppol_scheme"], row["peppol_id"])[1]
        assert row["einvoice_format"] in ("pdf_ubl", "facturx")
    # A customer the demo does not know keeps blanks and the PDF default.
    assert (filled["C-9999"]["vat_number"], filled["C-9999"]["einvoice_format"]) == ("", "pdf")


@pytest.fixture
def admin(client, login, demo):
    return login(ADMIN)


def _contoso(app) -> Customer:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.number == "C-1001"))
        db.session.expunge_all()
        return customer


def test_admin_edits_customer_einvoice_data(app, admin):
    customer = _contoso(app)
    page = admin.get(f"/admin/customers/{customer.id}/einvoice")
    assert page.status_code == 200
    assert "BE0403177530" in page.get_data(as_text=True)
    data = {
        "street": "Rue Royale 120",
        "postal_code": "1000",
        "city": "Bruxelles",
        "country_code": "BE",
        "vat_number": "BE0403177530",
        "peppol_scheme": "9925",
        "peppol_id": "BE0403177530",
        "einvoice_format": "facturx",
    }
    response = admin.post(f"/admin/customers/{customer.id}/einvoice", data=data)
    assert response.status_code == 302
    assert _contoso(app).einvoice_format == EInvoiceFormat.FACTURX
    refused = admin.post(
        f"/admin/customers/{customer.id}/einvoice", data={**data, "vat_number": "BE0403177531"}
    )
    assert refused.status_code == 422
    assert "not a valid VAT number" in refused.get_data(as_text=True)
    assert _contoso(app).vat_number == "BE0403177530"
    shown = admin.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    assert "9925:BE0403177530" in shown and "Rue Royale 120, 1000 Bruxelles, BE" in shown


def test_admin_edits_the_store_legal_data(app, admin):
    page = admin.get("/admin/settings/legal")
    assert page.status_code == 200 and "NL91ABNA0417164300" in page.get_data(as_text=True)
    data = {
        "name": "b2bshop Supplies B.V.",
        "street": "Keizersgracht 2",
        "postal_code": "1015 CJ",
        "city": "Amsterdam",
        "country_code": "NL",
        "vat_number": "NL812345678B01",
        "registration_number": "81234567",
        "iban": "NL91 ABNA 0417 1643 00",
        "bic": "ABNANL2A",
        "peppol_scheme": "0106",
        "peppol_id": "81234567",
        "vat_exemption_reason": "Exempt",
    }
    assert admin.post("/admin/settings/legal", data=data).status_code == 302
    with app.app_context():
        entity = db.session.scalar(select(LegalEntity))
        assert (entity.street, entity.iban) == ("Keizersgracht 2", "NL91ABNA0417164300")
    refused = admin.post("/admin/settings/legal", data={**data, "iban": "NL92ABNA0417164300"})
    assert refused.status_code == 422 and "not a valid IBAN" in refused.get_data(as_text=True)


def test_einvoice_admin_pages_are_not_found_for_buyers(app, client, login, demo):
    buyer = login("buyer@contoso.example")
    customer = _contoso(app)
    assert buyer.get("/admin/settings/legal").status_code == 404
    assert buyer.get(f"/admin/customers/{customer.id}/einvoice").status_code == 404
