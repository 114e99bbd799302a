"""Hostile input never gets a 5xx (issue 13).

Every rule of the URL map and every method it answers, as an anonymous visitor, a buyer and
a store admin, on the demo data plus an open and a delivered order, a free text draft, a
pending bank transfer, a cart and B2B requests. Each request starts from a form or link the
app renders (valid values) and changes one part: first every field and path argument gets
each value of a fixed corpus in turn (NUL bytes, integers beyond 32 and 64 bits, amounts
beyond Numeric(18, 2), NaN and Infinity, overlong text, malformed dates and cursors...), then
Hypothesis mixes generated values, dropped and repeated fields, JSON and non-UTF-8 bodies
and HTMX requests (derandomized: the same requests on every run).

Every answer must be below 500, and a refused one (4xx) must leave the money tables as they
were. The number of requests is printed at the end of the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import func, select

from b2bshop.cart.models import CartKind, CartLine
from b2bshop.extensions import db
from tests.conftest import csrf_token_from
from tests.security.fuzzing import (
    Baselines,
    FuzzRequest,
    Sender,
    _PageParser,
    baseline_fields,
    explicit_requests,
    fuzz_requests,
    harvest,
    money_counts,
    real_path_values,
    targets,
)

BUYER, ADMIN = "buyer@contoso.example", "admin@b2bshop.example"
FR = {"Accept-Language": "fr"}

#: Hypothesis examples per rule and method: where the role works, and where it is turned away.
EXAMPLES_HOME = 12
EXAMPLES_AWAY = 3

#: Pages each role must have reached with valid input.
WORKS_FOR = {
    "anonymous": {"accounts.login", "requests.accept_invitation", "core.healthz"},
    "buyer": {
        "billing.list_invoices",
        "billing.show_invoice",
        "cart.show_cart",
        "cart.add_item",
        "cart.set_quantity",
        "payments.checkout",
        "requests.users",
        "catalog.list_products",
    },
    "admin": {
        "admin.list_invoices",
        "admin.edit_customer",
        "admin.new_product",
        "admin.new_order",
        "admin.edit_free_text",
        "admin.post_packing_slip",
        "admin.new_payment",
        "admin.show_payment",
    },
}

_totals: dict[str, tuple[int, float]] = {}


@pytest.fixture(scope="module")
def fuzz_report(request: pytest.FixtureRequest) -> Iterator[Callable[[str, int, float], None]]:
    def record(role: str, count: int, seconds: float) -> None:
        _totals[role] = (count, seconds)

    yield record
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and _totals:
        parts = ", ".join(f"{r} {n} in {s:.0f} s" for r, (n, s) in _totals.items())
        total = sum(n for n, _ in _totals.values())
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nfuzz: {total} requests ({parts})")


def _form(client, page: str, action: str) -> dict[str, str]:
    """The fields of the form on `page` that posts to `action`, empty ones filled valid."""
    parser = _PageParser(page)
    with client.get(page) as response:
        parser.feed(response.get_data(as_text=True))
    for form_action, _method, fields, _variant in parser.forms:
        if urlsplit(form_action).path == action:
            return dict(baseline_fields(tuple(fields)))
    raise AssertionError(f"no form posting to {action} on {page}")


def _prepare(app: Flask) -> None:
    """Something of every kind for the URL map's arguments to point at."""
    clients = {}
    for email in ("buyer@contoso.example", "ap@contoso.example", "admin@b2bshop.example"):
        clients[email] = client = app.test_client()
        assert client.post("/login", data={"email": email, "password": "demo"}).status_code == 302
    buyer, ap, admin = clients.values()

    def ok(response) -> None:  # type: ignore[no-untyped-def]
        assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]

    # A buyer's item cart, a B2B invoice-copy request and an add-user request.
    ok(buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "2"}))
    number = _form(buyer, "/invoices?status=unpaid", "/cart/invoices")["invoice"]
    ok(buyer.post(f"/invoices/{number}/request"))
    ok(
        buyer.post(
            "/account/users",
            data={"action": "add", "email": "new.user@contoso.example", "name": "New User"},
        )
    )
    # A pending bank transfer.
    ok(ap.post("/cart/invoices", data={"invoice": number}))
    checkout = _form(ap, "/checkout", "/checkout")
    ok(ap.post("/checkout", data={**checkout, "method": "bank_transfer"}))
    # Two sales orders: one open, one confirmed and delivered on a packing slip.
    numbers = []
    for _ in range(2):
        order = _form(admin, "/admin/orders/new", "/admin/orders/new")
        response = admin.post("/admin/orders/new", data=order)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        numbers.append(response.headers["Location"].rsplit("/", 1)[-1])
    ok(admin.post(f"/admin/orders/{numbers[1]}/confirm"))
    page = f"/admin/orders/{numbers[1]}"
    slip = _form(admin, page, f"{page}/packing-slips")
    ok(admin.post(f"{page}/packing-slips", data=slip))
    # A free text draft with one line.
    draft = _form(admin, "/admin/free-text/new", "/admin/free-text/new")
    draft = {k: v for k, v in draft.items() if not re.search(r"-[1-9][0-9]*$", k)}
    draft["action"] = "save"
    ok(admin.post("/admin/free-text/new", data=draft))
    # A quotation sent to Contoso (issue 18) and an up-sell rule for the item in the cart.
    new = _form(admin, "/admin/quotations/new", "/admin/quotations/new")
    response = admin.post("/admin/quotations/new", data=new)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = response.headers["Location"]
    quote = _form(admin, page, page)
    valid_until = (date.today() + timedelta(days=5)).isoformat()
    line = {"product-0": quote["product-0"], "quantity-0": "3", "price-0": "9.50"}
    ok(admin.post(page, data={**line, "valid_until": valid_until}))
    ok(admin.post(f"{page}/send"))
    with app.app_context():
        from b2bshop.catalog.models import Product

        ids = dict(db.session.execute(select(Product.sku, Product.id)).all())
        db.session.remove()
    rule = {"kind": "upsell", "product_id": ids["OFF-PAP-A4"], "category": "", "priority": "1"}
    rule |= {"suggested_product_id": ids["OFF-PAP-A3"], "note": "Bigger", "active": "y"}
    ok(admin.post("/admin/suggestions/new", data=rule))
    # A partner sign-up (a prospect with an account application), a lead with a contact and a
    # follow-up task, and an email campaign sent to its list (issue 17).
    signup = _form(app.test_client(), "/signup", "/signup")
    signup |= {"company": "Fuzz B.V.", "country_code": "NL", "vat_number": "NL812345678B01"}
    signup |= {"street": "Damrak 1", "postal_code": "1012 LG", "city": "Amsterdam"}
    signup |= {"contact_name": "Fuzz", "email": "fuzz@signup.example", "language": "en"}
    ok(app.test_client().post("/signup", data=signup))
    response = admin.post(
        "/admin/relationships/new", data={"name": "Fuzz lead", "country_code": ""}
    )
    ok(response)
    lead = response.headers["Location"]
    contact = {"name": "C", "email": "c@lead.example", "language": "en", "marketing_consent": "y"}
    ok(admin.post(f"{lead}/contacts/new", data=contact))
    ok(admin.post(f"{lead}/tasks", data={"title": "Call"}))
    campaign = {"name": "Fuzz", "channel": "email", "kind_lead": "y", "subject_en": "S"}
    response = admin.post("/admin/campaigns/new", data={**campaign, "body_en": "B"})
    ok(response)
    ok(admin.post(response.headers["Location"] + "/start"))
    _prepare_agreements_and_purchasing(app)


