"""The money core through the web: the intent is committed before the card is charged, a
provider that does not answer leaves a pending payment that reconcile resolves, pending bank
transfers hold their invoices, one currency per cart and account, one order number per
order, Stripe-like idempotency keys, and amounts shown in the locale without exponents."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from babel import Locale
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, Role, User
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.cart.models import Cart, CartLine
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import format_money
from b2bshop.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    SandboxCharge,
)
from b2bshop.payments.providers import ProviderUnavailable, SandboxCardProvider
from b2bshop.payments.reconcile import reconcile
from b2bshop.payments.service import utcnow
from b2bshop.sales import service as sales_service
from b2bshop.sales.models import OrderStatus, SalesOrder
from tests import factories

APPROVE, DECLINE = "4242424242424242", "4000000000000002"
PASSWORD = "secret-pass"
BUYER, COLLEAGUE, OTHER, ADMIN = (
    "buyer@money.example",
    "colleague@money.example",
    "other@money.example",
    "admin@money.example",
)
HX = {"HX-Request": "true"}
EN, FR = Locale.parse("en"), Locale.parse("fr")
EXPONENT = re.compile(r"\d[Ee][+-]\d")


# --- providers -----------------------------------------------------------------------------


@dataclass
class Seen:
    key: str
    payments: list[tuple[str, str, Decimal]]
    reserved: dict[str, Decimal]


class SpyProvider(SandboxCardProvider):
    """Reads, on a connection of its own, what the store has committed when it charges."""

    def __init__(self) -> None:
        self.calls: list[Seen] = []

    def charge(self, *, amount, currency, card_number, idempotency_key):  # type: ignore[no-untyped-def]
        payments, invoices = Payment.__table__.c, Invoice.__table__.c
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(payments.number, payments.status, payments.amount).order_by(payments.id)
            ).all()
            reserved = conn.execute(select(invoices.number, invoices.amount_reserved)).all()
        self.calls.append(
            Seen(
                idempotency_key,
                [(n, str(s), a) for n, s, a in rows],
                {n: r for n, r in reserved},
            )
        )
        return super().charge(
            amount=amount,
            currency=currency,
            card_number=card_number,
            idempotency_key=idempotency_key,
        )


@dataclass
class ChargedThenTimeout(SandboxCardProvider):
    """Charges (the sandbox ledger keeps it), then the answer is lost on the way back."""

    keys: list[str] = field(default_factory=list)

    def charge(self, **kwargs):  # type: ignore[no-untyped-def]
        self.keys.append(kwargs["idempotency_key"])
        super().charge(**kwargs)
        raise ProviderUnavailable("read timed out")


class DownBeforeCharge(SandboxCardProvider):
    """Never reached: no charge was made."""

    def charge(self, **kwargs):  # type: ignore[no-untyped-def]
        raise ProviderUnavailable("connection refused")


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def shop(app):
    """An EUR customer (no cash discount) with a buyer, a colleague and two open invoices;
    another customer with a buyer and an invoice; a store admin; a product in stock."""
    with app.app_context():
        customer = factories.customer("Money Buyer Co")
        factories.user(BUYER, customer=customer)
        factories.user(COLLEAGUE, customer=customer)
        other = factories.customer("Other Co")
        factories.user(OTHER, customer=other)
        factories.user(ADMIN, role=Role.STORE_ADMIN)
        first = factories.invoice(customer, "1234.50")
        second = factories.invoice(customer, "80.00")
        others = factories.invoice(other, "60.00")
        desk = factories.product("DESK-1", price="100.00", stock=10)
        db.session.commit()
        return SimpleNamespace(
            customer_id=customer.id,
            other_id=other.id,
            first=first.number,
            second=second.number,
            others=others.number,
            desk_id=desk.id,
        )


@pytest.fixture
def buyer(shop, client, login):
    return login(BUYER, PASSWORD)


@pytest.fixture
def admin(shop, app, login):
    return login(ADMIN, PASSWORD, c=app.test_client())


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)


def _checkout(client, **data):
    data.setdefault("idempotency_key", _key(client.get("/checkout").get_data(as_text=True)))
    return client.post("/checkout", data=data), data["idempotency_key"]


def _pay(client, number: str, amount: str | None = None, **data):
    """Put the invoice in the cart (all of it unless an amount is given) and check out."""
    line = {"invoice": number} | ({"amount": amount} if amount else {})
    assert client.post("/cart/invoices", data=line, headers=HX).status_code == 200
    return _checkout(client, **data)


def _invoice(app, number: str) -> Invoice:
    with app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
        db.session.expunge_all()
        return invoice


def _payments(app) -> list[Payment]:
    with app.app_context():
        payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
        db.session.expunge_all()
        return payments


def _ledger(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(SandboxCharge).order_by(SandboxCharge.id)).all()
        return [(row.idempotency_key, row.status.value) for row in rows]


def _cart_invoices(app, email: str = BUYER) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Invoice.number)
                .join(CartLine, CartLine.invoice_id == Invoice.id)
                .join(Cart, Cart.id == CartLine.cart_id)
                .join(User, User.id == Cart.user_id)
                .where(User.email == email)
            )
        )


def _reconcile_later(app):
    """Reconcile as the cron would, once CARD_PENDING_TIMEOUT has passed."""
    with app.app_context():
        later = utcnow() + timedelta(seconds=app.config["CARD_PENDING_TIMEOUT"] + 60)
        report = reconcile(now=later)
        db.session.remove()
        return report


def _assert_one_completed_payment_per_charge(app):
    with app.app_context():
        for charge in db.session.scalars(
            select(SandboxCharge).where(SandboxCharge.status == "succeeded")
        ):
            number = charge.idempotency_key.removeprefix("b2bshop-")
            completed = db.session.scalar(
                select(func.count(Payment.id)).where(
                    Payment.number == number, Payment.status == PaymentStatus.COMPLETED
                )
            )
            assert completed == 1, charge.idempotency_key
        db.session.remove()


def _alert(html: str) -> str:
    return re.search(r'role="alert"><p>(.*?)</p>', html, re.S).group(1)


def _text(html: str) -> str:
    """The page's text without tags and attributes (tokens and keys live in attributes)."""
    return re.sub(r"<[^>]+>", " ", html)


