"""Hostile input is refused at one place each, with a message in the user's language
(issue 13): NUL bytes, ids and cursors past their columns, amounts past Numeric(18, 2),
overlong text, bad email addresses, oversize bodies, and stale or missing CSRF tokens on
every POST of the URL map. The fuzzer's own checks are shown to fail where they must."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import Customer, User
from b2bshop.billing.models import FreeTextInvoice, Invoice, InvoiceStatus
from b2bshop.cart.models import Cart
from b2bshop.catalog.models import Product
from b2bshop.config import from_env
from b2bshop.core.inputs import INT32_MAX, parse_id, parse_int
from b2bshop.core.listing import BadCursor, decode_cursor, encode_cursor
from b2bshop.extensions import db
from b2bshop.money import parse_amount
from b2bshop.payments.models import Payment
from b2bshop.requests.models import B2BRequest
from tests.security.fuzzing import (
    MONEY_TABLES,
    FuzzRequest,
    Sender,
    Target,
    money_counts,
)

BUYER, ADMIN = "buyer@contoso.example", "admin@b2bshop.example"
FR = {"Accept-Language": "fr"}
NUL_EN, NUL_FR = "(a NUL byte)", "(un octet NUL)"


def _signed_in(app, email: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": "demo"}).status_code == 302
    return client


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return n


# --- NUL bytes: one before_request hook, 400 in the user's language ---


@pytest.mark.parametrize("url", ["/invoices?q=%00", "/catalog?q=%00", "/invoices/%00"])
def test_a_nul_byte_in_the_url_is_refused_in_the_users_language(app, demo, url):
    buyer = _signed_in(app, BUYER)
    english, french = buyer.get(url), buyer.get(url, headers=FR)
    assert english.status_code == french.status_code == 400
    assert NUL_EN in english.get_data(as_text=True)
    assert NUL_FR in french.get_data(as_text=True)


def test_a_nul_byte_in_a_form_field_or_admin_filter_is_refused(app, demo):
    buyer, admin = _signed_in(app, BUYER), _signed_in(app, ADMIN)
    before = money_counts(app)
    response = buyer.post("/cart/items", data={"sku": "OFF-PAP-A4\x00", "qty": "1"})
    assert response.status_code == 400 and NUL_EN in response.get_data(as_text=True)
    assert money_counts(app) == before
    response = admin.get("/admin/customers", query_string={"q": "Contoso\x00"})
    assert response.status_code == 400 and NUL_EN in response.get_data(as_text=True)


# --- integers: one range, ids in the URL map, form fields and cursors ---


def test_parse_int_takes_ascii_digits_within_the_column_range():
    assert parse_int("42") == 42 and parse_int(" 7 ") == 7 and parse_int("0") == 0
    assert parse_int(str(INT32_MAX)) == INT32_MAX and parse_int(str(INT32_MAX + 1)) is None
    for text in ("9223372036854775808", "-1", "²", "١٢", "1_000", "1e3", "", " ", None, "x"):
        assert parse_int(text) is None, text
    assert parse_int("-5", minimum=-10) == -5
    assert parse_id("0") is None and parse_id("1") == 1


def test_an_id_past_the_column_matches_no_route(app):
    urls = app.url_map.bind("localhost")
    assert urls.match(f"/admin/customers/{INT32_MAX}")[0] == "admin.show_customer"
    for too_big in (INT32_MAX + 1, 2**63, 2**64):
        with pytest.raises(NotFound):
            urls.match(f"/admin/customers/{too_big}")


def test_ids_past_the_column_find_nothing(app, demo):
    admin = _signed_in(app, ADMIN)
    assert admin.get("/admin/customers/9223372036854775808").status_code == 404
    assert admin.post("/admin/customers/2147483648/edit").status_code == 404
    # An id that cannot be one picks no customer: the page asks to choose one.
    picker = admin.get("/admin/payments/new?customer_id=9223372036854775808")
    page = picker.get_data(as_text=True)
    assert picker.status_code == 200
    assert 'name="customer_id"' in page and 'id="manual-payment"' not in page


@pytest.mark.parametrize(
    ("value", "row_id"),
    [("x", 2**31), ("x", 2**63), ("x", -1), ("x", 0), ("x", True), ("\x00", 1), ("x", 1.5)],
)
def test_a_cursor_past_the_id_column_or_with_a_nul_is_no_cursor(value, row_id):
    token = encode_cursor(value, row_id)  # type: ignore[arg-type]
    with pytest.raises(BadCursor):
        decode_cursor(token)


def test_a_bad_cursor_shows_the_first_page_and_says_so(app, demo):
    admin = _signed_in(app, ADMIN)
    for token in (encode_cursor("OFF-PAP-A4", 2**63), encode_cursor("OFF\x00", 1)):
        response = admin.get("/admin/products", query_string={"after": token})
        assert response.status_code == 200
        assert "The page link is not valid" in response.get_data(as_text=True)
    buyer = _signed_in(app, BUYER)
    for token in (encode_cursor("1e30", 1), encode_cursor("NaN", 1)):
        response = buyer.get("/invoices", query_string={"sort": "amount", "after": token})
        assert response.status_code == 200
        assert "The page link is not valid" in response.get_data(as_text=True)


# --- money: one parser for buyer and admin forms, bound to Numeric(18, 2) ---


@settings(derandomize=True, max_examples=400, database=None)
@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.decimals(min_value=-(10**17), max_value=10**17, places=3).map(str),
        st.text(max_size=30),
    )
)
def test_whatever_parse_amount_accepts_fits_a_money_column(text):
    amount = parse_amount(text)
    if amount is not None:
        assert amount.is_finite()
        assert amount == amount.quantize(Decimal("0.01"))
        assert abs(amount) < Decimal(10) ** 16


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12,50", Decimal("12.50")),
        ("1e3", Decimal("1000.00")),
        ("9999999999999999.99", Decimal("9999999999999999.99")),
        ("-1", Decimal("-1.00")),
        ("10000000000000000", None),
        ("1e20", None),
        ("1e30", None),
        ("Infinity", None),
        ("NaN", None),
        ("0.001", None),
        ("1e999999999", None),
    ],
)
def test_parse_amount(text, expected):
    assert parse_amount(text) == expected


def _product_form(**changes: str) -> dict[str, str]:
    form = {
        "sku": "FUZZ-1",
        "name": "Fuzz",
        "price": "10.00",
        "currency": "EUR",
        "tax_rate": "21",
        "stock_on_hand": "5",
        "active": "y",
    }
    return form | changes


AMOUNT_EN = "at most 16 digits before the decimal point and two after"
AMOUNT_FR = "au plus 16 chiffres avant la virgule et deux après"
RATE_EN, RATE_FR = "Enter a percentage such as 21", "Saisissez un pourcentage tel que 21"


@pytest.mark.parametrize(
    ("change", "english", "french"),
    [
        ({"price": "0.001"}, AMOUNT_EN, AMOUNT_FR),
        ({"price": "1e20"}, AMOUNT_EN, AMOUNT_FR),
        ({"price": "Infinity"}, AMOUNT_EN, AMOUNT_FR),
        ({"price": "NaN"}, AMOUNT_EN, AMOUNT_FR),
        ({"price": "-1"}, "Number must be at least 0.", "Le nombre doit être au minimum 0."),
        (
            {"stock_on_hand": str(2**31)},
            "Number must be between 0 and 2147483647.",
            "Le nombre doit être compris entre 0 et 2147483647.",
        ),
        ({"tax_rate": "NaN"}, RATE_EN, RATE_FR),
        ({"tax_rate": "1e30"}, RATE_EN, RATE_FR),
    ],
)
def test_the_product_form_refuses_what_its_columns_cannot_hold(app, demo, change, english, french):
    admin = _signed_in(app, ADMIN)
    before = _count(app, Product)
    response = admin.post("/admin/products/new", data=_product_form(**change))
    assert response.status_code == 422
    assert english in response.get_data(as_text=True)
    in_french = admin.post("/admin/products/new", data=_product_form(**change), headers=FR)
    assert french in in_french.get_data(as_text=True)
    assert _count(app, Product) == before


def test_the_largest_price_the_column_holds_is_taken(app, demo):
    admin = _signed_in(app, ADMIN)
    ok = admin.post("/admin/products/new", data=_product_form(price="9999999999999999.99"))
    assert ok.status_code == 302


def _customer_form(**changes: str) -> dict[str, str]:
    return {
        "number": "C-9000",
        "name": "Northwind",
        "email": "ap@northwind.example",
        "currency": "EUR",
        "payment_terms_id": "1",
        "credit_limit": "1000",
        "invoice_account_id": "0",
        "active": "y",
    } | changes


@pytest.mark.parametrize(
    "change",
    [
        {"credit_limit": "1e20"},
        {"credit_limit": "Infinity"},
        {"credit_limit": "0.001"},
        {"payment_terms_id": "9223372036854775808"},
        {"invoice_account_id": "9223372036854775808"},
        {"email": "a@"},
        {"email": "@"},
    ],
)
def test_the_customer_form_refuses_what_its_columns_cannot_hold(app, demo, change):
    admin = _signed_in(app, ADMIN)
    before = _count(app, Customer)
    response = admin.post("/admin/customers/new", data=_customer_form(**change))
    assert response.status_code == 422
    assert _count(app, Customer) == before
    assert admin.post("/admin/customers/new", data=_customer_form()).status_code == 302


def test_a_free_text_line_past_its_columns_is_refused(app, demo):
    admin = _signed_in(app, ADMIN)
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.number == "C-1001"))
        db.session.remove()
    line = {"account-0": "4000", "description-0": "Consulting", "amount-0": "10.00", "tax-0": "21"}
    today = date.today().isoformat()
    form = {"customer_id": str(customer_id), "invoice_date": today, "action": "save"}
    cases = [
        ({"description-0": "x" * 501}, "the description is longer than 500 characters"),
        ({"amount-0": "1e30"}, "at most 16 digits before the decimal point"),
        ({"amount-0": "0.001"}, "at most 16 digits before the decimal point"),
        ({"tax-0": "NaN"}, "tax rates such as 21"),
        ({"invoice_date": "9999-12-31"}, "within ten years of today"),
        ({"invoice_date": "0001-01-01"}, "within ten years of today"),
        (
            {"amount-0": "9999999999999999.99"},
            "more than one invoice can hold",
        ),
    ]
    for change, message in cases:
        response = admin.post("/admin/free-text/new", data=form | line | change)
        assert response.status_code == 422, change
        assert message in response.get_data(as_text=True), change
        assert _count(app, FreeTextInvoice) == 0
    ok = admin.post("/admin/free-text/new", data=form | line)
    assert ok.status_code == 302 and _count(app, FreeTextInvoice) == 1


def test_a_manual_payment_past_the_column_is_refused(app, demo):
    admin = _signed_in(app, ADMIN)
    with app.app_context():
        invoice = db.session.scalar(
            select(Invoice).where(Invoice.status == InvoiceStatus.UNPAID).order_by(Invoice.id)
        )
        customer_id, invoice_id = invoice.customer_id, invoice.id
        db.session.remove()
    page = admin.get(f"/admin/payments/new?customer_id={customer_id}").get_data(as_text=True)
    key = page.split('name="idempotency_key"')[1].split('value="')[1].split('"')[0]
    before = _count(app, Payment)
    for amount in ("1e20", "Infinity", "0.001", "1e30"):
        response = admin.post(
            "/admin/payments/new",
            data={
                "customer_id": str(customer_id),
                "idempotency_key": key,
                f"amount-{invoice_id}": amount,
            },
        )
        assert response.status_code == 422, amount
        assert "at most 16 digits before the decimal point" in response.get_data(as_text=True)
    assert _count(app, Payment) == before


# --- email addresses: the email-validator library, nothing created when refused ---


@pytest.mark.parametrize(
    ("email", "english", "french"),
    [
        ("a@", "Enter a valid email address", "Saisissez une adresse e-mail valide"),
        ("@", "Enter a valid email address", "Saisissez une adresse e-mail valide"),
        ("\x00@x.example", NUL_EN, NUL_FR),
    ],
)
def test_a_buyer_admin_cannot_add_a_user_with_a_bad_address(app, demo, email, english, french):
    buyer = _signed_in(app, BUYER)
    requests, users = _count(app, B2BRequest), _count(app, User)
    form = {"action": "add", "email": email, "name": "New"}
    response = buyer.post("/account/users", data=form)
    assert response.status_code in (400, 422)
    assert english in response.get_data(as_text=True)
    assert french in buyer.post("/account/users", data=form, headers=FR).get_data(as_text=True)
    assert (_count(app, B2BRequest), _count(app, User)) == (requests, users)


@pytest.mark.parametrize("email", ["a@", "@", "\x00@x.example", "x@localhost", ""])
def test_create_user_refuses_a_bad_address(app_ctx, email):
    with pytest.raises(accounts.EmailInvalid):
        accounts.create_user(email, "secret-pass")
    assert db.session.scalar(select(func.count(User.id))) == 0


# --- oversize bodies: MAX_CONTENT_LENGTH, 413 in the user's language ---


def test_a_10_mb_form_is_refused_with_413(app, demo):
    body = {"email": "x" * (10 * 1024 * 1024), "password": "x"}
    response = app.test_client().post("/login", data=body)
    assert response.status_code == 413
    assert "too large: at most 1 MB" in response.get_data(as_text=True)
    french = app.test_client().post("/login", data=body, headers=FR)
    assert french.status_code == 413 and "trop volumineux" in french.get_data(as_text=True)
    buyer = _signed_in(app, BUYER)
    before = money_counts(app)
    big = buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "1", "x": "y" * 2**21})
    assert big.status_code == 413 and money_counts(app) == before


def test_max_content_length_is_a_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    assert from_env(str(tmp_path))["MAX_CONTENT_LENGTH"] == 1024 * 1024
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "4096")
    assert from_env(str(tmp_path))["MAX_CONTENT_LENGTH"] == 4096


# --- the fuzzer's own checks can fail ---


def test_the_fuzzer_reports_a_5xx_and_a_refusal_that_changed_money(make_app, demo):
    app = make_app()

    @app.route("/_overflow")
    def overflow():  # type: ignore[no-untyped-def]
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    @app.route("/_refused_yet_saved", methods=["POST"])
    def refused_yet_saved():  # type: ignore[no-untyped-def]
        user = db.session.scalar(select(User).where(User.email == BUYER))
        db.session.add(Cart(user_id=user.id))
        db.session.commit()
        return "refused", 422

    sender = Sender(app, "anonymous", app.test_client())
    get = Target("/_overflow", "overflow", "GET", ())
    assert sender.send(FuzzRequest(get, "/_overflow")) == 500
    post = Target("/_refused_yet_saved", "refused_yet_saved", "POST", ())
    assert sender.send(FuzzRequest(post, "/_refused_yet_saved")) == 422
    assert len(sender.failures) == 1 and "OverflowError" in sender.failures[0]
    assert len(sender.changed) == 1 and "'carts': (0, 1)" in sender.changed[0]
    assert sender.count == 2 and "carts" in MONEY_TABLES
