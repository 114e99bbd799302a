"""Views marked @read_only never write, and on PostgreSQL they run without a transaction
(b2bshop/core/read_only.py)."""

from __future__ import annotations

from sqlalchemy import event, select

from b2bshop.billing.models import Invoice
from b2bshop.core.read_only import is_read_only
from b2bshop.extensions import db
from tests.conftest import ON_POSTGRES

FRAGMENT = {"HX-Request": "true"}


def test_read_only_views_never_write_and_skip_the_transaction(app, demo, client, login):
    with app.app_context():
        number = db.session.scalar(select(Invoice.number).order_by(Invoice.id).limit(1))
        engine = db.engine
    marked = sorted(e for e in app.view_functions if is_read_only(app, e))
    assert marked == [
        "billing.invoice_facturx",
        "billing.invoice_pdf",
        "billing.invoice_ubl",
        "billing.list_invoices",
        "billing.show_invoice",
        "billing.statement_pdf",
        "history.list_orders",
        "history.list_payments",
        "quotations.list_quotations",
        "quotations.quotation_pdf",
        "quotations.show_quotation",
        "suggestions.cart_suggestions",
        "suggestions.show_product",
    ]
    with app.app_context():  # a quotation of the buyer's, for its page and PDF (issue 18)
        from b2bshop.accounts.models import User
        from b2bshop.quotations.service import create_draft

        buyer = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        quotation = create_draft(buyer, buyer.customer).number
        db.session.commit()
    login("buyer@contoso.example")
    urls = [
        ("/invoices", {}),
        ("/invoices?status=unpaid", FRAGMENT),
        (f"/invoices/{number}", {}),
        (f"/invoices/{number}", FRAGMENT),
        (f"/invoices/{number}.pdf", {}),
        (f"/invoices/{number}.ubl.xml", {}),
        (f"/invoices/{number}.facturx.pdf", {}),
        ("/account/statement.pdf", {}),
        ("/account/orders", {}),
        ("/account/orders?status=confirmed", FRAGMENT),
        ("/account/payments", {}),
        ("/quotations", {}),
        (f"/quotations/{quotation}", {}),
        (f"/quotations/{quotation}.pdf", {}),
        ("/suggestions/cart", FRAGMENT),
        ("/products/OFF-PAP-A4", {}),
    ]
    seen: list[tuple[str, bool | None]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        dbapi = conn.connection.dbapi_connection
        seen.append((statement, getattr(dbapi, "autocommit", None)))

    event.listen(engine, "before_cursor_execute", before)
    try:
        for url, headers in urls:
            seen.clear()
            assert client.get(url, headers=headers).status_code == 200, url
            assert seen, url
            writes = [s for s, _ in seen if s.split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
            assert not writes, (url, writes)
            if ON_POSTGRES:
                assert all(autocommit is True for _, autocommit in seen), (url, seen)
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_writing_views_keep_their_transaction(app, demo, client, login):
    """The cart's POST is not marked: on PostgreSQL it still runs in one transaction."""
    with app.app_context():
        number = db.session.scalar(
            select(Invoice.number).where(Invoice.status != "paid").order_by(Invoice.id).limit(1)
        )
        engine = db.engine
    login("buyer@contoso.example")
    modes: list[bool | None] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        modes.append(getattr(conn.connection.dbapi_connection, "autocommit", None))

    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.post("/cart/invoices", data={"invoice": number}, headers=FRAGMENT)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200
    assert modes and not any(mode is True for mode in modes)