# --- 1. intent before effect -------------------------------------------------------------------


def test_payment_is_committed_pending_before_the_card_is_charged(make_app, shop, login):
    spy_app = make_app(CARD_PROVIDER="tests.web.test_money_integrity_web.SpyProvider")
    buyer = login(BUYER, PASSWORD, c=spy_app.test_client())
    response, _ = _pay(buyer, shop.first, "100.00", method="card", card_number=APPROVE)
    assert response.headers["Location"] == "/payments/PAY-000001"
    spy = spy_app.extensions["b2bshop_card_provider"]
    assert isinstance(spy, SpyProvider)
    [seen] = spy.calls
    assert seen.key == "b2bshop-PAY-000001"
    assert seen.payments == [("PAY-000001", "pending", Decimal("100.00"))]
    assert seen.reserved[shop.first] == Decimal("100.00")
    [payment] = _payments(spy_app)
    assert payment.provider_key == seen.key and payment.status == PaymentStatus.COMPLETED
    assert _ledger(spy_app) == [(seen.key, "succeeded")]
    invoice = _invoice(spy_app, shop.first)
    assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("100.00"), 0)


# --- 2. faults in-process ----------------------------------------------------------------------


def test_charge_with_a_lost_answer_stays_pending_then_reconcile_completes_it(
    app, buyer, shop, monkeypatch
):
    monkeypatch.setitem(app.extensions, "b2bshop_card_provider", ChargedThenTimeout())
    response, _ = _pay(buyer, shop.first, method="card", card_number=APPROVE)
    assert response.status_code == 302
    receipt = buyer.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert "being confirmed" in receipt.get_data(as_text=True)
    [payment] = _payments(app)
    assert payment.status == PaymentStatus.PENDING
    invoice = _invoice(app, shop.first)
    assert (invoice.amount_paid, invoice.amount_reserved) == (0, Decimal("1234.50"))
    # The same invoice again, on a new checkout form: refused, not charged twice.
    again, _ = _checkout(buyer, method="card", card_number=APPROVE)
    assert again.status_code == 409
    assert "pending" in _alert(again.get_data(as_text=True))
    assert len(_payments(app)) == 1 and len(_ledger(app)) == 1
    # Reconcile finds the charge by the payment's key and completes the payment.
    assert _reconcile_later(app).completed == [payment.number]
    invoice = _invoice(app, shop.first)
    assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("1234.50"), 0)
    assert invoice.status == InvoiceStatus.PAID and invoice.reserved_since is None
    assert [p.status for p in _payments(app)] == [PaymentStatus.COMPLETED]
    _assert_one_completed_payment_per_charge(app)
    assert "Thank you" in buyer.get(response.headers["Location"]).get_data(as_text=True)