def _prepare_agreements_and_purchasing(app: Flask) -> None:
    """An effective sales agreement and a trade agreement for Contoso Retail, a customer
    group, a vendor, a purchase order half received, and a backorder waiting (issue 19)."""
    from b2bshop.accounts.models import User
    from b2bshop.agreements import service as agreements
    from b2bshop.catalog.models import Product
    from b2bshop.purchasing import service as purchasing
    from b2bshop.sales import service as sales

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@b2bshop.example"))
        buyer = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        paper = db.session.scalar(select(Product).where(Product.sku == "OFF-PAP-A4"))
        pens = db.session.scalar(select(Product).where(Product.sku == "OFF-PEN-BL"))
        today = date.today()
        agreement = agreements.create_sales_agreement(
            admin,
            agreements.SalesAgreementInput(
                buyer.customer_id, "product_quantity", today, today + timedelta(days=30)
            ),
        )
        agreements.set_agreement_line(
            admin,
            agreement.id,
            agreements.AgreementLineInput(
                paper.id, discount_percent=Decimal("8"), committed_quantity=100
            ),
        )
        agreements.change_status(admin, agreement.id, "effective")
        group = agreements.create_customer_group(admin, "FUZZ", "Fuzz", [buyer.customer_id])
        agreements.create_trade_agreement(
            admin,
            agreements.TradeAgreementInput(
                pens.id, customer_group_id=group.id, discount_percent=Decimal("5")
            ),
        )
        vendor = purchasing.save_vendor(admin, None, purchasing.VendorInput("Fuzz Supply"))
        sales.place_order(
            buyer, buyer.customer, [sales.OrderLineInput(pens.id, pens.stock_on_hand + 5)],
            confirm=True,
        )  # fmt: skip
        order = purchasing.create_purchase_order(
            admin, vendor.id, [purchasing.PurchaseLineInput(pens.id, 10, today)]
        )
        purchasing.receive(admin, order.id, {order.lines[0].id: 3})
        db.session.commit()
        db.session.remove()


