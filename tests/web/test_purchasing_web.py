"""Vendors, purchase orders, receipts and the backorder list through the web (issue 19)."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.purchasing import service
from b2bshop.purchasing.models import PurchaseOrder, Receipt, Vendor
from b2bshop.sales import service as sales
from b2bshop.sales.models import SalesOrderLine
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.test_query_counts import count_queries

TODAY = date.today()
HX = {"HX-Request": "true"}


@pytest.fixture
def shop(app):
    with app.app_context():
        admin = factories.user("admin@shop.example", role=Role.STORE_ADMIN, password="pw")
        customer = factories.customer("Waiting Co")
        buyer = factories.user("buyer@waiting.example", customer=customer, password="pw")
        other = factories.user("buyer@other.example", password="pw")
        product = factories.product("NUT-1", price="2.00", stock=0)
        vendor = service.save_vendor(admin, None, service.VendorInput("Nuts Inc"))
        old = sales.place_order(
            buyer, customer, [sales.OrderLineInput(product.id, 5)], confirm=True,
            requested_ship_date=TODAY + timedelta(days=1),
        )  # fmt: skip
        new = sales.place_order(
            other, other.customer, [sales.OrderLineInput(product.id, 5)], confirm=True,
            requested_ship_date=TODAY + timedelta(days=9),
        )  # fmt: skip
        db.session.commit()
        return {
            "product": product.id,
            "vendor": vendor.id,
            "old": old.number,
            "new": new.number,
            "old_line": old.lines[0].id,
            "new_line": new.lines[0].id,
        }


def _admin(client, login):
    return login("admin@shop.example", "pw", client)


def _new_po(client, shop, qty="6", expected=None, key=None):
    return client.post(
        "/admin/purchase-orders/new",
        data={
            "idempotency_key": key or str(uuid.uuid4()),
            "vendor_id": shop["vendor"],
            "product-0": shop["product"],
            "quantity-0": qty,
            "expected-0": expected or (TODAY + timedelta(days=4)).isoformat(),
        },
    )


def test_a_receipt_allocates_to_the_oldest_backorder_and_the_buyer_sees_it(
    app, client, login, shop
):
    _admin(client, login)
    response = _new_po(client, shop)
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[1]
    client.post("/logout")
    login("buyer@waiting.example", "pw", client)
    orders = client.get("/account/orders").get_data(as_text=True)
    expected = f"Expected {TODAY + timedelta(days=4):%b} {(TODAY + timedelta(days=4)).day}"
    assert expected in orders, orders[-3000:]
    client.post("/logout")
    _admin(client, login)
    page = client.get(f"/admin/purchase-orders/{number}").get_data(as_text=True)
    with app.app_context():
        po = db.session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
        line_id = po.lines[0].id
    seen = re.search(r'name="receipts_seen" value="(\d+)"', page).group(1)
    response = client.post(
        f"/admin/purchase-orders/{number}/receipts",
        data={f"qty-{line_id}": "6", "receipts_seen": seen},
    )
    assert response.status_code == 302
    flash = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "6 allocated to waiting orders" in flash
    with app.app_context():
        old = db.session.get(SalesOrderLine, shop["old_line"])
        new = db.session.get(SalesOrderLine, shop["new_line"])
        assert (old.backorder_quantity, new.backorder_quantity) == (0, 4)
    # The same form again (a double submit): refused, nothing received twice.
    again = client.post(
        f"/admin/purchase-orders/{number}/receipts",
        data={f"qty-{line_id}": "6", "receipts_seen": "0"},
    )
    assert again.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count(Receipt.id))) == 1
    client.post("/logout")
    login("buyer@waiting.example", "pw", client)
    orders = client.get("/account/orders").get_data(as_text=True)
    assert "Expected date not known yet" not in orders and "Expected " not in orders


@pytest.mark.parametrize(
    ("qty", "expected", "message"),
    [
        ("-3", None, "whole numbers from 1 to"),
        ("1e3", None, "whole numbers from 1 to"),
        ("5", "2020-01-01", "today or later"),
        ("5", "tomorrow", "Enter the expected date as a date"),
        ("0", None, "at least one line"),
    ],
)
def test_bad_purchase_orders_are_refused(app, client, login, shop, qty, expected, message):
    _admin(client, login)
    response = _new_po(client, shop, qty=qty, expected=expected)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "There is a problem" in html
    with app.app_context():
        assert db.session.scalar(select(func.count(PurchaseOrder.id))) == 0


def test_a_double_submitted_purchase_order_is_made_once(app, client, login, shop):
    _admin(client, login)
    key = str(uuid.uuid4())
    first = _new_po(client, shop, key=key)
    again = _new_po(client, shop, key=key)
    assert first.headers["Location"] == again.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count(PurchaseOrder.id))) == 1


def test_bad_receipt_quantities_are_refused(app, client, login, shop):
    _admin(client, login)
    number = _new_po(client, shop).headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        line_id = (
            db.session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
            .lines[0]
            .id
        )
    for value, status in (("7", 422), ("x", 422), ("0", 422)):
        response = client.post(
            f"/admin/purchase-orders/{number}/receipts",
            data={f"qty-{line_id}": value, "receipts_seen": "0"},
        )
        assert response.status_code == status, value
        assert 'aria-invalid="true"' in response.get_data(as_text=True) or value in ("7", "0")
    with app.app_context():
        assert db.session.scalar(select(func.count(Receipt.id))) == 0
        assert db.session.get(Product, shop["product"]).stock_on_hand == 0
    assert client.get("/admin/purchase-orders/PO-999999").status_code == 404


def test_vendors_are_created_once_and_validated(app, client, login, shop):
    _admin(client, login)
    form = client.get("/admin/vendors/new").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', form).group(1)
    data = {
        "name": "Screws & <Co>",
        "email": "sales@screws.example",
        "active": "y",
        "idempotency_key": key,
    }
    assert client.post("/admin/vendors/new", data=data).status_code == 302
    assert client.post("/admin/vendors/new", data=data).status_code == 302
    bad = client.post(
        "/admin/vendors/new", data={**data, "email": "a@", "idempotency_key": str(uuid.uuid4())}
    )
    assert bad.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count(Vendor.id))) == 2  # the fixture's and this one
    listing = client.get("/admin/vendors").get_data(as_text=True)
    assert "Screws &amp; &lt;Co&gt;" in listing
    assert client.get("/admin/vendors?q=screws", headers=HX).status_code == 200


@pytest.mark.parametrize("by", ["item", "customer", "vendor", "bogus"])
def test_backorder_list_by_item_customer_and_vendor(app, client, login, shop, by):
    _admin(client, login)
    _new_po(client, shop)
    html = client.get(f"/admin/backorders?by={by}").get_data(as_text=True)
    assert shop["old"] in html and shop["new"] in html
    assert "PO-" in html and "Nuts Inc" in html
    if by in ("item", "bogus"):
        assert "Save allocation" in html and "0 on hand" in html


def test_admin_splits_stock_and_the_next_packing_slip_delivers_it(app, client, login, shop):
    with app.app_context():
        db.session.get(Product, shop["product"]).stock_on_hand = 3
        db.session.commit()
    _admin(client, login)
    response = client.post(
        "/admin/backorders/allocate",
        data={
            "product_id": shop["product"],
            "stock_seen": "3",
            f"alloc-{shop['new_line']}": "3",
            f"priority-{shop['new_line']}": "1",
        },
    )
    assert response.status_code == 302
    html = client.get("/admin/backorders?by=item").get_data(as_text=True)
    assert re.search(rf'data-order="{shop["new"]}".*?class="num allocated">3<', html, re.S)
    order = client.get(f"/admin/orders/{shop['new']}").get_data(as_text=True)
    assert "Post packing slip" in order
    response = client.post(
        f"/admin/orders/{shop['new']}/packing-slips",
        data={f"qty-{shop['new_line']}": "3", "slips_seen": "0"},
    )
    assert response.status_code == 302
    with app.app_context():
        line = db.session.get(SalesOrderLine, shop["new_line"])
        assert line.delivered_quantity == 3 and line.allocation_priority == 1
        assert db.session.get(Product, shop["product"]).stock_on_hand == 0


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"alloc": "4"}, 422, "Only 3 of NUT-1 on hand"),
        ({"alloc": "x"}, 422, "whole numbers"),
        ({"alloc": "1", "stock_seen": "9"}, 409, "changed meanwhile"),
        ({"priority": "-1"}, 422, "A priority is a whole number"),
    ],
)
def test_bad_allocations_change_nothing(app, client, login, shop, data, status, message):
    with app.app_context():
        db.session.get(Product, shop["product"]).stock_on_hand = 3
        db.session.commit()
    _admin(client, login)
    form = {"product_id": shop["product"], "stock_seen": data.get("stock_seen", "3")}
    if "alloc" in data:
        form[f"alloc-{shop['old_line']}"] = data["alloc"]
    if "priority" in data:
        form[f"priority-{shop['old_line']}"] = data["priority"]
    response = client.post("/admin/backorders/allocate", data=form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Product, shop["product"]).stock_on_hand == 3
        assert db.session.get(SalesOrderLine, shop["old_line"]).backorder_quantity == 5
    assert client.post("/admin/backorders/allocate", data={"product_id": "x"}).status_code == 404


@pytest.mark.parametrize("extra", [0, 30])
def test_backorder_list_queries_are_constant(app, client, login, shop, extra):
    with app.app_context():
        vendor = db.session.get(Vendor, shop["vendor"])
        admin = db.session.scalar(
            select(factories.User).where(factories.User.role == Role.STORE_ADMIN)
        )
        for n in range(extra):
            p = factories.product(f"X-{n}", stock=0)
            c = factories.customer()
            sales.place_order(
                factories.user(customer=c), c, [sales.OrderLineInput(p.id, 2)], confirm=True
            )
            service.create_purchase_order(
                admin, vendor.id, [service.PurchaseLineInput(p.id, 1, TODAY)]
            )
        db.session.commit()
    _admin(client, login)
    counts = []
    for by in ("item", "customer", "vendor"):
        with count_queries(app) as statements:
            assert client.get(f"/admin/backorders?by={by}").status_code == 200
        counts.append(len(statements))
    assert max(counts) <= 12, counts


def test_buyer_order_list_queries_do_not_grow_with_backorders(app, client, login, shop):
    with app.app_context():
        buyer = db.session.scalar(
            select(factories.User).where(factories.User.email == "buyer@waiting.example")
        )
        for n in range(15):
            p = factories.product(f"B-{n}", stock=0)
            sales.place_order(buyer, buyer.customer, [sales.OrderLineInput(p.id, 1)], confirm=True)
        db.session.commit()
    login("buyer@waiting.example", "pw", client)
    with count_queries(app) as statements:
        html = client.get("/account/orders").get_data(as_text=True)
    assert html.count("Expected date not known yet") >= 15
    assert len(statements) <= 20, len(statements)


def test_purchasing_posts_without_csrf_are_refused(make_app, app, shop):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"email": "admin@shop.example", "password": "pw", "csrf_token": token}
    )
    response = client.post(
        "/admin/backorders/allocate",
        data={"product_id": shop["product"], f"alloc-{shop['old_line']}": "1"},
    )
    assert response.status_code == 400
    assert client.post("/cart/ship-date", data={"requested_ship_date": ""}).status_code in (
        400,
        403,
    )


def test_buyers_cannot_reach_purchasing(app, client, login, shop):
    login("buyer@waiting.example", "pw", client)
    for url in (
        "/admin/vendors",
        "/admin/purchase-orders",
        "/admin/backorders",
        "/admin/agreements",
    ):
        assert client.get(url).status_code in (302, 403, 404), url