def test_no_charge_at_the_provider_reconcile_fails_it_and_releases_the_invoice(
    app, buyer, shop, monkeypatch
):
    monkeypatch.setitem(app.extensions, "b2bshop_card_provider", DownBeforeCharge())
    response, _ = _pay(buyer, shop.second, method="card", card_number=APPROVE)
    assert "being confirmed" in buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert _invoice(app, shop.second).amount_reserved == Decimal("80.00")
    assert _ledger(app) == []
    [number] = [p.number for p in _payments(app)]
    assert _reconcile_later(app).failed == [number]
    [payment] = _payments(app)
    assert payment.status == PaymentStatus.FAILED
    invoice = _invoice(app, shop.second)
    assert (invoice.amount_paid, invoice.amount_reserved, invoice.reserved_since) == (0, 0, None)
    # Released: the invoice can be paid again, and this time the card is charged.
    monkeypatch.setitem(app.extensions, "b2bshop_card_provider", SandboxCardProvider())
    again, _ = _checkout(buyer, method="card", card_number=APPROVE)
    assert again.status_code == 302
    assert _invoice(app, shop.second).status == InvoiceStatus.PAID
    _assert_one_completed_payment_per_charge(app)


def test_a_declined_charge_whose_answer_was_lost_is_failed_by_reconcile(
    app, buyer, shop, monkeypatch
):
    monkeypatch.setitem(app.extensions, "b2bshop_card_provider", ChargedThenTimeout())
    response, _ = _pay(buyer, shop.second, method="card", card_number=DECLINE)
    assert response.status_code == 302
    assert _ledger(app) == [("b2bshop-PAY-000001", "declined")]
    assert _reconcile_later(app).failed == ["PAY-000001"]
    [payment] = _payments(app)
    assert (payment.status, payment.status_reason) == (PaymentStatus.FAILED, "declined")
    invoice = _invoice(app, shop.second)
    assert (invoice.amount_paid, invoice.amount_reserved) == (0, 0)
    assert _ledger(app) == [("b2bshop-PAY-000001", "declined")]  # nothing to refund


def test_resubmitting_a_pending_checkout_does_not_charge_again(app, buyer, shop, monkeypatch):
    provider = ChargedThenTimeout()
    monkeypatch.setitem(app.extensions, "b2bshop_card_provider", provider)
    first, key = _pay(buyer, shop.second, method="card", card_number=APPROVE)
    again = buyer.post(
        "/checkout", data={"method": "card", "card_number": APPROVE, "idempotency_key": key}
    )
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert provider.keys == ["b2bshop-PAY-000001"]
    assert len(_payments(app)) == 1 and len(_ledger(app)) == 1


# --- 3. pending bank transfers reserve ---------------------------------------------------------


def _transfer(app, buyer, shop) -> str:
    response, _ = _pay(buyer, shop.first, method="bank_transfer")
    assert response.status_code == 302
    [payment] = _payments(app)
    assert (payment.method, payment.status) == (PaymentMethod.BANK_TRANSFER, PaymentStatus.PENDING)
    return payment.number


def test_pending_bank_transfer_reserves_the_invoice_and_shows_it(app, buyer, shop):
    _transfer(app, buyer, shop)
    invoice = _invoice(app, shop.first)
    assert invoice.amount_reserved == Decimal("1234.50") and invoice.amount_paid == 0
    assert invoice.payable_amount(date.today()) == 0
    shown = f"{format_money(Decimal('1234.50'), 'EUR', EN)} pending since"
    assert shown in buyer.get("/invoices").get_data(as_text=True)
    assert shown in buyer.get(f"/invoices/{shop.first}").get_data(as_text=True)
    refused = buyer.post("/cart/invoices", data={"invoice": shop.first}, headers=HX)
    assert refused.status_code == 409 and "pending" in refused.get_data(as_text=True)
    assert _cart_invoices(app) == []


