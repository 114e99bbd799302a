"""Page frame (issue 2.6, 2.7): navigation per role, badge, language, error pages, health."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from b2bshop.accounts.models import User
from b2bshop.cart.models import Cart, CartKind, CartLine
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import format_money
from tests.conftest import csrf_token_from

ROOT = Path(__file__).resolve().parents[2]


def _nav(html: str) -> list[str]:
    nav = html.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    return [
        re.sub(r"<[^>]+>|\s+", " ", a).split()[0]
        for a in re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)
    ]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            "buyer@contoso.example",
            [
                "Catalog",
                "Invoices",
                "Cart",
                "My",
            ],
        ),
        ("admin@b2bshop.example", ["Catalog", "My", "Admin"]),
    ],
)
def test_navigation_per_role(client, demo, login, email, expected):
    login(email)
    assert _nav(client.get("/").get_data(as_text=True)) == expected


def test_cart_badge_counts_lines(client, demo, login, app):
    login("buyer@contoso.example")
    assert 'id="cart-badge"' in client.get("/").get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).filter_by(email="buyer@contoso.example").one()
        products = db.session.query(Product).limit(2).all()
        cart = Cart(
            user_id=user.id,
            kind=CartKind.ITEM,
            lines=[CartLine(kind=CartKind.ITEM, product_id=p.id, quantity=1) for p in products],
        )
        db.session.add(cart)
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'id="cart-badge"[^>]*>2</span>', html)


def test_admin_area_is_404_for_buyers(client, demo, login):
    assert client.get("/admin/").status_code == 404  # anonymous too: nothing to find
    login("buyer@contoso.example")
    response = client.get("/admin/")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_admin_dashboard_for_store_admins(client, demo, login):
    login("admin@b2bshop.example")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Customers" in html and ">3<" in html


def test_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_friendly_500(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "RuntimeError" not in body and "Traceback" not in body


def test_htmx_is_vendored_and_pinned(client):
    html = client.get("/login").get_data(as_text=True)
    match = re.search(r'src="/static/(htmx-(2\.0\.\d+)\.min\.js)"', html)
    assert match, "htmx 2.0.x script tag"
    path = ROOT / "static" / match.group(1)
    assert f'version:"{match.group(2)}"' in path.read_text()
    with client.get(f"/static/{match.group(1)}") as static:
        assert static.status_code == 200
    # No script or style from elsewhere (the CSRF token is random text, so only the
    # attributes that load something are looked at).
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and not [s for s in sources if "cdn" in s.lower() or "//" in s]


def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok"
    assert response.json["queue"]["ok"] is True
    assert response.json["queue"]["mode"] == "embedded"


def test_locale_from_user_then_cookie_then_accept_language(client, demo, login, app):
    # Accept-Language alone
    page = client.get("/login", headers={"Accept-Language": "nl-NL,nl;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="nl">' in page
    # the cookie beats Accept-Language
    client.post("/locale", data={"locale": "fr", "next": "/login"})
    page = client.get("/login", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert '<html lang="fr">' in page
    # the user's setting beats the cookie
    with app.app_context():
        user = db.session.query(User).filter_by(email="ap@contoso.example").one()
        user.locale = "nb"
        db.session.commit()
    login("ap@contoso.example")
    account = client.get("/account").get_data(as_text=True)
    assert '<html lang="nb">' in account and "<dd>Norsk bokmål</dd>" in account
    # switching while signed in stores the choice on the user
    client.post("/locale", data={"locale": "nl", "next": "/account"})
    with app.app_context():
        assert db.session.query(User).filter_by(email="ap@contoso.example").one().locale == "nl"


def test_unknown_locale_is_ignored(client):
    response = client.post("/locale", data={"locale": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "locale=" not in response.headers.get("Set-Cookie", "")


def test_pages_are_translated(client, demo, login):
    login("buyer@contoso.example")
    client.post("/locale", data={"locale": "fr"})
    html = client.get("/").get_data(as_text=True)
    assert "Factures" in html and "Panier" in html and "Mon compte" in html
    client.post("/locale", data={"locale": "nb"})
    html = client.get("/").get_data(as_text=True)
    assert "Fakturaer" in html and "Handlekurv" in html and "Min konto" in html


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "€1,234.50"),
        ("fr", "1\u202f234,50\u00a0€"),
        ("nb", "1\u00a0234,50\u00a0€"),
        ("nl", "€\u00a01.234,50"),
    ],
)
def test_money_is_formatted_for_the_locale(app, locale, expected):
    from decimal import Decimal

    with app.test_request_context(), force_locale(locale):
        assert format_money(Decimal("1234.50"), "EUR") == expected


def _header(html: str) -> str:
    return html.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]


def test_the_kept_site_header_is_each_users_own(app, demo, login, client):
    """The header is rendered once per language, kind of user and section
    (core/frame.py: site_header); what is the user's or the request's is filled in."""
    with app.app_context():
        user = db.session.query(User).filter_by(email="buyer@contoso.example").one()
        product = db.session.query(Product).first()
        line = CartLine(kind=CartKind.ITEM, product_id=product.id, quantity=1)
        db.session.add(Cart(user_id=user.id, kind=CartKind.ITEM, lines=[line]))
        db.session.commit()
    other = app.test_client()
    login("buyer@contoso.example")
    login("ap@contoso.example", c=other)  # same customer, same kind of user, empty cart
    for path in ("/invoices", "/invoices"):  # the second answer comes from the kept header
        mine, theirs = client.get(path), other.get(path)
        mine_html, theirs_html = mine.get_data(as_text=True), theirs.get_data(as_text=True)
        assert re.search(r'id="cart-badge"[^>]*aria-label="1 line in the cart">1<', mine_html)
        assert re.search(r'id="cart-badge"[^>]*aria-label="0 lines in the cart">0<', theirs_html)
        for html in (mine_html, theirs_html):
            header = _header(html)
            # Each page's own token, in both header forms and in htmx's headers.
            token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
            assert header.count(f'name="csrf_token" value="{token}"') == 2
            assert '<a href="/invoices" aria-current="page">Invoices</a>' in header
            assert "\x00" not in html
        assert csrf_token_from(_header(mine_html)) != csrf_token_from(_header(theirs_html))


def test_the_site_header_marks_the_section_and_escapes_the_way_back(app, demo, login, client):
    login("buyer@contoso.example")
    home = _header(client.get("/").get_data(as_text=True))
    assert "aria-current" not in home
    account = _header(client.get("/account").get_data(as_text=True))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', account) == ["/account"]
    html = client.get("/invoices?q=%3Cb%3E%22x&status=unpaid").get_data(as_text=True)
    back = re.search(r'name="next" value="([^"]*)"', _header(html)).group(1)
    assert back == "/invoices?q=%3Cb%3E%22x&amp;status=unpaid"
    assert "<b>" not in _header(html)
    # The language form takes it back there.
    response = client.post("/locale", data={"locale": "fr", "next": "/invoices?status=unpaid"})
    assert response.headers["Location"] == "/invoices?status=unpaid"
    french = _header(client.get("/invoices").get_data(as_text=True))
    assert "Factures" in french and 'aria-label="0 ligne dans le panier">0<' in french
    assert re.search(r'value="fr" lang="fr"\s+title="Français"\s+aria-pressed="true">FR<', french)
    assert french.count("aria-pressed") == 1


def test_the_site_header_of_a_store_admin_and_of_a_stranger(app, demo, login, client):
    stranger = _header(client.get("/login").get_data(as_text=True))
    assert "main-nav" not in stranger and "Sign out" not in stranger
    assert 'name="next" value="/login"' in stranger
    login("admin@b2bshop.example")
    admin = _header(client.get("/admin/").get_data(as_text=True))
    assert 'href="/admin/" aria-current="page">Admin</a>' in admin
    assert "cart-badge" not in admin and "Sign out" in admin


def test_the_error_summary_items(app):
    from flask import flash
    from flask_wtf import FlaskForm
    from markupsafe import Markup
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from b2bshop.core.frame import error_summary_items

    class Form(FlaskForm):
        name = StringField("Name", validators=[DataRequired("Enter a name.")])
        code = StringField(Markup("<abbr>Code</abbr>"), validators=[DataRequired("Enter <it>.")])

    with app.test_request_context("/", method="POST", data={}):
        form = Form(meta={"csrf": False})
        assert not form.validate()
        flash("No such customer.", "error")
        flash("Please correct the fields marked below.", "error")
        flash("Saved.", "success")
        items = error_summary_items(
            {"No such customer.": "customer"}, "fallback", [form], [(None, "By hand.")]
        )
        assert items == [
            ("customer", "No such customer."),
            ("name", "Name: Enter a name."),
            ("code", Markup("<abbr>Code</abbr>: Enter &lt;it&gt;.")),
            (None, "By hand."),
        ]  # the generic line dropped: the others say more
    with app.test_request_context("/"):
        flash("Please correct the fields marked below.", "error")
        assert error_summary_items(None, None, None, None) == [
            (None, "Please correct the fields marked below.")
        ]