def _cart_holds_an_item(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        items = db.session.scalar(
            select(func.count(CartLine.id)).where(CartLine.kind == CartKind.ITEM)
        )
        db.session.remove()
    if not items:
        client.post("/cart/empty")
        response = client.post("/cart/items", data={"sku": "OFF-PEN-BL", "qty": "1"})
        assert response.status_code == 302, response.status_code


def _fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@pytest.mark.parametrize("role", ["anonymous", "buyer", "admin"])
def test_hostile_input_never_gets_a_5xx(app, demo, role, fuzz_report):
    started = time.monotonic()
    _prepare(app)
    reals = real_path_values(app)
    sender = Sender.signed_in(app, role)
    baselines = Baselines()
    harvest(app, sender.client, reals, baselines)
    names = baselines.names()
    home_endpoints = set()

    for target in targets(app):
        # Earlier requests may have deleted what the path arguments pointed at (a cart line,
        # a product): the arguments are read again, and the buyer's cart holds an item.
        if target.args:
            if role == "buyer":
                _cart_holds_an_item(app, sender.client)
            reals = real_path_values(app)
        if target.method == "GET" and target.endpoint != "static":
            first = FuzzRequest(
                target, target.url({a: reals[target.rule, a][0] for a in target.args})
            )
            status = sender.send(first)
            if status == 503:
                sender.inputless[target.endpoint] = status
        path = {a: reals[target.rule, a][0] for a in target.args}
        probe = sender.send(
            FuzzRequest(target, target.url(path), tuple(baseline_fields(baselines.of(target)[0])))
        )
        # Where the role is turned away (404, 403, the sign-in page), a few requests show
        # the guard holds; where it works, the full corpus.
        home = probe not in (403, 404) and urlsplit(sender.location).path != "/login"
        if home:
            home_endpoints.add(target.endpoint)
            for request in explicit_requests(target, reals, baselines):
                sender.send(request)

        @_fuzz_settings(EXAMPLES_HOME if home else EXAMPLES_AWAY)
        @given(fuzz_requests(target, reals, baselines, names))
        def fuzz(request: FuzzRequest) -> None:
            sender.send(request)

        fuzz()

    fuzz_report(role, sender.count, time.monotonic() - started)
    assert not sender.failures, f"{len(sender.failures)} answers 5xx:\n" + "\n".join(
        sender.failures
    )
    assert not sender.changed, "refused, yet the money tables changed:\n" + "\n".join(
        sender.changed
    )
    # The pass ran as the role (a lost sign-in would turn every request away and pass).
    assert WORKS_FOR[role] <= home_endpoints, WORKS_FOR[role] - home_endpoints


# --- CSRF: every POST of the URL map, every role, a missing or stale token ---


def _csrf_sign_in(client, email: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in through the form; the token of the page before is stale afterwards."""
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": "demo", "csrf_token": before}
    )
    assert response.status_code == 302
    return before


def test_a_missing_or_stale_csrf_token_gets_a_translated_400_on_every_post(
    make_app, demo, fuzz_report
):
    app = make_app(WTF_CSRF_ENABLED=True)
    reals = real_path_values(app)
    anonymous, buyer, admin = app.test_client(), app.test_client(), app.test_client()
    other = app.test_client()
    stale = {
        "anonymous": csrf_token_from(other.get("/login").get_data(as_text=True)),
        "buyer": _csrf_sign_in(buyer, BUYER),
        "admin": _csrf_sign_in(admin, ADMIN),
    }
    clients = {"anonymous": anonymous, "buyer": buyer, "admin": admin}
    posts = [t for t in targets(app) if t.method == "POST"]
    assert len(posts) > 30
    before = money_counts(app)
    started, sent = time.monotonic(), 0
    for target in posts:
        url = target.url({a: reals[target.rule, a][0] for a in target.args})
        for role, client in clients.items():
            for token, headers, message in (
                (None, {}, "This form has expired or was sent from elsewhere"),
                (stale[role], {}, "This form has expired or was sent from elsewhere"),
                (stale[role], FR, "Ce formulaire a expiré ou a été envoyé depuis un autre site"),
            ):
                data = {"csrf_token": token} if token else {}
                response = client.post(url, data=data, headers=headers)
                sent += 1
                assert response.status_code == 400, (role, url, token)
                assert message in response.get_data(as_text=True), (role, url, headers)
    assert money_counts(app) == before
    # Still signed in: the refusals ended no session.
    assert buyer.get("/account").status_code == 200 and admin.get("/admin/").status_code == 200
    assert sent == len(posts) * 9
    fuzz_report("CSRF on", sent, time.monotonic() - started)