def test_admin_cancels_a_transfer_with_a_reason_audited_then_the_invoice_is_payable(
    app, buyer, admin, shop
):
    number = _transfer(app, buyer, shop)
    blank = admin.post(f"/admin/payments/{number}/cancel", data={"reason": "  "})
    assert blank.status_code == 422
    assert _payments(app)[0].status == PaymentStatus.PENDING
    assert _invoice(app, shop.first).amount_reserved == Decimal("1234.50")
    response = admin.post(f"/admin/payments/{number}/cancel", data={"reason": "Customer paid cash"})
    assert response.status_code == 302
    [payment] = _payments(app)
    assert (payment.status, payment.status_reason) == (
        PaymentStatus.CANCELLED,
        "Customer paid cash",
    )
    with app.app_context():
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "payment.cancel")
        ).all()
        assert entry.entity_id == number and entry.actor.email == ADMIN
        assert entry.after == {"status": "cancelled", "reason": "Customer paid cash"}
    invoice = _invoice(app, shop.first)
    assert (invoice.amount_reserved, invoice.reserved_since) == (0, None)
    assert "pending since" not in buyer.get("/invoices").get_data(as_text=True)
    paid, _ = _pay(buyer, shop.first, method="card", card_number=APPROVE)
    assert paid.status_code == 302
    assert _invoice(app, shop.first).status == InvoiceStatus.PAID


def test_confirming_a_cancelled_transfer_is_409_and_changes_nothing(app, buyer, admin, shop):
    number = _transfer(app, buyer, shop)
    admin.post(f"/admin/payments/{number}/cancel", data={"reason": "Never arrived"})
    response = admin.post(f"/admin/payments/{number}/confirm")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "is not pending" in html and "cancelled" in html
    assert _payments(app)[0].status == PaymentStatus.CANCELLED
    invoice = _invoice(app, shop.first)
    assert (invoice.amount_paid, invoice.amount_reserved, invoice.status) == (
        0,
        0,
        InvoiceStatus.UNPAID,
    )
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.action == "payment.confirm")
            )
            == 0
        )


def test_reconcile_expires_an_old_transfer_and_the_invoice_is_payable_again(
    make_app, app, buyer, shop
):
    number = _transfer(app, buyer, shop)
    short = make_app(BANK_TRANSFER_EXPIRY_DAYS=2)
    with short.app_context():
        report = reconcile(now=utcnow() + timedelta(days=3))
        db.session.remove()
    assert report.expired == [number]
    assert _payments(app)[0].status == PaymentStatus.EXPIRED
    assert _invoice(app, shop.first).amount_reserved == 0
    with app.app_context():
        assert (
            db.session.scalar(
                select(AuditEntry.entity_id).where(AuditEntry.action == "payment.expire")
            )
            == number
        )
    assert buyer.post("/cart/invoices", data={"invoice": shop.first}, headers=HX).status_code == 200


# --- 4. currencies -----------------------------------------------------------------------------


def test_item_cart_refuses_a_product_priced_in_another_currency(app, buyer, shop):
    with app.app_context():
        factories.product("USD-1", price="5.00").currency = "USD"
        db.session.commit()
    response = buyer.post("/cart/items", data={"sku": "USD-1", "qty": "1"}, headers=HX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "USD" in html and "EUR" in html
    with app.app_context():
        assert db.session.scalar(select(func.count(CartLine.id))) == 0


def _customer_form(customer: Customer, currency: str) -> dict:
    return {
        "number": customer.number,
        "name": customer.name,
        "email": customer.email,
        "currency": currency,
        "payment_terms_id": customer.payment_terms_id,
        "credit_limit": "10000.00",
        "invoice_account_id": 0,
        "active": "y",
    }


def _make_dependent(what: str, target: Customer, shop) -> None:
    if what == "invoice":
        factories.invoice(target, "10.00")
    elif what == "order":
        admin_user = factories.user(role=Role.STORE_ADMIN)
        sales_service.place_order(
            admin_user, target, [sales_service.OrderLineInput(shop.desk_id, 1)]
        )
    elif what == "payment":  # a payment of the account's, for an invoice billed elsewhere
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == shop.others))
        db.session.add(
            Payment(
                number="PAY-T-1",
                customer_id=target.id,
                method=PaymentMethod.MANUAL,
                status=PaymentStatus.PENDING,
                amount=Decimal("1.00"),
                currency="EUR",
                allocations=[PaymentAllocation(invoice_id=invoice.id, amount=Decimal("1.00"))],
            )
        )
    elif what == "billed customer":
        factories.customer(invoice_account=target)


