"""My account history (issue 18): /account/orders and /account/payments: scoped to the
buyer's customer, with lines, backorders, deliveries and invoices; filters, keyset pages,
HTMX fragments, CSV, and a constant number of queries whatever the history's size."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from b2bshop.accounts.models import Role
from b2bshop.extensions import db
from b2bshop.payments.models import PaymentMethod, PaymentStatus
from b2bshop.payments.service import Allocation, create_payment
from b2bshop.sales import service as sales
from b2bshop.sales.service import OrderLineInput
from tests import factories
from tests.web.test_query_counts import FRAGMENT, count_queries

PASSWORD = "pw"


def _history(app, orders: int, payments: int) -> dict:
    """Orders and payments for 'Own' (the buyer's customer) and one of each for 'Other'."""
    with app.app_context():
        own = factories.customer("Own", credit_limit="1000000")
        other = factories.customer("Other", credit_limit="1000000")
        buyer = factories.user("history@example.com", customer=own, password=PASSWORD)
        stranger = factories.user("stranger@example.com", customer=other, password=PASSWORD)
        admin = factories.user(role=Role.STORE_ADMIN)
        scarce = factories.product("SCARCE", price="5.00", stock=2)
        plenty = factories.product("PLENTY", price="7.00", stock=100000)
        numbers = []
        for n in range(orders):
            order = sales.place_order(
                buyer,
                own,
                [OrderLineInput(scarce.id, 3), OrderLineInput(plenty.id, 1 + n % 3)],
                confirm=True,
            )
            numbers.append(order.number)
        # The first order delivered and invoiced: its packing slip and invoice show.
        first = (
            db.session.scalar(
                db.select(sales.SalesOrder).where(sales.SalesOrder.number == numbers[0])
            )
            if numbers
            else None
        )
        slip_number = invoice_number = None
        if first is not None:
            plenty_line = next(ln for ln in first.lines if ln.product_id == plenty.id)
            slip = sales.post_packing_slip(admin, first, {plenty_line.id: plenty_line.quantity})
            invoice = sales.invoice_packing_slips(admin, [slip.id])
            slip_number, invoice_number = slip.number, invoice.number
        if len(numbers) > 1:
            second = db.session.scalar(
                db.select(sales.SalesOrder).where(sales.SalesOrder.number == numbers[1])
            )
            sales.cancel_order(admin, second)
        foreign = sales.place_order(stranger, other, [OrderLineInput(plenty.id, 1)], confirm=True)
        pay_numbers = []
        for n in range(payments):
            inv = factories.invoice(own, f"{10 + n}.00")
            method, status = (
                (PaymentMethod.BANK_TRANSFER, PaymentStatus.PENDING)
                if n == 0
                else (PaymentMethod.CARD, PaymentStatus.COMPLETED)
            )
            payment = create_payment(
                buyer, own, [Allocation(inv.id, Decimal(f"{10 + n}.00"))], method, status=status
            )
            pay_numbers.append(payment.number)
        other_invoice = factories.invoice(other, "50.00")
        foreign_payment = create_payment(
            stranger, other, [Allocation(other_invoice.id, Decimal("50.00"))], PaymentMethod.CARD
        )
        db.session.commit()
        return {
            "orders": numbers,
            "foreign_order": foreign.number,
            "slip": slip_number,
            "invoice": invoice_number,
            "payments": pay_numbers,
            "foreign_payment": foreign_payment.number,
        }


@pytest.fixture
def buyer(app, client):
    def sign_in():
        assert (
            client.post(
                "/login", data={"email": "history@example.com", "password": PASSWORD}
            ).status_code
            == 302
        )
        return client

    return sign_in


def test_orders_show_lines_backorders_deliveries_and_invoices(app, client, buyer):
    data = _history(app, orders=3, payments=0)
    html = buyer().get("/account/orders").get_data(as_text=True)
    for number in data["orders"]:
        assert number in html
    assert data["foreign_order"] not in html
    assert "3 orders" in html
    # Stock of 2 covered the first order's SCARCE line partly: 1 on backorder, then 3, 3.
    first = html[html.index(f'id="order-{data["orders"][0]}"') :]
    first = first[: first.index("</section>")]
    assert re.search(r'data-label="Backordered" class="num">1<', first)
    assert data["slip"] in first and data["invoice"] in first
    assert f'href="/invoices/{data["invoice"]}"' in first
    # Filters, the HTMX fragment and its pushed URL.
    fragment = client.get("/account/orders?status=cancelled", headers=FRAGMENT)
    assert fragment.headers["HX-Push-Url"] == "/account/orders?status=cancelled"
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and data["orders"][1] in body and data["orders"][0] not in body
    only = client.get(f"/account/orders?q={data['orders'][2]}").get_data(as_text=True)
    assert data["orders"][2] in only and data["orders"][1] not in only
    refused = client.get("/account/orders?status=bogus&date_from=2026-02-31").get_data(as_text=True)
    assert "not understood" in refused and data["orders"][1] in refused


def test_orders_csv_is_the_filtered_scoped_list(app, client, buyer):
    data = _history(app, orders=3, payments=0)
    text = buyer().get("/account/orders.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["number", "order_date", "status", "currency", "total"]
    assert sorted(r[0] for r in rows[1:]) == sorted(data["orders"])
    first = next(r for r in rows if r[0] == data["orders"][0])
    assert first[6] == "1" and first[7] == data["slip"] and first[8] == data["invoice"]
    rows = list(
        csv.reader(
            io.StringIO(client.get("/account/orders.csv?status=cancelled").get_data(as_text=True))
        )
    )
    assert [r[0] for r in rows[1:]] == [data["orders"][1]]


def test_payments_with_pending_transfers_and_receipts(app, client, buyer):
    data = _history(app, orders=0, payments=3)
    html = buyer().get("/account/payments").get_data(as_text=True)
    for number in data["payments"]:
        assert number in html and f'href="/payments/{number}"' in html
    assert data["foreign_payment"] not in html
    assert "Pending transfer" in html
    pending = client.get("/account/payments?status=pending&method=bank_transfer").get_data(
        as_text=True
    )
    assert data["payments"][0] in pending and data["payments"][1] not in pending
    rows = list(csv.reader(io.StringIO(client.get("/account/payments.csv").get_data(as_text=True))))
    assert rows[0] == ["number", "date", "method", "status", "currency", "amount"]
    assert {r[0]: (r[2], r[3]) for r in rows[1:]}[data["payments"][0]] == (
        "bank_transfer",
        "pending",
    )
    assert data["foreign_payment"] not in {r[0] for r in rows}
    # Another customer's receipt is not found.
    assert client.get(f"/payments/{data['foreign_payment']}").status_code == 404


def test_store_admins_and_anonymous_visitors(app, client, login, demo):
    assert client.get("/account/orders").status_code == 302  # sign in first
    login("admin@b2bshop.example")
    assert client.get("/account/orders").status_code == 403
    assert client.get("/account/payments.csv").status_code == 403


def _count(app, client, url: str) -> int:
    with count_queries(app) as statements:
        response = client.get(url, headers=FRAGMENT)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("url", ["/account/orders", "/account/payments", "/quotations"])
def test_query_count_does_not_grow_with_the_history(app, client, buyer, url):
    _history(app, orders=2, payments=2)
    buyer()
    small = _count(app, client, url)
    with app.app_context():
        from b2bshop.accounts.models import Customer, User
        from b2bshop.quotations import service as quotations

        user = db.session.scalar(db.select(User).where(User.email == "history@example.com"))
        own = db.session.get(Customer, user.customer_id)
        plenty = db.session.scalar(db.select(sales.Product).where(sales.Product.sku == "PLENTY"))
        for n in range(40):
            scarce = db.session.scalar(
                db.select(sales.Product).where(sales.Product.sku == "SCARCE")
            )
            lines = [OrderLineInput(plenty.id, 1 + n % 4), OrderLineInput(scarce.id, 1)]
            sales.place_order(user, own, lines, confirm=True)
            invoice = factories.invoice(own, "5.00")
            create_payment(user, own, [Allocation(invoice.id, Decimal("5.00"))], PaymentMethod.CARD)
            quotations.create_draft(user, own)
        db.session.commit()
    large = _count(app, client, url)
    html = client.get(url, headers=FRAGMENT).get_data(as_text=True)
    match = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
    assert match, "40 more rows make a second page"
    with count_queries(app) as statements:
        client.get(match.group(1).replace("&amp;", "&"), headers=FRAGMENT)
    deep = len(statements)
    # The deep page holds the same kinds of rows as the small history (a delivered and
    # invoiced order, backorders): the same queries. The first page of the large one has no
    # delivery, so one loader has nothing to fetch.
    assert deep == small and large <= small, (small, large, deep)
    assert small <= 12, small
