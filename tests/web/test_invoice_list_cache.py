"""The invoice list fragment is cached, and every change to what it shows makes a new key
(b2bshop/billing/list_cache.py, migration 0008)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from b2bshop.accounts.models import Customer, User
from b2bshop.billing import views as billing_views
from b2bshop.billing.list_cache import CSRF_PLACEHOLDER
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from b2bshop.payments.models import PaymentMethod
from b2bshop.payments.service import Allocation, record_payment
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.test_query_counts import count_queries

FRAGMENT = {"HX-Request": "true"}
URL = "/invoices?status=unpaid"


@pytest.fixture
def buyer(app):
    """A buyer of 'Own', billed through 'Org'; one open invoice on each."""
    with app.app_context():
        org = factories.customer("Org")
        own = factories.customer("Own", invoice_account=org)
        factories.user("cache@example.com", customer=own, password="pw")
        first = factories.invoice(own, "100.00").number
        second = factories.invoice(org, "200.00").number
        db.session.commit()
        return {"own": own.id, "org": org.id, "numbers": (first, second)}


def _fragment(client, url: str = URL) -> str:
    response = client.get(url, headers=FRAGMENT)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _queries(statements: list[str]) -> list[str]:
    return [s for s in statements if s != "BEGIN"]  # SQLite's explicit BEGIN is no query


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_a_repeated_fragment_is_served_from_the_cache_with_one_query(app, client, login, buyer):
    login("cache@example.com", "pw")
    first = _fragment(client)
    with count_queries(app) as statements:
        second = _fragment(client)
    assert len(_queries(statements)) == 1, statements  # the signed-in user, with its accounts
    assert _without_tokens(second) == _without_tokens(first)
    assert buyer["numbers"][0] in second and "100.00" in second
    # The same fragment with the filter changed is a new key: rendered, two queries (the user;
    # the totals with the page).
    with count_queries(app) as statements:
        _fragment(client, "/invoices?status=unpaid&sort=-amount")
    assert len(_queries(statements)) == 2, statements


def _signed_in(app):
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "cache@example.com", "password": "pw", "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_a_cached_fragment_carries_this_sessions_csrf_token(make_app, buyer):
    app = make_app(WTF_CSRF_ENABLED=True)
    one, other = _signed_in(app), _signed_in(app)
    html_one = _fragment(one)
    with count_queries(app) as statements:
        html_other = _fragment(other)
    assert len(_queries(statements)) == 1  # a cache hit: the key names the user, not the session
    assert CSRF_PLACEHOLDER not in html_one + html_other
    token = csrf_token_from(html_other)
    assert token != csrf_token_from(html_one)
    number = buyer["numbers"][0]
    # The other session's token is refused ...
    response = other.post(
        "/cart/invoices", data={"invoice": number, "csrf_token": csrf_token_from(html_one)}
    )
    assert response.status_code == 400
    # ... and the token in the cached fragment works for this session's "Pay invoice".
    response = other.post(
        "/cart/invoices", data={"invoice": number, "csrf_token": token}, headers=FRAGMENT
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def _version(customer_id: int) -> int:
    return db.session.scalar(select(Customer.invoices_version).where(Customer.id == customer_id))


def test_a_payment_on_the_invoice_account_shows_at_once(app, client, login, buyer):
    login("cache@example.com", "pw")
    before = _fragment(client, "/invoices")
    assert "200.00" in before
    with app.app_context():
        org = db.session.get(Customer, buyer["org"])
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == buyer["numbers"][1]))
        record_payment(None, org, [Allocation(invoice.id, Decimal("50.00"))], PaymentMethod.MANUAL)
        db.session.commit()
    after = _fragment(client, "/invoices")
    assert "150.00" in after and 'data-status="partially_paid"' in after
    assert buyer["numbers"][1] not in _fragment(client, "/invoices?status=paid")


def test_a_new_invoice_a_renamed_account_and_a_revoked_permission_show_at_once(
    app, client, login, buyer
):
    login("cache@example.com", "pw")
    html = _fragment(client)
    assert "Pay invoice" in html and ">Org<" in html
    with app.app_context():
        number = factories.invoice(db.session.get(Customer, buyer["org"]), "777.00").number
        db.session.commit()
    assert number in _fragment(client)
    with app.app_context():
        db.session.get(Customer, buyer["org"]).name = "Org Renamed"
        db.session.commit()
    assert ">Org Renamed<" in _fragment(client)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "cache@example.com"))
        user.may_pay_invoices = False
        db.session.commit()
    html = _fragment(client)
    assert "Pay invoice" not in html and number in html


def test_the_locale_and_the_date_are_part_of_the_key(app, client, login, buyer, monkeypatch):
    login("cache@example.com", "pw")
    assert "Status" in _fragment(client) and "days overdue" not in _fragment(client)
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "cache@example.com")).locale = "fr"
        db.session.commit()
    assert "Statut" in _fragment(client)

    real_today = date.today()

    class Later(date):
        @classmethod
        def today(cls) -> date:
            return real_today + timedelta(days=60)

    monkeypatch.setattr(billing_views, "date", Later)
    assert "jours de retard" in _fragment(client)  # "days overdue", in French


def test_every_write_to_invoices_bumps_the_customers_version(app_ctx, buyer):
    """The triggers count raw SQL too: inserts, updates, moves and deletes."""
    own, org = buyer["own"], buyer["org"]
    start = _version(own), _version(org)
    db.session.execute(
        text("UPDATE invoices SET due_date = due_date WHERE customer_id = :c"), {"c": own}
    )
    assert (_version(own), _version(org)) == (start[0] + 1, start[1])
    # Moving an invoice to another customer changes both lists.
    db.session.execute(
        text("UPDATE invoices SET customer_id = :to WHERE customer_id = :c"), {"c": own, "to": org}
    )
    moved = _version(own), _version(org)
    assert moved[0] > start[0] + 1 and moved[1] > start[1]
    db.session.execute(text("DELETE FROM invoice_lines"))
    db.session.execute(text("DELETE FROM invoices WHERE customer_id = :c"), {"c": org})
    assert _version(org) > moved[1] and _version(own) == moved[0]
    db.session.rollback()


def test_a_cache_that_is_down_costs_speed_not_the_page(make_app, login, buyer, caplog):
    """RedisCache pointed at a port where nothing listens: the list still renders."""
    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    login("cache@example.com", "pw", c=client)
    html = _fragment(client)
    assert buyer["numbers"][0] in html and CSRF_PLACEHOLDER not in html
    assert "invoice list cache unavailable" in caplog.text