@pytest.mark.parametrize("what", ["invoice", "order", "payment", "billed customer"])
def test_customer_currency_cannot_change_once_it_is_used(app, admin, shop, what):
    with app.app_context():
        target = factories.customer("Target Co")
        _make_dependent(what, target, shop)
        db.session.commit()
        form, target_id = _customer_form(target, "USD"), target.id
    response = admin.post(f"/admin/customers/{target_id}/edit", data=form)
    assert response.status_code == 422
    assert "keeps its currency" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Customer, target_id).currency == "EUR"


def test_customer_currency_can_change_while_nothing_uses_it(app, admin, shop):
    with app.app_context():
        target = factories.customer("Fresh Co")
        db.session.commit()
        form, target_id = _customer_form(target, "USD"), target.id
    assert admin.post(f"/admin/customers/{target_id}/edit", data=form).status_code == 302
    with app.app_context():
        assert db.session.get(Customer, target_id).currency == "USD"


# --- 5 and 8. refusals and amounts in the buyer's locale ------------------------------------


def test_credit_refusal_at_checkout_formats_money_in_the_buyers_locale(app, client, login):
    with app.app_context():
        customer = factories.customer("Petit Crédit", credit_limit="1000")
        factories.user("fr@money.example", customer=customer, locale="fr")
        factories.product("BIG-1", price="1234.56")
        db.session.commit()
    login("fr@money.example", PASSWORD)
    assert client.post("/cart/items", data={"sku": "BIG-1", "qty": "1"}).status_code == 302
    response, _ = _checkout(client, method="on_account")
    assert response.status_code == 409
    message = _alert(response.get_data(as_text=True))
    assert format_money(Decimal("1234.56"), "EUR", FR) in message
    assert format_money(Decimal("1000.00"), "EUR", FR) in message
    assert "€" in message and "€1,234.56" not in message
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesOrder.id))) == 0


def test_pending_refusal_formats_money_in_the_buyers_locale(app, buyer, shop, login):
    _transfer(app, buyer, shop)
    with app.app_context():
        factories.user(
            "collegue@money.example",
            customer=db.session.get(Customer, shop.customer_id),
            locale="fr",
        )
        db.session.commit()
    colleague = login("collegue@money.example", PASSWORD, c=app.test_client())
    refused = colleague.post("/cart/invoices", data={"invoice": shop.first}, headers=HX)
    assert refused.status_code == 409
    assert format_money(Decimal("1234.50"), "EUR", FR) in refused.get_data(as_text=True)


def test_receipt_and_invoice_page_show_no_exponent(app, buyer, shop):
    response, _ = _pay(buyer, shop.first, "1e3", method="card", card_number=APPROVE)
    assert response.status_code == 302
    receipt = buyer.get(response.headers["Location"]).get_data(as_text=True)
    page = buyer.get(f"/invoices/{shop.first}").get_data(as_text=True)
    thousand = format_money(Decimal("1000"), "EUR", EN)
    assert thousand in _text(receipt) and thousand in _text(page)
    assert format_money(Decimal("234.50"), "EUR", EN) in _text(page)  # the balance
    assert not EXPONENT.search(_text(receipt)), EXPONENT.search(_text(receipt))
    assert not EXPONENT.search(_text(page)), EXPONENT.search(_text(page))


# --- 6. one order number per order -----------------------------------------------------------


