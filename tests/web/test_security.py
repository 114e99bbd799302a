"""Security review findings (issue 13): forwarded headers, sign-in limits with Redis down,
escaping of refusal messages and stored names, CSV formula cells, and no-store caching."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import select

from b2bshop.accounts.models import Customer
from b2bshop.billing.models import Invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db, limiter
from tests import factories

HX = {"HX-Request": "true"}
PAYLOAD = '"><img src=x onerror=alert(1)>'


def _attempts(client, email: str, n: int, **headers: str) -> list[int]:
    return [
        client.post(
            "/login", data={"email": email, "password": "wrong"}, headers=headers
        ).status_code
        for _ in range(n)
    ]


def test_forwarded_for_is_not_trusted_without_a_proxy(make_app, demo):
    """Rotating X-Forwarded-For used to buy a fresh per-address limit for every attempt."""
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post(
            "/login",
            data={"email": f"nobody{n}@example.com", "password": "x"},
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
        ).status_code
        for n in range(6)
    ]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429, 429]


def test_trusted_proxy_hops_are_configuration(make_app, demo):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", PROXY_FIX_X_FOR=1)
    client = app.test_client()
    first = _attempts(client, "a@example.com", 3, **{"X-Forwarded-For": "192.0.2.1"})
    other = _attempts(client, "b@example.com", 1, **{"X-Forwarded-For": "192.0.2.2"})
    assert first == [401, 401, 429] and other == [401]


def test_per_account_limit_holds_across_addresses(make_app, demo):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per minute",
        PROXY_FIX_X_FOR=1,
    )
    client = app.test_client()
    codes = [
        client.post(
            "/login",
            data={"email": "Buyer@Contoso.example", "password": "wrong"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        ).status_code
        for n in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]
    # Another account from the same addresses is not held back by it.
    assert _attempts(client, "ap@contoso.example", 1, **{"X-Forwarded-For": "192.0.2.9"}) == [401]


def test_sign_in_works_and_limits_hold_with_the_limiter_storage_down(make_app, demo):
    """Redis down (nothing listens on port 1): sign-in answers, never 500, and the limits
    fall back to this process's memory."""
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
        LOGIN_RATE_LIMIT="3 per minute",
    )
    client = app.test_client()
    ok = client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
    assert ok.status_code == 302
    other = app.test_client()
    codes = _attempts(other, "nobody@example.com", 4)
    assert 500 not in codes and codes[-1] == 429


def test_limits_are_checked_by_their_decorators_only(make_app):
    """core/rate_limits.py removes Flask-Limiter's before-request check. That is right only
    while every limit is a decorated one, checked by its decorator: a default, application
    or blueprint limit would never be checked."""
    app = make_app(RATELIMIT_ENABLED=True)
    assert not limiter.limit_manager._default_limits
    assert not limiter.limit_manager._application_limits
    assert not limiter.limit_manager._blueprint_limits
    assert limiter.limit_manager._decorated_limits  # sign-in and sign-up
    assert limiter._check_request_limit not in app.before_request_funcs[None]


def test_refusal_messages_are_escaped_in_pages_and_fragments(app, client, demo, login):
    login("buyer@contoso.example")
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.name == "Contoso Retail"))
        open_invoice = db.session.scalar(
            select(Invoice.number).where(
                Invoice.customer_id == customer.id, Invoice.status != "paid"
            )
        )
    for headers in ({}, HX):
        for url, data in (
            ("/cart/invoices", {"invoice": PAYLOAD}),
            ("/cart/items", {"sku": PAYLOAD, "qty": "1"}),
            ("/cart/invoices/bulk", {"invoice": [open_invoice, PAYLOAD]}),
        ):
            body = client.post(url, data=data, headers=headers).get_data(as_text=True)
            assert "<img src=x" not in body, (url, headers)
            assert "&lt;img src=x onerror=alert(1)&gt;" in body, (url, headers)


