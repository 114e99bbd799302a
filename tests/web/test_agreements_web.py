"""Sales agreements through the web: admin pages and transitions, the buyer's scoped page,
the cart priced on its requested ship date, checkout, refusals that change nothing."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.agreements.models import AgreementStatus, SalesAgreement, SalesAgreementLine
from b2bshop.cart.models import Cart
from b2bshop.extensions import db
from b2bshop.sales.models import SalesOrder
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.test_query_counts import count_queries

HX = {"HX-Request": "true"}
TODAY = date.today()


@pytest.fixture
def people(app):
    with app.app_context():
        customer = factories.customer("Acme Buyer Co")
        other = factories.customer("Other Co")
        factories.user("buyer@acme.example", customer=customer, password="pw")
        factories.user("buyer@other.example", customer=other, password="pw")
        factories.user("admin@shop.example", role=Role.STORE_ADMIN, password="pw")
        product = factories.product("BOLT-1", price="100.00", stock=50)
        db.session.commit()
        return {"customer": customer.id, "other": other.id, "product": product.id}


def _admin(client, login):
    return login("admin@shop.example", "pw", client)


def _create(client, people, **overrides) -> str:
    data = {
        "customer_id": people["customer"],
        "commitment_type": "product_quantity",
        "valid_from": TODAY.isoformat(),
        "valid_to": (TODAY + timedelta(days=30)).isoformat(),
        "idempotency_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    response = client.post("/admin/agreements/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def _add_line(client, number, people, **overrides):
    data = {"product_id": people["product"], "discount_percent": "8", "committed_quantity": "100"}
    data.update(overrides)
    return client.post(f"/admin/agreements/{number}/lines", data=data)


def _status(client, number, status, seen):
    return client.post(
        f"/admin/agreements/{number}/status", data={"status": status, "seen_status": seen}
    )


def _agreement(app, number) -> SalesAgreement:
    with app.app_context():
        agreement = db.session.scalar(select(SalesAgreement).where(SalesAgreement.number == number))
        db.session.expunge_all()
        return agreement


def test_admin_creates_an_agreement_on_hold_and_makes_it_effective(app, client, login, people):
    _admin(client, login)
    number = _create(client, people)
    assert number.startswith("SA-")
    assert _agreement(app, number).status == AgreementStatus.ON_HOLD
    page = client.get(f"/admin/agreements/{number}").get_data(as_text=True)
    assert "On hold" in page and "Make effective" in page
    assert _add_line(client, number, people).status_code == 302
    response = _status(client, number, "effective", "on_hold")
    assert response.status_code == 302
    assert _agreement(app, number).status == AgreementStatus.EFFECTIVE
    listing = client.get("/admin/agreements?status=effective").get_data(as_text=True)
    assert number in listing
    assert client.get("/admin/agreements", headers=HX).status_code == 200


def test_a_double_submit_creates_one_agreement(app, client, login, people):
    _admin(client, login)
    form = client.get("/admin/agreements/new").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', form).group(1)
    first = _create(client, people, idempotency_key=key)
    again = _create(client, people, idempotency_key=key)
    assert first == again
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesAgreement.id))) == 1
    assert _create(client, people) != first


def test_an_effective_agreement_refuses_edits(app, client, login, people):
    _admin(client, login)
    number = _create(client, people)
    _add_line(client, number, people)
    _status(client, number, "effective", "on_hold")
    response = _add_line(client, number, people, discount_percent="50")
    assert response.status_code == 409
    assert "only an agreement on hold can be edited" in response.get_data(as_text=True)
    edit = client.post(
        f"/admin/agreements/{number}/edit",
        data={
            "customer_id": people["customer"],
            "commitment_type": "product_quantity",
            "valid_from": TODAY.isoformat(),
            "valid_to": (TODAY + timedelta(days=300)).isoformat(),
        },
    )
    assert edit.status_code == 422
    with app.app_context():
        line = db.session.scalar(select(SalesAgreementLine))
        assert line.discount_percent == Decimal("8.00")
        assert db.session.scalar(select(SalesAgreement.valid_to)) == TODAY + timedelta(days=30)


def test_transitions_are_guarded(app, client, login, people):
    _admin(client, login)
    number = _create(client, people)
    # Without a line it cannot take effect.
    assert _status(client, number, "effective", "on_hold").status_code == 422
    _add_line(client, number, people)
    assert _status(client, number, "effective", "on_hold").status_code == 302
    # A second admin's page still showed "on hold": the double submit changes nothing.
    stale = _status(client, number, "effective", "on_hold")
    assert stale.status_code == 409 and "changed meanwhile" in stale.get_data(as_text=True)
    assert _status(client, number, "closed", "effective").status_code == 302
    # Closed is final.
    assert _status(client, number, "effective", "closed").status_code == 409
    assert _status(client, number, "bogus", "closed").status_code == 422
    assert _agreement(app, number).status == AgreementStatus.CLOSED


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("valid_to", (TODAY - timedelta(days=1)).isoformat(), "ends on or after"),
        ("valid_from", "not-a-date", "Not a valid date value."),
        ("customer_id", "99999999999", "Invalid Choice"),
    ],
)
def test_bad_agreement_input_is_refused(app, client, login, people, field, value, message):
    _admin(client, login)
    data = {
        "customer_id": people["customer"],
        "commitment_type": "product_quantity",
        "valid_from": TODAY.isoformat(),
        "valid_to": (TODAY + timedelta(days=30)).isoformat(),
        "idempotency_key": str(uuid.uuid4()),
        field: value,
    }
    response = client.post("/admin/agreements/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesAgreement.id))) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"discount_percent": "", "unit_price": ""}, "either a unit price or a discount"),
        ({"discount_percent": "8", "unit_price": "90"}, "either a unit price or a discount"),
        ({"discount_percent": "100"}, "Number must be between"),
        ({"discount_percent": "", "unit_price": "1e20"}, "Enter an amount such as"),
        ({"committed_quantity": ""}, "quantity committed"),
    ],
)
def test_bad_agreement_lines_are_refused(app, client, login, people, data, message):
    _admin(client, login)
    number = _create(client, people)
    response = _add_line(client, number, people, **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesAgreementLine.id))) == 0


def _effective(client, login, people, **line) -> str:
    _admin(client, login)
    number = _create(client, people)
    _add_line(client, number, people, **line)
    _status(client, number, "effective", "on_hold")
    client.post("/logout")
    return number


def test_buyer_sees_own_agreements_only(app, client, login, people):
    number = _effective(client, login, people)
    login("buyer@acme.example", "pw", client)
    page = client.get("/account/agreements").get_data(as_text=True)
    assert number in page
    detail = client.get(f"/account/agreements/{number}")
    assert detail.status_code == 200 and "BOLT-1" in detail.get_data(as_text=True)
    client.post("/logout")
    login("buyer@other.example", "pw", client)
    assert number not in client.get("/account/agreements").get_data(as_text=True)
    assert client.get(f"/account/agreements/{number}").status_code == 404


def _cart(client) -> str:
    return client.get("/cart").get_data(as_text=True)


def test_cart_prices_by_agreement_inside_the_requested_ship_date(app, client, login, people):
    number = _effective(client, login, people)
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "2"})
    page = _cart(client)
    assert f"Agreement {number}: −8%" in page and "€184.00" in page
    late = (TODAY + timedelta(days=40)).isoformat()
    response = client.post("/cart/ship-date", data={"requested_ship_date": late}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "List price" in html and "€200.00" in html
    client.post("/cart/ship-date", data={"requested_ship_date": TODAY.isoformat()})
    assert "€184.00" in _cart(client)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "Enter the requested ship date as a date"),
        ((TODAY - timedelta(days=1)).isoformat(), "cannot be in the past"),
        ((TODAY + timedelta(days=800)).isoformat(), "at most two years ahead"),
        ("9999-12-31", "at most two years ahead"),
    ],
)
def test_bad_ship_dates_are_refused_and_change_nothing(app, client, login, people, value, message):
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "1"})
    good = (TODAY + timedelta(days=5)).isoformat()
    client.post("/cart/ship-date", data={"requested_ship_date": good})
    response = client.post("/cart/ship-date", data={"requested_ship_date": value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html and "There is a problem" in html
    assert "<title>Error: " in html
    with app.app_context():
        assert db.session.scalar(select(Cart.requested_ship_date)) == TODAY + timedelta(days=5)


def test_checkout_orders_at_the_agreement_price_with_its_source(app, client, login, people):
    number = _effective(client, login, people)
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "3"})
    ship = (TODAY + timedelta(days=7)).isoformat()
    client.post("/cart/ship-date", data={"requested_ship_date": ship})
    checkout = client.get("/checkout").get_data(as_text=True)
    assert f"Agreement {number}" in checkout and "€276.00" in checkout
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', checkout).group(1)
    response = client.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    assert response.status_code == 302
    with app.app_context():
        order = db.session.scalar(select(SalesOrder))
        assert order.total == Decimal("276.00")
        assert order.requested_ship_date == TODAY + timedelta(days=7)
        assert order.lines[0].price_reference == number
    client.post("/logout")
    _admin(client, login)
    page = client.get(f"/admin/agreements/{number}").get_data(as_text=True)
    assert re.search(r'released-quantity">3<', page)
    client.post("/logout")
    login("buyer@acme.example", "pw", client)
    mine = client.get(f"/account/agreements/{number}").get_data(as_text=True)
    assert re.search(r'released-quantity">3<', mine) and "€276.00" in mine


def test_the_catalog_shows_the_customers_price(app, client, login, people):
    _effective(client, login, people)
    login("buyer@acme.example", "pw", client)
    page = client.get("/catalog").get_data(as_text=True)
    assert "€92.00" in page
    client.post("/logout")
    login("buyer@other.example", "pw", client)
    assert "€100.00" in client.get("/catalog").get_data(as_text=True)


@pytest.mark.parametrize("lines", [5, 50])
def test_cart_page_queries_do_not_grow_with_lines(app, client, login, people, lines):
    with app.app_context():
        admin = db.session.scalar(
            select(factories.User).where(factories.User.role == Role.STORE_ADMIN)
        )
        from b2bshop.agreements import service

        customer_id = people["customer"]
        for n in range(lines):
            p = factories.product(f"P-{n:03d}", price="10.00")
            if n % 2:
                service.create_trade_agreement(
                    admin,
                    service.TradeAgreementInput(
                        p.id, customer_id=customer_id, discount_percent=Decimal("10")
                    ),
                )
        db.session.commit()
    login("buyer@acme.example", "pw", client)
    for n in range(lines):
        client.post("/cart/items", data={"sku": f"P-{n:03d}", "qty": "1"})
    with count_queries(app) as statements:
        html = client.get("/cart", headers=HX).get_data(as_text=True)
    assert html.count("Trade agreement TA-") == lines // 2
    # Session, user, cart with lines and products, two pricing queries: no query per line.
    assert len(statements) <= 12, statements


def test_agreement_posts_without_csrf_are_refused(make_app, app, people):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"email": "admin@shop.example", "password": "pw", "csrf_token": token}
    )
    response = client.post(
        "/admin/agreements/new",
        data={
            "customer_id": people["customer"],
            "commitment_type": "product_quantity",
            "valid_from": TODAY.isoformat(),
            "valid_to": TODAY.isoformat(),
        },
    )
    assert response.status_code in (400, 422)
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesAgreement.id))) == 0


def test_trade_agreements_for_a_group_through_the_admin_pages(app, client, login, people):
    _admin(client, login)
    page = client.post(
        "/admin/customer-groups",
        data={"code": "wholesale", "name": "Wholesale <b>", "customer": [people["customer"]]},
    )
    assert page.status_code == 302
    listing = client.get("/admin/customer-groups").get_data(as_text=True)
    assert "WHOLESALE" in listing and "Wholesale &lt;b&gt;" in listing
    assert "Acme Buyer Co" in listing
    again = client.post("/admin/customer-groups", data={"code": "WHOLESALE", "name": "x"})
    assert again.status_code == 422 and "has the code WHOLESALE" in again.get_data(as_text=True)
    with app.app_context():
        from b2bshop.agreements.models import CustomerGroup, TradeAgreement

        group_id = db.session.scalar(select(CustomerGroup.id))
    form = {
        "customer_group_id": group_id,
        "customer_id": 0,
        "product_id": people["product"],
        "min_quantity": "10",
        "discount_percent": "15",
        "idempotency_key": str(uuid.uuid4()),
    }
    both = client.post("/admin/trade-agreements/new", data={**form, "customer_id": people["other"]})
    assert both.status_code == 422 and "not both" in both.get_data(as_text=True)
    assert client.post("/admin/trade-agreements/new", data=form).status_code == 302
    assert client.post("/admin/trade-agreements/new", data=form).status_code == 302  # replay
    with app.app_context():
        assert db.session.scalar(select(func.count(TradeAgreement.id))) == 1
        agreement_id = db.session.scalar(select(TradeAgreement.id))
    assert "TA-" in client.get("/admin/trade-agreements").get_data(as_text=True)
    client.post("/logout")
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "10"})
    assert "€850.00" in _cart(client)  # 10 x 85.00: the group's 15 % from 10 units
    client.post("/logout")
    login("buyer@other.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "10"})
    assert "€1,000.00" in _cart(client)
    client.post("/logout")
    _admin(client, login)
    assert client.post(f"/admin/trade-agreements/{agreement_id}/delete").status_code == 302
    assert client.post(f"/admin/trade-agreements/{agreement_id}/delete").status_code == 404


def test_total_amount_commitment_fulfilment(app, client, login, people):
    _admin(client, login)
    number = _create(client, people, commitment_type="total_amount", committed_amount="1000")
    assert _add_line(client, number, people, committed_quantity="").status_code == 302
    _status(client, number, "effective", "on_hold")
    client.post("/logout")
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "5"})
    page = client.get("/checkout").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    mine = client.get("/account/agreements").get_data(as_text=True)
    assert "€460.00" in mine and "46 %" in mine  # 5 x 92.00 of 1,000.00
    client.post("/logout")
    _admin(client, login)
    refused = client.post(
        "/admin/agreements/new",
        data={
            "customer_id": people["customer"],
            "commitment_type": "total_amount",
            "valid_from": TODAY.isoformat(),
            "valid_to": TODAY.isoformat(),
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert refused.status_code == 422
    assert "needs the amount committed" in refused.get_data(as_text=True)


@pytest.mark.parametrize("value", ["9" * 400, "1e3", "²", "-5"])
def test_huge_or_odd_whole_numbers_are_refused_not_crashed(app, client, login, people, value):
    """Found by the fuzzer: int() takes 400 digits, and NumberRange then overflowed."""
    _admin(client, login)
    form = {
        "customer_id": people["customer"],
        "customer_group_id": 0,
        "product_id": people["product"],
        "min_quantity": value,
        "discount_percent": "15",
        "idempotency_key": str(uuid.uuid4()),
    }
    assert client.post("/admin/trade-agreements/new", data=form).status_code == 422
    number = _create(client, people)
    assert _add_line(client, number, people, committed_quantity=value).status_code == 422


def test_the_admin_order_page_names_the_price_source(app, client, login, people):
    number = _effective(client, login, people)
    login("buyer@acme.example", "pw", client)
    client.post("/cart/items", data={"sku": "BOLT-1", "qty": "1"})
    page = client.get("/checkout").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    order = client.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    assert order.status_code == 302
    mine = client.get("/account/orders").get_data(as_text=True)
    assert f"Agreement {number}: −8%" in mine
    client.post("/logout")
    _admin(client, login)
    with app.app_context():
        so = db.session.scalar(select(SalesOrder.number))
    assert f"Agreement {number}: −8%" in client.get(f"/admin/orders/{so}").get_data(as_text=True)