def test_storefront_orders_numbered_without_gaps_confirmed_and_reserving_stock(
    app, buyer, admin, shop, monkeypatch
):
    confirms: list[bool] = []
    real = sales_service.place_order

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        confirms.append(kwargs.get("confirm", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(sales_service, "place_order", spy)
    numbers = []
    for qty in ("3", "95", "2"):  # 95 desks are more than the credit left: refused
        buyer.post("/cart/empty")
        buyer.post("/cart/items", data={"sku": "DESK-1", "qty": qty})
        response, _ = _checkout(buyer, method="on_account")
        numbers.append(response.headers.get("Location") or response.status_code)
    assert numbers == ["/orders/SO-000001", 409, "/orders/SO-000002"]
    with app.app_context():
        orders = db.session.scalars(select(SalesOrder).order_by(SalesOrder.id)).all()
        assert [(o.number, o.status) for o in orders] == [
            ("SO-000001", OrderStatus.CONFIRMED),
            ("SO-000002", OrderStatus.CONFIRMED),
        ]
        assert all(line.backorder_quantity == 0 for o in orders for line in o.lines)
        assert db.session.get(Product, shop.desk_id).stock_on_hand == 5
    admin_order = admin.post(
        "/admin/orders/new",
        data={
            "customer_id": shop.customer_id,
            "order_type": "sales_order",
            "idempotency_key": str(uuid.uuid4()),
            "product-0": shop.desk_id,
            "quantity-0": 1,
        },
    )
    assert admin_order.status_code == 302
    assert admin_order.headers["Location"].endswith("/SO-000003")
    with app.app_context():
        order = db.session.scalar(select(SalesOrder).where(SalesOrder.number == "SO-000003"))
        assert order.status == OrderStatus.OPEN and order.lines[0].backorder_quantity == 1
        assert db.session.get(Product, shop.desk_id).stock_on_hand == 5
    assert confirms == [True, True, True, False]
    # Confirmed from its page, the admin's order reserves its stock too.
    assert admin.post("/admin/orders/SO-000003/confirm").status_code == 302
    with app.app_context():
        assert db.session.get(Product, shop.desk_id).stock_on_hand == 4


# --- 7. idempotency keys -------------------------------------------------------------------


def test_same_key_same_cart_gets_the_first_receipt_and_one_payment(app, buyer, shop):
    first, key = _pay(buyer, shop.first, "100.00", method="card", card_number=APPROVE)
    again = buyer.post(
        "/checkout", data={"method": "card", "card_number": APPROVE, "idempotency_key": key}
    )
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert len(_payments(app)) == 1 and len(_ledger(app)) == 1
    assert _invoice(app, shop.first).amount_paid == Decimal("100.00")


def test_same_key_after_the_cart_changed_is_409_and_pays_nothing(app, buyer, shop):
    _, key = _pay(buyer, shop.first, "100.00", method="card", card_number=APPROVE)
    buyer.post("/cart/invoices", data={"invoice": shop.second}, headers=HX)
    response = buyer.post(
        "/checkout", data={"method": "card", "card_number": APPROVE, "idempotency_key": key}
    )
    assert response.status_code == 409
    message = _alert(response.get_data(as_text=True))
    assert "already used" in message and "PAY-000001" in message
    assert len(_payments(app)) == 1 and len(_ledger(app)) == 1
    second = _invoice(app, shop.second)
    assert (second.amount_paid, second.amount_reserved) == (0, 0)
    assert _cart_invoices(app) == [shop.second]


@pytest.mark.parametrize("email", [COLLEAGUE, OTHER])
def test_another_users_equal_key_is_just_a_new_payment(app, buyer, shop, login, email):
    key = "5d6c1f3e-0000-4000-8000-00000000c0de"
    first, _ = _pay(
        buyer, shop.first, "100.00", method="card", card_number=APPROVE, idempotency_key=key
    )
    assert first.headers["Location"] == "/payments/PAY-000001"
    theirs = login(email, PASSWORD, c=app.test_client())
    number = shop.second if email == COLLEAGUE else shop.others
    response, _ = _pay(theirs, number, method="card", card_number=APPROVE, idempotency_key=key)
    assert response.status_code == 302
    assert response.headers["Location"] == "/payments/PAY-000002"
    receipt = theirs.get("/payments/PAY-000002").get_data(as_text=True)
    assert number in receipt and shop.first not in receipt
    if email == OTHER:  # another customer's receipt is not found
        assert theirs.get("/payments/PAY-000001").status_code == 404
    payments = _payments(app)
    assert [p.number for p in payments] == ["PAY-000001", "PAY-000002"]
    assert payments[0].user_id != payments[1].user_id
    assert _invoice(app, number).status == InvoiceStatus.PAID


def test_admin_manual_payment_same_key_other_amounts_is_409(app, admin, shop):
    invoice = _invoice(app, shop.first)
    key = str(uuid.uuid4())

    def submit(amount: str):  # type: ignore[no-untyped-def]
        data = {"idempotency_key": key, "reference": "BANK-7", f"amount-{invoice.id}": amount}
        return admin.post(f"/admin/payments/new?customer_id={shop.customer_id}", data=data)

    first, again = submit("100.00"), submit("100.00")
    assert first.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    other = submit("150.00")
    assert other.status_code == 409
    assert "already used" in other.get_data(as_text=True)
    assert len(_payments(app)) == 1
    assert _invoice(app, shop.first).amount_paid == Decimal("100.00")


def test_partial_transfer_with_cash_discount_leaves_the_rest_payable(app, buyer, admin, shop):
    with app.app_context():
        customer = db.session.get(Customer, shop.customer_id)
        customer.payment_terms = factories.payment_terms(net_days=30, percent="2", days=10)
        number = factories.invoice(customer, "100.00", days_ago=2).number  # discount 2.00
        db.session.commit()
    transfer, _ = _pay(buyer, number, "49.00", method="bank_transfer")
    assert transfer.status_code == 302
    invoice = _invoice(app, number)
    # 49.00 earns its share of the discount (1.00): 50.00 is held, 49.00 is left to pay.
    assert invoice.amount_reserved == Decimal("50.00")
    assert invoice.payable_amount(date.today()) == Decimal("49.00")
    card, _ = _pay(buyer, number, method="card", card_number=APPROVE)
    assert card.status_code == 302
    invoice = _invoice(app, number)
    assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("50.00"), Decimal("50.00"))
    transfer_number = transfer.headers["Location"].rsplit("/", 1)[1]
    assert admin.post(f"/admin/payments/{transfer_number}/confirm").status_code == 302
    invoice = _invoice(app, number)
    assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("100.00"), 0)
    assert invoice.status == InvoiceStatus.PAID


