"""The e-invoices of a filtered list as one streamed ZIP (issue 16), capped with a message."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

from sqlalchemy import select

from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from tests import factories
from tests.web.test_einvoices import _buyer, _customer, _seller

PASSWORD = "secret-pass"


def _setup(app, count: int = 3) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    with app.app_context():
        _seller()
        customer = _customer("Plain Retail")
        email = _buyer(customer)
        numbers = [
            factories.invoice(customer, f"{100 + i}.00", days_ago=i, tax_rate="21").number
            for i in range(count)
        ]
        stranger = factories.customer("Stranger")
        factories.invoice(stranger, "999.00")
        db.session.commit()
    return email, numbers


def test_zip_of_the_filtered_list_in_each_format(app, client, login):
    email, numbers = _setup(app)
    login(email, PASSWORD)
    response = client.get("/invoices.zip?format=ubl&sort=number")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == [f"{n}.ubl.xml" for n in numbers]
    assert archive.testzip() is None
    assert b"<cbc:ID>" + numbers[0].encode() in archive.read(f"{numbers[0]}.ubl.xml")
    # The filter applies: only what is due from a date on.
    due_from = (date.today() - timedelta(days=1) + timedelta(days=30)).isoformat()
    response = client.get(f"/invoices.zip?format=facturx&due_from={due_from}&sort=number")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == [f"{n}.facturx.pdf" for n in numbers[:2]]
    assert archive.read(f"{numbers[0]}.facturx.pdf").startswith(b"%PDF")
    assert client.get("/invoices.zip?format=pdf").status_code == 404


def test_zip_past_its_maximum_is_refused_with_a_message(app, client, login):
    email, _numbers = _setup(app, count=3)
    app.config["EINVOICE_ZIP_MAX_UBL"] = 2
    try:
        login(email, PASSWORD)
        response = client.get("/invoices.zip?format=ubl")
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "The filter matches 3 invoices; one ZIP holds at most 2." in page
        # Narrowed to two, it goes through.
        response = client.get(
            "/invoices.zip?format=ubl&status=unpaid&due_to="
            + (date.today() + timedelta(days=29)).isoformat()
        )
        assert response.status_code == 200
        assert len(zipfile.ZipFile(io.BytesIO(response.data)).namelist()) == 2
    finally:
        app.config["EINVOICE_ZIP_MAX_UBL"] = 500


def test_zip_is_linked_from_the_list_and_scoped(app, client, login):
    email, numbers = _setup(app)
    login(email, PASSWORD)
    rows = client.get("/invoices?status=unpaid", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "/invoices.zip?format=ubl&amp;status=unpaid" in rows
    assert "/invoices.zip?format=facturx&amp;status=unpaid" in rows
    archive = zipfile.ZipFile(io.BytesIO(client.get("/invoices.zip").data))
    with app.app_context():
        theirs = db.session.scalar(select(Invoice.number).where(Invoice.total == 999))
    assert theirs not in numbers
    assert sorted(archive.namelist()) == sorted(f"{n}.ubl.xml" for n in numbers)
