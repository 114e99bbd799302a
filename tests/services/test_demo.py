"""Demo data (issue 2.9): every sign-in and every invoice state DESIGN.md promises."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from b2bshop import demo
from b2bshop.accounts.models import Customer, Role, User
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.catalog.models import Product
from b2bshop.extensions import db


def test_demo_accounts_and_invoice_states(app_ctx):
    today = date.today()
    demo.load(today)
    db.session.commit()
    users = {u.email: u for u in db.session.scalars(select(User))}
    assert set(users) == {
        "buyer@contoso.example",
        "ap@contoso.example",
        "buyer@fabrikam.example",
        "admin@b2bshop.example",
    }
    assert users["admin@b2bshop.example"].role == Role.STORE_ADMIN
    assert (
        users["ap@contoso.example"].may_pay_invoices and not users["ap@contoso.example"].may_order
    )
    retail = users["buyer@contoso.example"].customer
    assert retail.name == "Contoso Retail" and retail.invoice_account.name == "Contoso Group"
    assert users["buyer@fabrikam.example"].customer.invoice_account is None
    assert db.session.query(Product).count() >= 30

    for customer in db.session.scalars(select(Customer)):
        invoices = db.session.scalars(select(Invoice).where(Invoice.customer == customer)).all()
        states = {i.status for i in invoices}
        assert states == set(InvoiceStatus), customer.name
        assert any(i.is_overdue(today) for i in invoices), customer.name
        assert any(
            i.is_overdue(today) and i.status == InvoiceStatus.PARTIALLY_PAID for i in invoices
        ), customer.name
    retail_invoices = db.session.scalars(select(Invoice).where(Invoice.customer == retail))
    assert any(i.cash_discount_open(today) for i in retail_invoices)


def test_demo_command_only_fills_an_empty_database(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--if-empty"])
    assert first.exit_code == 0 and "Demo data loaded" in first.output
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0
    with app.app_context():
        assert db.session.query(User).count() == 4
