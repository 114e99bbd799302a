"""The number of SQL queries per page does not grow with the data (issue 3.7)."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from b2bshop.extensions import db
from tests import factories

FRAGMENT = {"HX-Request": "true"}


@contextmanager
def count_queries(app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _make_data(app, own: int, org: int) -> None:
    with app.app_context():
        group = factories.customer("Org")
        customer = factories.customer("Own", invoice_account=group)
        factories.user("counter@example.com", customer=customer, password="pw")
        for n in range(own):
            factories.invoice(customer, f"{10 + n}.00", days_ago=n % 60)
        for n in range(org):
            factories.invoice(group, f"{20 + n}.00", days_ago=n % 90)
        db.session.commit()


@pytest.mark.parametrize("size", [(3, 4), (70, 130)], ids=["small", "large"])
def test_invoice_fragment_query_count_is_constant(app, client, login, size):
    _make_data(app, *size)
    login("counter@example.com", "pw")
    urls = [
        "/invoices",
        "/invoices?status=unpaid",
        "/invoices?status=overdue&sort=-amount",
        "/invoices?account=org&sort=number",
        "/invoices?q=INV&due_from=2020-01-01",
    ]
    counts = {}
    for url in urls:
        with count_queries(app) as statements:
            html = client.get(url, headers=FRAGMENT).get_data(as_text=True)
        counts[url] = len(statements)
        # follow to the next page, where there is one: a deep page costs the same
        match = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
        if match:
            with count_queries(app) as statements:
                client.get(match.group(1).replace("&amp;", "&"), headers=FRAGMENT)
            counts[url + " (next page)"] = len(statements)
    assert max(counts.values()) <= 5, counts
    assert len(set(counts.values())) == 1, counts
    if size == (70, 130):
        assert any("next page" in k for k in counts)


def test_full_page_query_count_is_constant(app, client, login):
    _make_data(app, 5, 5)
    login("counter@example.com", "pw")
    with count_queries(app) as small:
        client.get("/invoices")
    _make_data_more(app, 150)
    with count_queries(app) as large:
        client.get("/invoices")
    assert len(small) == len(large) <= 6, (small, large)


def _make_data_more(app, n: int) -> None:
    with app.app_context():
        from b2bshop.accounts.models import Customer

        customer = db.session.query(Customer).filter_by(name="Own").one()
        for i in range(n):
            factories.invoice(customer, f"{30 + i}.00", days_ago=i % 30)
        db.session.commit()


def _admin_data(app, n: int, first: int = 0) -> None:
    import uuid
    from decimal import Decimal

    from b2bshop.accounts.models import Role
    from b2bshop.audit import service as audit
    from b2bshop.payments.models import PaymentMethod
    from b2bshop.payments.service import Allocation, record_payment
    from b2bshop.sales.models import SalesOrder

    with app.app_context():
        if not first:
            factories.user("boss@example.com", password="pw", role=Role.STORE_ADMIN)
        for i in range(first, first + n):
            customer = factories.customer(f"Customer {i}")
            invoice = factories.invoice(customer, "50.00", days_ago=i % 60)
            record_payment(
                None, customer, [Allocation(invoice.id, Decimal(1))], PaymentMethod.MANUAL
            )
            db.session.add(
                SalesOrder(
                    number=f"SO-{uuid.uuid4().hex[:8]}",
                    customer=customer,
                    order_date=invoice.invoice_date,
                    payment_terms_id=customer.payment_terms_id,
                    currency="EUR",
                    total=Decimal(0),
                )
            )
            audit.record(None, "payment.record", "payment", str(i))
        db.session.commit()


def _admin_list_counts(app, client) -> dict[str, int]:
    counts = {}
    for url in ADMIN_LISTS:
        with count_queries(app) as statements:
            assert client.get(url, headers=FRAGMENT).status_code == 200
        counts[url] = len(statements)
    return counts


ADMIN_LISTS = [
    "/admin/customers",
    "/admin/orders",
    "/admin/invoices",
    "/admin/payments",
    "/admin/audit",
]


def test_admin_list_query_counts_are_constant(app, client, login):
    _admin_data(app, 2)
    login("boss@example.com", "pw")
    small = _admin_list_counts(app, client)
    _admin_data(app, 28, first=2)
    large = _admin_list_counts(app, client)
    # The session user, the count, the page with its related rows joined in: never per row.
    assert small == large
    assert max(large.values()) <= 5, large


def _statements(app, call) -> list[str]:  # type: ignore[no-untyped-def]
    with count_queries(app) as statements:
        call()
    # SQLite's BEGIN is sent as a statement; PostgreSQL's is implicit.
    return [s for s in statements if not s.startswith("BEGIN")]


def test_invoice_page_and_add_to_cart_query_counts_are_constant(app, client, login):
    """Issue 21: the invoice page reads the user (with the cart badge's count), the invoice
    with its terms and lines and its payments (3), whatever its payments; adding an
    invoice to the cart, or changing the amount of one in it, 5 statements, whatever the
    cart holds (the user, the invoice, the cart locked, its lines, the line written)."""
    from decimal import Decimal

    from b2bshop.payments.models import PaymentMethod
    from b2bshop.payments.service import Allocation, record_payment

    _make_data(app, 12, 0)
    with app.app_context():
        from b2bshop.accounts.models import Customer
        from b2bshop.billing.models import Invoice

        own = db.session.query(Customer).filter_by(name="Own").one()
        invoices = db.session.query(Invoice).order_by(Invoice.id).all()
        small, large = invoices[0].number, invoices[1].number
        for _ in range(3):
            record_payment(
                None, own, [Allocation(invoices[1].id, Decimal(1))], PaymentMethod.MANUAL
            )
        numbers = [i.number for i in invoices]
        db.session.commit()
    login("counter@example.com", "pw")
    counts = {
        number: len(_statements(app, lambda n=number: client.get(f"/invoices/{n}")))
        for number in (small, large)
    }
    assert counts[small] == counts[large] == 3, counts

    def add(number: str, amount: str = "") -> None:
        form = {"invoice": number, "amount": amount}
        response = client.post("/cart/invoices", data=form, headers=FRAGMENT)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    add(numbers[2])  # the cart exists from here on
    # The frame's cart badge counts the lines already in the cart, with no query of its own.
    with count_queries(app) as statements:
        html = client.get(f"/invoices/{numbers[2]}").get_data(as_text=True)
    assert not any(s.startswith("SELECT count(cart_lines.id)") for s in statements), statements
    assert re.search(r'id="cart-badge"[^>]*aria-label="1 line in the cart">1</span>', html)
    first = _statements(app, lambda: add(numbers[3]))
    for number in numbers[4:10]:
        add(number)
    later = _statements(app, lambda: add(numbers[10]))
    # The same invoice again: its line's amount changes, with the same statements (its
    # invoice is not loaded a second time).
    again = _statements(app, lambda: add(numbers[10], "1.00"))
    assert len(first) == len(later) == len(again) == 5, (first, later, again)