def test_order_checkout_key_replayed_gets_the_order_and_with_other_items_is_409(app, buyer, shop):
    buyer.post("/cart/items", data={"sku": "DESK-1", "qty": "1"})
    first, key = _checkout(buyer, method="on_account")
    assert first.headers["Location"] == "/orders/SO-000001"
    again = buyer.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    assert again.headers["Location"] == first.headers["Location"]
    buyer.post("/cart/items", data={"sku": "DESK-1", "qty": "2"})
    changed = buyer.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    assert changed.status_code == 409
    assert "SO-000001" in _alert(changed.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesOrder.id))) == 1
        assert db.session.get(Product, shop.desk_id).stock_on_hand == 9


def test_a_key_that_placed_an_order_cannot_pay_invoices_and_the_reverse(app, buyer, shop):
    """One key, one request: a key that paid invoices does not place an order, nor the
    other way round (only a forged form could try)."""
    _, key = _pay(buyer, shop.second, method="card", card_number=APPROVE)
    buyer.post("/cart/items", data={"sku": "DESK-1", "qty": "1"})
    order = buyer.post("/checkout", data={"method": "on_account", "idempotency_key": key})
    assert order.status_code == 409 and "PAY-000001" in _alert(order.get_data(as_text=True))
    placed, order_key = _checkout(buyer, method="on_account")
    assert placed.headers["Location"] == "/orders/SO-000001"
    buyer.post("/cart/invoices", data={"invoice": shop.first}, headers=HX)
    paid = buyer.post(
        "/checkout", data={"method": "card", "card_number": APPROVE, "idempotency_key": order_key}
    )
    assert paid.status_code == 409 and "SO-000001" in _alert(paid.get_data(as_text=True))
    assert len(_payments(app)) == 1 and len(_ledger(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesOrder.id))) == 1
