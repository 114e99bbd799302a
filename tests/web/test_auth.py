"""Sign-in (issue 2.5): Flask-Login, rate limit, cookies, CSRF, security headers."""

from __future__ import annotations

import pytest

from b2bshop.accounts.models import User
from b2bshop.extensions import db
from tests.conftest import csrf_token_from


def test_login_lands_on_storefront(client, demo):
    response = client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Contoso Retail" in home.get_data(as_text=True)


def test_email_is_case_insensitive(client, demo):
    response = client.post("/login", data={"email": "  Buyer@Contoso.EXAMPLE ", "password": "demo"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("buyer@contoso.example", "wrong"), ("nobody@contoso.example", "demo")],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_say_the_same_thing(client, demo, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    body = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Email or password is wrong." in body
    assert "not found" not in body.lower()
    assert client.get("/").status_code == 302  # still signed out


def test_pages_need_sign_in(client, demo):
    for url in ["/", "/invoices", "/catalog", "/account", "/cart"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


def test_next_is_followed_only_on_this_site(client, demo):
    ok = client.post(
        "/login?next=/catalog", data={"email": "buyer@contoso.example", "password": "demo"}
    )
    assert ok.headers["Location"] == "/catalog"
    client.post("/logout")
    evil = client.post(
        "/login?next=https://evil.example/",
        data={"email": "buyer@contoso.example", "password": "demo"},
    )
    assert evil.headers["Location"] == "/"


def test_inactive_user_cannot_sign_in(client, demo, app):
    with app.app_context():
        user = db.session.query(User).filter_by(email="ap@contoso.example").one()
        user.active = False
        db.session.commit()
    response = client.post("/login", data={"email": "ap@contoso.example", "password": "demo"})
    assert response.status_code == 401


def test_rotating_session_token_ends_open_sessions(client, demo, app, login):
    login("buyer@contoso.example")
    assert client.get("/account").status_code == 200
    with app.app_context():
        user = db.session.query(User).filter_by(email="buyer@contoso.example").one()
        user.session_token = "rotated-0000-0000-0000-000000000000"
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_logout_needs_post(client, demo, login):
    login("buyer@contoso.example")
    assert client.get("/logout").status_code == 200  # a confirmation page, still signed in
    assert client.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302


def test_login_rate_limit(make_app, demo):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post("/login", data={"email": "buyer@contoso.example", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    blocked = client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # the form itself is not limited


def test_session_cookie_flags(make_app, demo):
    app = make_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": "buyer@contoso.example", "password": "demo"},
        base_url="https://localhost",
    )
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and "session=" in v)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_secure_cookies_are_the_default_outside_debug(monkeypatch, tmp_path):
    from b2bshop.config import from_env

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    assert from_env(str(tmp_path))["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert from_env(str(tmp_path))["SESSION_COOKIE_SECURE"] is False


@pytest.fixture
def csrf_client(make_app):
    return make_app(WTF_CSRF_ENABLED=True).test_client()


def _post_endpoints(app):
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and "<" not in rule.rule
    )


def test_every_post_needs_a_csrf_token(csrf_client, demo):
    urls = _post_endpoints(csrf_client.application)
    assert "/login" in urls and "/logout" in urls and "/locale" in urls
    for url in urls:
        response = csrf_client.post(
            url, data={"email": "buyer@contoso.example", "password": "demo"}
        )
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True), url


def test_csrf_token_in_form_and_htmx_header(csrf_client, demo):
    page = csrf_client.get("/login").get_data(as_text=True)
    token = csrf_token_from(page)
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    ok = csrf_client.post(
        "/login", data={"email": "buyer@contoso.example", "password": "demo", "csrf_token": token}
    )
    assert ok.status_code == 302
    # The token is rotated at sign-in: the one from before no longer works.
    stale = csrf_client.post(
        "/locale", data={"locale": "fr"}, headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert stale.status_code == 400
    fresh = csrf_token_from(csrf_client.get("/account").get_data(as_text=True))
    assert fresh != token
    # htmx sends the token as a header instead of a form field
    response = csrf_client.post(
        "/locale", data={"locale": "fr"}, headers={"X-CSRFToken": fresh, "HX-Request": "true"}
    )
    assert response.status_code == 302


def test_stale_csrf_token_is_refused(csrf_client, demo):
    response = csrf_client.post(
        "/login",
        data={
            "email": "buyer@contoso.example",
            "password": "demo",
            "csrf_token": "stale.token.value",
        },
    )
    assert response.status_code == 400
    assert csrf_client.get("/account").status_code == 302


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    body = response.get_data(as_text=True)
    # No inline script: every <script> has a src.
    assert "<script>" not in body and "<script " in body
    for tag in body.split("<script")[1:]:
        assert tag.lstrip().startswith("src="), tag[:80]


def test_security_headers_keep_a_views_own_and_come_once(make_app):
    """_security_headers adds each header only when the view did not set it, in one pass,
    and a signed-in answer's Cache-Control replaces the view's."""
    app = make_app()

    @app.route("/own-headers")
    def own_headers():  # type: ignore[no-untyped-def]
        return (
            "x",
            200,
            {"content-security-policy": "default-src 'none'", "Cache-Control": "max-age=60"},
        )

    response = app.test_client().get("/own-headers")
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert response.headers.getlist("Cache-Control") == ["max-age=60"]
    for name in (
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Permissions-Policy",
    ):
        assert len(response.headers.getlist(name)) == 1, name
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "any"  # _signed_in() reads only this
    signed_in = client.get("/own-headers")
    assert signed_in.headers.getlist("Cache-Control") == ["no-store"]
    assert "Cookie" in signed_in.headers.getlist("Vary")


def test_a_signed_csrf_token_is_handed_out_again_for_a_minute_only(csrf_client, demo, monkeypatch):
    """core/csrf_token.py: a session's pages within a minute carry the same signed token,
    which still verifies; later pages, and other sessions, get their own."""
    from b2bshop.core import csrf_token as tokens

    login = csrf_token_from(csrf_client.get("/login").get_data(as_text=True))
    form = {"email": "buyer@contoso.example", "password": "demo", "csrf_token": login}
    assert csrf_client.post("/login", data=form).status_code == 302
    first = csrf_token_from(csrf_client.get("/invoices").get_data(as_text=True))
    now = tokens.time.time()
    # Seconds later: signed again, the token would carry another timestamp.
    monkeypatch.setattr(tokens.time, "time", lambda: now + 5)
    assert csrf_token_from(csrf_client.get("/invoices").get_data(as_text=True)) == first
    other = csrf_client.application.test_client()
    assert csrf_token_from(other.get("/login").get_data(as_text=True)) != first
    monkeypatch.setattr(tokens.time, "time", lambda: now + tokens.REUSE_SECONDS + 1)
    renewed = csrf_token_from(csrf_client.get("/invoices").get_data(as_text=True))
    assert renewed != first
    for token in (first, renewed):  # both verify (the first is a minute old, not hours)
        response = csrf_client.post(
            "/locale", data={"locale": "fr"}, headers={"X-CSRFToken": token, "HX-Request": "true"}
        )
        assert response.status_code == 302, token
