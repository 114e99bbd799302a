"""Up-sell and cross-sell in the cart and on the product page (issue 18): the HTMX
fragments, one-click Replace (quantity kept) and Add, refusals, and a constant number of
queries for a cart of 50 lines."""

from __future__ import annotations

from sqlalchemy import select

from b2bshop.accounts.models import Role
from b2bshop.cart.models import Cart, CartLine
from b2bshop.extensions import db
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule
from tests import factories
from tests.web.test_query_counts import FRAGMENT, count_queries

PASSWORD = "pw"


def _setup(app, extra_products: int = 0) -> dict:
    with app.app_context():
        customer = factories.customer("Suggested Ltd", credit_limit="100000")
        factories.user("sugg@example.com", customer=customer, password=PASSWORD)
        factories.user("viewer@example.com", customer=customer, password=PASSWORD, may_order=False)
        factories.user("other@example.com", customer=factories.customer(), password=PASSWORD)
        pen = factories.product("PEN", price="2.00")
        pro = factories.product("PEN-PRO", price="3.50")
        ink = factories.product("INK", price="1.20")
        rules = {
            "up": SuggestionRule(
                kind=SuggestionKind.UPSELL,
                product=pen,
                category="",
                suggested_product=pro,
                priority=2,
                note="Writes <twice> as long",
                active=True,
            ),
            "cross": SuggestionRule(
                kind=SuggestionKind.CROSS_SELL,
                product=pen,
                category="",
                suggested_product=ink,
                priority=1,
                note="",
                active=True,
            ),
        }
        db.session.add_all(rules.values())
        extras = []
        for n in range(extra_products):
            extra = factories.product(f"EXTRA-{n}", price="1.00")
            extra.category = "bulk"
            extras.append(extra.sku)
        if extra_products:
            db.session.add(
                SuggestionRule(
                    kind=SuggestionKind.CROSS_SELL,
                    category="bulk",
                    suggested_product=ink,
                    priority=0,
                    note="",
                    active=True,
                )
            )
        db.session.commit()
        return {"rules": {k: r.id for k, r in rules.items()}, "extras": extras}


def _sign_in(app, email: str = "sugg@example.com"):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def _cart(app, email: str = "sugg@example.com") -> dict[str, int]:
    with app.app_context():
        lines = db.session.scalars(
            select(CartLine)
            .join(Cart, Cart.id == CartLine.cart_id)
            .where(Cart.user_id == _user_id(email))
        ).all()
        return {line.product.sku: line.quantity for line in lines}


def _user_id(email: str) -> int:
    from b2bshop.accounts.models import User

    return db.session.scalar(select(User.id).where(User.email == email))


def _line_id(app, sku: str) -> int:
    from b2bshop.catalog.models import Product

    with app.app_context():
        return db.session.scalar(
            select(CartLine.id)
            .join(Product, Product.id == CartLine.product_id)
            .where(Product.sku == sku)
        )