def test_a_stored_product_name_is_escaped_in_a_refusal(app, client, login):
    with app.app_context():
        customer = factories.customer("Escapes")
        factories.user("esc@example.com", customer=customer, password="pw")
        product = factories.product("INJ-1")
        product.name = "Widget<b id=inj>"
        product.currency = "USD"
        db.session.commit()
    login("esc@example.com", "pw")
    body = client.post("/cart/items", data={"sku": "INJ-1", "qty": "1"}).get_data(as_text=True)
    assert "Widget&lt;b id=inj&gt;" in body and "<b id=inj>" not in body


def test_csv_cells_that_look_like_formulas_are_neutralized(app, client, login):
    with app.app_context():
        customer = factories.customer('=HYPERLINK("http://evil.example","Contoso Group")')
        factories.user("csv@example.com", customer=customer, password="pw")
        factories.invoice(customer, "10.00")
        db.session.commit()
    login("csv@example.com", "pw")
    rows = list(csv.reader(io.StringIO(client.get("/invoices.csv").get_data(as_text=True))))
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","Contoso Group")'
    assert rows[1][5] == "10.00"  # amounts stay plain decimals


def test_account_data_is_never_cached(app, client, demo, login):
    login("buyer@contoso.example")
    with app.app_context():
        invoice = db.session.scalar(select(Invoice).order_by(Invoice.id)).number
    for url, headers in (
        ("/invoices", {}),
        ("/invoices", HX),
        (f"/invoices/{invoice}", {}),
        (f"/invoices/{invoice}.pdf", {}),
        ("/invoices.csv", {}),
        ("/account", {}),
        ("/cart", {}),
    ):
        response = client.get(url, headers=headers)
        response.get_data()  # a streamed CSV keeps its request open until it is read
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    with client.get("/static/app.css") as static:
        assert "no-store" not in (static.headers.get("Cache-Control") or "")


def test_anonymous_pages_keep_their_caching(client):
    assert client.get("/login").headers.get("Cache-Control") != "no-store"


def test_money_column_precision(app):
    """Sanity for the fixtures above: products keep two decimals."""
    with app.app_context():
        product = factories.product("P-PREC", price="12.30")
        db.session.commit()
        assert db.session.get(Product, product.id).price == Decimal("12.30")


def _copy_cookies(source, target, names=("session", "remember_token")) -> None:
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value, domain=cookie.domain or "localhost")


def test_sign_out_ends_the_session_on_the_server(app, client, demo):
    """Cookies copied before POST /logout open nothing afterwards: neither the session
    cookie nor the remember-me cookie."""
    client.post(
        "/login", data={"email": "buyer@contoso.example", "password": "demo", "remember": "y"}
    )
    assert client.get_cookie("remember_token") is not None
    thief = app.test_client()
    _copy_cookies(client, thief)
    assert thief.get("/invoices").status_code == 200  # the copy works while signed in
    client.post("/logout")
    only_session, only_remember = app.test_client(), app.test_client()
    _copy_cookies(thief, only_session, ("session",))
    _copy_cookies(thief, only_remember, ("remember_token",))
    for replay in (thief, only_session, only_remember):
        response = replay.get("/invoices")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_out_everywhere_ends_every_session_of_the_user(app, demo, login):
    laptop = login("buyer@contoso.example", c=app.test_client())
    phone = login("buyer@contoso.example", c=app.test_client())
    colleague = login("ap@contoso.example", c=app.test_client())
    account_page = laptop.get("/account").get_data(as_text=True)
    assert 'action="/account/sign-out-everywhere"' in account_page
    assert laptop.post("/account/sign-out-everywhere").status_code == 302
    for client in (laptop, phone):
        assert client.get("/invoices").status_code == 302
    assert colleague.get("/invoices").status_code == 200  # another user is not touched
    # Signing in again works as before.
    again = login("buyer@contoso.example", c=app.test_client())
    assert again.get("/invoices").status_code == 200


def test_each_sign_in_gets_a_new_session_key(app, demo, login):
    first = login("buyer@contoso.example", c=app.test_client())
    second = login("buyer@contoso.example", c=app.test_client())
    with first.session_transaction() as one, second.session_transaction() as two:
        assert one["_user_id"] != two["_user_id"]
        # The key is a random session key, not the user's id or token.
        assert len(one["_user_id"]) >= 40