def test_cart_fragment_replace_and_add(app):
    ids = _setup(app)["rules"]
    buyer = _sign_in(app)
    buyer.post("/cart/items", data={"sku": "PEN", "qty": "7"})
    cart = buyer.get("/cart").get_data(as_text=True)
    assert 'hx-get="/suggestions/cart"' in cart and "Request a quote" in cart
    fragment = buyer.get("/suggestions/cart", headers=FRAGMENT)
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "HX-Request" in fragment.headers["Vary"]
    assert "PEN-PRO" in html and "Writes &lt;twice&gt; as long" in html
    assert html.index(f'data-rule="{ids["up"]}"') < html.index(f'data-rule="{ids["cross"]}"')
    # Without JavaScript the same suggestions are a page of their own.
    assert "<html" in buyer.get("/suggestions/cart").get_data(as_text=True)
    line_id = _line_id(app, "PEN")
    response = buyer.post(
        f"/suggestions/{ids['up']}/replace", data={"line_id": line_id, "next": "cart"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert _cart(app) == {"PEN-PRO": 7}
    # A second click: that line is gone (SQLite may give its id to the new line, which the
    # rule is not for): refused either way, the cart as it is.
    again = buyer.post(f"/suggestions/{ids['up']}/replace", data={"line_id": line_id})
    assert again.status_code in (404, 409)
    assert _cart(app) == {"PEN-PRO": 7}
    buyer.post("/cart/items", data={"sku": "PEN", "qty": "1"})
    response = buyer.post(f"/suggestions/{ids['cross']}/add", data={"product_id": _pid(app, "PEN")})
    assert response.status_code == 303
    assert _cart(app) == {"PEN-PRO": 7, "PEN": 1, "INK": 1}
    # INK is in the cart now: not suggested again.
    html = buyer.get("/suggestions/cart", headers=FRAGMENT).get_data(as_text=True)
    assert f'data-rule="{ids["cross"]}"' not in html


def _pid(app, sku: str) -> int:
    from b2bshop.catalog.models import Product

    with app.app_context():
        return db.session.scalar(select(Product.id).where(Product.sku == sku))


def test_refusals_change_nothing(app):
    ids = _setup(app)["rules"]
    buyer = _sign_in(app)
    buyer.post("/cart/items", data={"sku": "PEN", "qty": "2"})
    line_id = _line_id(app, "PEN")
    with app.app_context():
        db.session.get(SuggestionRule, ids["up"]).active = False
        db.session.commit()
    stale = buyer.post(f"/suggestions/{ids['up']}/replace", data={"line_id": line_id})
    assert stale.status_code == 409 and "no longer available" in stale.get_data(as_text=True)
    assert _cart(app) == {"PEN": 2}
    # A cross-sell rule is not an up-sell: no replacing through it.
    assert (
        buyer.post(f"/suggestions/{ids['cross']}/replace", data={"line_id": line_id}).status_code
        == 404
    )
    for data in ({"line_id": "2147483648"}, {"line_id": "x"}, {}):
        assert buyer.post(f"/suggestions/{ids['cross']}/replace", data=data).status_code == 404
    assert (
        buyer.post("/suggestions/99999/add", data={"product_id": _pid(app, "PEN")}).status_code
        == 404
    )
    # Another buyer cannot touch this cart's line; a buyer who may not order is refused.
    other = _sign_in(app, "other@example.com")
    with app.app_context():
        db.session.get(SuggestionRule, ids["up"]).active = True
        db.session.commit()
    assert (
        other.post(f"/suggestions/{ids['up']}/replace", data={"line_id": line_id}).status_code
        == 404
    )
    viewer = _sign_in(app, "viewer@example.com")
    assert (
        viewer.post(
            f"/suggestions/{ids['cross']}/add", data={"product_id": _pid(app, "PEN")}
        ).status_code
        == 403
    )
    assert _cart(app) == {"PEN": 2}


def test_product_page_shows_suggestions(app):
    ids = _setup(app)["rules"]
    buyer = _sign_in(app)
    page = buyer.get("/products/PEN").get_data(as_text=True)
    assert "<h1>Product" in page and f'data-rule="{ids["cross"]}"' in page
    assert f'data-rule="{ids["up"]}"' in page and 'href="/products/PEN-PRO"' in page
    fragment = buyer.get("/products/PEN", headers=FRAGMENT).get_data(as_text=True)
    assert "<html" not in fragment and 'id="product-suggestions"' in fragment
    response = buyer.post(
        f"/suggestions/{ids['cross']}/add",
        data={"product_id": _pid(app, "PEN"), "next": "product:PEN"},
    )
    assert response.headers["Location"] == "/products/PEN"
    assert buyer.get("/products/NOPE").status_code == 404
    assert 'href="/products/PEN"' in buyer.get("/catalog").get_data(as_text=True)


def test_fifty_line_cart_costs_a_constant_number_of_queries(app):
    extras = _setup(app, extra_products=60)["extras"]
    buyer = _sign_in(app)
    buyer.post("/cart/items", data={"sku": "PEN", "qty": "1"})
    for sku in extras[:4]:
        buyer.post("/cart/items", data={"sku": sku, "qty": "1"})
    with count_queries(app) as five:
        small = buyer.get("/suggestions/cart", headers=FRAGMENT).get_data(as_text=True)
    for sku in extras[4:49]:
        buyer.post("/cart/items", data={"sku": sku, "qty": "2"})
    assert len(_cart(app)) == 50
    with count_queries(app) as fifty:
        large = buyer.get("/suggestions/cart", headers=FRAGMENT).get_data(as_text=True)
    assert large.count("suggestion-group") == 50 and small.count("suggestion-group") == 5
    assert len(fifty) == len(five), (len(five), len(fifty))
    assert len(fifty) <= 10


def test_admin_rules_and_product_categories(app):
    _setup(app)
    with app.app_context():
        factories.user("boss@example.com", role=Role.STORE_ADMIN, password=PASSWORD)
        db.session.commit()
    admin = _sign_in(app, "boss@example.com")
    created = admin.post(
        "/admin/products/new",
        data={
            "sku": "NOTE-A5",
            "name": "Notebook A5",
            "price": "4.00",
            "currency": "EUR",
            "tax_rate": "0",
            "stock_on_hand": "10",
            "active": "y",
            "category": " paper ",
        },
    )
    assert created.status_code == 302
    ink = _pid(app, "INK")
    refused = admin.post(
        "/admin/suggestions/new",
        data={
            "kind": "cross_sell",
            "product_id": "0",
            "category": "",
            "suggested_product_id": ink,
            "priority": "1",
        },
    )
    assert refused.status_code == 422
    assert "Choose either a product or a category" in refused.get_data(as_text=True)
    for bad in ({"priority": "1001"}, {"suggested_product_id": "x"}, {"valid_from": "2026-13-01"}):
        data = {
            "kind": "cross_sell",
            "category": "paper",
            "suggested_product_id": ink,
            "priority": "1",
            **bad,
        }
        assert admin.post("/admin/suggestions/new", data=data).status_code == 422, bad
    with app.app_context():
        assert (
            db.session.scalar(select(SuggestionRule.id).where(SuggestionRule.category == "paper"))
            is None
        )
    saved = admin.post(
        "/admin/suggestions/new",
        data={
            "kind": "cross_sell",
            "product_id": "0",
            "category": "paper",
            "suggested_product_id": ink,
            "priority": "3",
            "note": "Write it down",
            "active": "y",
        },
    )
    assert saved.status_code == 302
    listing = admin.get("/admin/suggestions?q=paper").get_data(as_text=True)
    assert "Category paper" in listing
    buyer = _sign_in(app)
    assert "Write it down" in buyer.get("/products/NOTE-A5").get_data(as_text=True)
    assert buyer.get("/admin/suggestions").status_code == 404
