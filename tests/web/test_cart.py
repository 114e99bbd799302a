"""Cart and checkout (issue 4): one kind per cart, amounts, bulk pay, checkout, integrity."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.cart.models import Cart, CartLine
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.payments.models import Payment, PaymentStatus
from b2bshop.sales.models import SalesOrder

APPROVE, DECLINE, NO_FUNDS = "4242424242424242", "4000000000000002", "4000000000009995"
HX = {"HX-Request": "true"}


def _invoice(app, customer: str, status: InvoiceStatus, overdue: bool | None = None) -> Invoice:
    today = date.today()
    with app.app_context():
        invoices = db.session.scalars(
            select(Invoice)
            .join(Customer)
            .where(Customer.name == customer, Invoice.status == status)
            .order_by(Invoice.due_date)
        ).all()
        if overdue is not None:
            invoices = [i for i in invoices if i.is_overdue(today) == overdue]
        db.session.expunge_all()
        return invoices[0]


def _fresh(app, number: str) -> Invoice:
    with app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
        db.session.expunge_all()
        return invoice


def _cart_lines(app, email="buyer@contoso.example") -> list[CartLine]:
    with app.app_context():
        lines = db.session.scalars(
            select(CartLine)
            .join(Cart, Cart.id == CartLine.cart_id)
            .join(User)
            .where(User.email == email)
        ).all()
        db.session.expunge_all()
        return lines


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture
def buyer(client, demo, login):
    return login("buyer@contoso.example")


def test_pay_invoice_adds_it_without_reload_and_updates_the_badge(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    response = buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    assert response.status_code == 200
    assert '"cartChanged"' in response.headers["HX-Trigger"]
    assert "In your cart" in response.get_data(as_text=True)
    assert [line.invoice_id for line in _cart_lines(app)] == [invoice.id]
    assert _cart_lines(app)[0].amount == invoice.balance
    badge = buyer.get("/cart/badge").get_data(as_text=True)
    assert ">1</span>" in badge


def test_pay_invoice_without_javascript_goes_to_checkout(buyer, app):
    invoice = _invoice(app, "Contoso Retail", InvoiceStatus.PARTIALLY_PAID)
    response = buyer.post("/cart/invoices", data={"invoice": invoice.number})
    assert response.status_code == 302 and response.headers["Location"] == "/checkout"


def test_adding_twice_updates_and_makes_no_duplicate(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    buyer.post("/cart/invoices", data={"invoice": invoice.number, "amount": "10.00"}, headers=HX)
    lines = _cart_lines(app)
    assert len(lines) == 1 and lines[0].amount == Decimal("10.00")


def test_default_amount_is_the_discounted_balance_inside_the_discount_period(buyer, app):
    today = date.today()
    with app.app_context():
        invoice = next(
            i
            for i in db.session.scalars(
                select(Invoice).join(Customer).where(Customer.name == "Contoso Retail")
            )
            if i.cash_discount_open(today)
        )
        expected = invoice.balance - invoice.cash_discount_available(today)
        number = invoice.number
    buyer.post("/cart/invoices", data={"invoice": number}, headers=HX)
    assert _cart_lines(app)[0].amount == expected


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than zero"),
        ("-5", "greater than zero"),
        ("12.345", "two decimals"),
        ("abc", "two decimals"),
        ("NaN", "two decimals"),
        ("1e3", None),
        ("999999", "more than the balance"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(buyer, app, amount, message):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number, "amount": "5.00"}, headers=HX)
    response = buyer.post(
        "/cart/invoices", data={"invoice": invoice.number, "amount": amount}, headers=HX
    )
    if message is None:  # 1e3 = 1000.00 is a valid number; accepted when within the balance
        return
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _cart_lines(app)[0].amount == Decimal("5.00")


def test_inline_amount_validation_on_the_cart_page(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    response = buyer.post(
        "/cart/invoices",
        headers=HX,
        data={"invoice": invoice.number, "amount": "1,5", "fragment": "cart"},
    )
    assert response.status_code == 200 and _cart_lines(app)[0].amount == Decimal("1.50")
    bad = buyer.post(
        "/cart/invoices",
        headers=HX,
        data={"invoice": invoice.number, "amount": "0", "fragment": "cart"},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert html.lstrip().startswith('<div id="cart">')
    assert 'aria-invalid="true"' in html and "greater than zero" in html


def test_paid_invoice_is_refused(buyer, app):
    invoice = _invoice(app, "Contoso Retail", InvoiceStatus.PAID)
    response = buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    assert response.status_code == 409
    assert "already paid" in response.get_data(as_text=True)
    assert _cart_lines(app) == []


def test_other_customers_invoice_is_404(client, demo, login, app):
    fabrikam = _invoice(app, "Fabrikam", InvoiceStatus.UNPAID)
    login("buyer@contoso.example")
    response = client.post("/cart/invoices", data={"invoice": fabrikam.number}, headers=HX)
    assert response.status_code == 404
    assert fabrikam.number in response.get_data(as_text=True)  # "There is no invoice X"
    assert "Fabrikam" not in response.get_data(as_text=True)
    assert _cart_lines(app) == []


def test_item_refused_while_invoices_are_in_the_cart(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    response = buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "2"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Your cart holds invoices to pay" in html
    assert "Empty the cart" in html and "Go to checkout" in html  # the way out
    assert [line.invoice_id for line in _cart_lines(app)] == [invoice.id]


def test_invoice_refused_while_items_are_in_the_cart(buyer, app):
    assert (
        buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "2"}, headers=HX).status_code
        == 200
    )
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    response = buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    assert response.status_code == 409
    assert "Your cart holds items" in response.get_data(as_text=True)
    assert len(_cart_lines(app)) == 1 and _cart_lines(app)[0].product_id is not None


def test_database_refuses_mixed_cart(app, demo):
    from sqlalchemy.exc import IntegrityError

    from b2bshop.cart.models import CartKind

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        product = db.session.scalar(select(Product))
        invoice = db.session.scalar(select(Invoice).where(Invoice.status != InvoiceStatus.PAID))
        cart = Cart(user_id=user.id, kind=CartKind.INVOICE)
        db.session.add(cart)
        db.session.flush()
        db.session.add(
            CartLine(cart=cart, kind=CartKind.INVOICE, invoice=invoice, amount=Decimal("1"))
        )
        db.session.flush()
        db.session.add(CartLine(cart=cart, kind=CartKind.ITEM, product=product, quantity=1))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_emptying_the_cart_allows_the_other_kind(buyer, app):
    buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "2"})
    buyer.post("/cart/empty")
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    assert (
        buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX).status_code
        == 200
    )


def test_pay_selected_with_a_total_applied_oldest_first(buyer, app):
    today = date.today()
    with app.app_context():
        open_invoices = db.session.scalars(
            select(Invoice)
            .join(Customer)
            .where(
                Customer.name.in_(["Contoso Retail", "Contoso Group"]),
                Invoice.status != InvoiceStatus.PAID,
            )
            .order_by(Invoice.due_date, Invoice.id)
        ).all()
        chosen = open_invoices[:3]
        first_payable = chosen[0].balance - chosen[0].cash_discount_available(today)
        numbers = [i.number for i in chosen]
    total = first_payable + Decimal("1.00")
    response = buyer.post(
        "/cart/invoices/bulk", data={"invoice": list(reversed(numbers)), "total": str(total)}
    )
    assert response.status_code == 302
    lines = sorted(_cart_lines(app), key=lambda line: line.id)
    assert [line.amount for line in lines] == [first_payable, Decimal("1.00")]
    assert sum(line.amount for line in lines) == total


def test_pay_all_overdue(buyer, app):
    today = date.today()
    with app.app_context():
        overdue = {
            i.id
            for i in db.session.scalars(
                select(Invoice)
                .join(Customer)
                .where(
                    Customer.name.in_(["Contoso Retail", "Contoso Group"]),
                    Invoice.status != InvoiceStatus.PAID,
                )
            )
            if i.is_overdue(today)
        }
    assert buyer.post("/cart/invoices/bulk", data={"overdue": "1"}).status_code == 302
    assert {line.invoice_id for line in _cart_lines(app)} == overdue


def test_bulk_total_larger_than_the_balances_is_refused(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    response = buyer.post(
        "/cart/invoices/bulk", data={"invoice": [invoice.number], "total": "99999999"}
    )
    assert response.status_code == 422 and _cart_lines(app) == []


def _checkout(client, **data):
    key = _key(client.get("/checkout").get_data(as_text=True))
    data.setdefault("idempotency_key", key)
    return client.post("/checkout", data=data), data["idempotency_key"]


def test_partial_card_payment_settles_the_invoice(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID, overdue=True)
    buyer.post("/cart/invoices", data={"invoice": invoice.number, "amount": "10.00"}, headers=HX)
    response, _ = _checkout(buyer, method="card", card_number=APPROVE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/payments/PAY-")
    receipt = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Receipt number" in receipt and "sandbox_" in receipt
    after = _fresh(app, invoice.number)
    assert after.amount_paid == invoice.amount_paid + Decimal("10.00")
    assert after.status == InvoiceStatus.PARTIALLY_PAID
    assert _cart_lines(app) == []


def test_full_payment_inside_the_discount_period_earns_the_discount(buyer, app):
    today = date.today()
    with app.app_context():
        invoice = next(
            i
            for i in db.session.scalars(
                select(Invoice)
                .join(Customer)
                .where(Customer.name == "Contoso Retail", Invoice.status == InvoiceStatus.UNPAID)
            )
            if i.cash_discount_open(today)
        )
        number, discount, total = invoice.number, invoice.cash_discount_amount, invoice.total
    buyer.post("/cart/invoices", data={"invoice": number}, headers=HX)
    response, _ = _checkout(buyer, method="card", card_number=APPROVE)
    assert response.status_code == 302
    after = _fresh(app, number)
    assert after.status == InvoiceStatus.PAID and after.amount_paid == total
    with app.app_context():
        payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
        assert payment.amount == total - discount
        assert payment.allocations[0].discount_amount == discount


def test_partial_payment_earns_the_discount_in_proportion(buyer, app):
    today = date.today()
    with app.app_context():
        invoice = next(
            i
            for i in db.session.scalars(
                select(Invoice)
                .join(Customer)
                .where(Customer.name == "Contoso Retail", Invoice.status == InvoiceStatus.UNPAID)
            )
            if i.cash_discount_open(today)
        )
        number, d, total = invoice.number, invoice.cash_discount_amount, invoice.total
    half = ((total - d) / 2).quantize(Decimal("0.01"))
    buyer.post("/cart/invoices", data={"invoice": number, "amount": str(half)}, headers=HX)
    _checkout(buyer, method="card", card_number=APPROVE)
    with app.app_context():
        allocation = db.session.scalar(select(Payment).order_by(Payment.id.desc())).allocations[0]
        expected = (d * half / (total - d)).quantize(Decimal("0.01"))
        assert allocation.discount_amount == expected
        assert _fresh(app, number).amount_paid == half + expected


@pytest.mark.parametrize(
    ("card", "message"),
    [(DECLINE, "was declined"), (NO_FUNDS, "insufficient funds"), ("1234", "not valid")],
)
def test_declined_card_changes_nothing(buyer, app, card, message):
    """Nothing is settled and the cart stays; the attempt is kept as a failed payment (its
    intent was committed before the provider was asked), holding nothing."""
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    response, _ = _checkout(buyer, method="card", card_number=card)
    assert response.status_code == 402 if card != "1234" else response.status_code in (402, 422)
    assert message in response.get_data(as_text=True)
    fresh = _fresh(app, invoice.number)
    assert fresh.amount_paid == invoice.amount_paid
    assert fresh.amount_reserved == 0 and fresh.reserved_since is None
    assert len(_cart_lines(app)) == 1
    with app.app_context():
        payments = db.session.scalars(select(Payment).where(Payment.user_id.isnot(None))).all()
        assert [p.status for p in payments] == [PaymentStatus.FAILED]
        assert payments[0].status_reason in ("declined", "insufficient_funds", "invalid_card")


def test_on_account_never_pays_invoices(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    page = buyer.get("/checkout").get_data(as_text=True)
    assert 'value="on_account"' not in page
    response, _ = _checkout(buyer, method="on_account")  # a forged POST
    assert response.status_code == 422
    assert "Invoices cannot be paid on account" in response.get_data(as_text=True)
    assert _fresh(app, invoice.number).amount_paid == invoice.amount_paid


def test_double_submit_pays_once_and_shows_the_same_receipt(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number, "amount": "7.00"}, headers=HX)
    first, key = _checkout(buyer, method="card", card_number=APPROVE)
    again = buyer.post(
        "/checkout", data={"method": "card", "card_number": APPROVE, "idempotency_key": key}
    )
    assert first.headers["Location"] == again.headers["Location"]
    with app.app_context():
        assert db.session.query(Payment).filter(Payment.user_id.isnot(None)).count() == 1
    assert _fresh(app, invoice.number).amount_paid == invoice.amount_paid + Decimal("7.00")


def test_checkout_without_csrf_is_refused(make_app, demo, app):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"email": "buyer@contoso.example", "password": "demo", "csrf_token": token}
    )
    response = client.post(
        "/checkout",
        data={
            "method": "card",
            "card_number": APPROVE,
            "idempotency_key": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert response.status_code == 400


def test_bank_transfer_is_pending_until_confirmed(buyer, app):
    from b2bshop.payments.service import confirm_payment

    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    response, _ = _checkout(buyer, method="bank_transfer")
    receipt = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for your transfer" in receipt and "IBAN" in receipt
    assert _fresh(app, invoice.number).amount_paid == 0
    with app.app_context():
        payment = db.session.scalar(select(Payment).where(Payment.status == PaymentStatus.PENDING))
        confirm_payment(None, payment)
        db.session.commit()
    assert _fresh(app, invoice.number).status == InvoiceStatus.PAID


def test_order_items_on_account(buyer, app):
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.sku == "FUR-DSK-160"))
        stock = product.stock_on_hand
    buyer.post("/cart/items", data={"sku": "FUR-DSK-160", "qty": str(stock + 2)}, headers=HX)
    buyer.post("/cart/items", data={"sku": "OFF-PEN-BL", "qty": "3"}, headers=HX)
    response, _ = _checkout(buyer, method="on_account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/orders/SO-")
    page = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you for your order" in page and "2 on backorder" in page
    with app.app_context():
        order = db.session.scalar(select(SalesOrder))
        assert order.payment_terms.code == "2-10-NET30"
        desk = next(line for line in order.lines if line.product.sku == "FUR-DSK-160")
        assert desk.backorder_quantity == 2 and desk.product.stock_on_hand == 0
    assert _cart_lines(app) == []


def test_credit_limit_refusal_shows_available_credit(buyer, app):
    # Contoso Retail is billed through Contoso Group: the group's limit is the one that counts.
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.name == "Contoso Group"))
        customer.credit_limit = Decimal("7000")
        db.session.commit()
    buyer.post("/cart/items", data={"sku": "IT-MON-27", "qty": "20"}, headers=HX)
    response, _ = _checkout(buyer, method="on_account")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "available credit" in html
    with app.app_context():
        assert db.session.scalar(select(SalesOrder)) is None
        assert (
            db.session.scalar(select(Product).where(Product.sku == "IT-MON-27")).stock_on_hand == 25
        )


def test_may_order_and_may_pay_permissions(client, demo, login, app):
    login("ap@contoso.example")  # may pay, may not order
    refused = client.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "1"})
    assert refused.status_code == 403
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    assert (
        client.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX).status_code
        == 200
    )
    catalog = client.get("/catalog").get_data(as_text=True)
    assert "Add to cart" not in catalog
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ap@contoso.example"))
        user.may_pay_invoices = False
        db.session.commit()
    assert client.post("/cart/invoices", data={"invoice": invoice.number}).status_code == 403
    assert "Pay invoice" not in client.get("/invoices").get_data(as_text=True)


@pytest.mark.parametrize("qty", ["0", "-1", "abc", "10000"])
def test_bad_quantities_are_refused(buyer, app, qty):
    response = buyer.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": qty}, headers=HX)
    assert response.status_code == 422 and "quantity" in response.get_data(as_text=True)
    assert _cart_lines(app) == []


def test_receipts_of_other_customers_are_404(buyer, app, client, login):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    response, _ = _checkout(buyer, method="card", card_number=APPROVE)
    url = response.headers["Location"]
    buyer.post("/logout")
    login("buyer@fabrikam.example")
    assert client.get(url).status_code == 404


def test_pay_invoice_from_the_invoice_page(buyer, app):
    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    page = buyer.get(f"/invoices/{invoice.number}").get_data(as_text=True)
    assert f'id="pay-{invoice.number}"' in page and "Pay invoice" in page
    paid = _invoice(app, "Contoso Group", InvoiceStatus.PAID)
    assert "Pay invoice" not in buyer.get(f"/invoices/{paid.number}").get_data(as_text=True)


def test_invoice_in_another_currency_is_refused(buyer, app):
    from b2bshop.billing.service import LineInput, post_invoice

    with app.app_context():
        group = db.session.scalar(select(Customer).where(Customer.name == "Contoso Group"))
        first = db.session.scalar(
            select(Invoice).where(
                Invoice.customer_id == group.id, Invoice.status == InvoiceStatus.UNPAID
            )
        )
        group.currency = "USD"  # an invoice billed in dollars to the same account
        usd = post_invoice(
            group, [LineInput("Consulting", Decimal(1), Decimal("50"), Decimal(0))], date.today()
        )
        group.currency = "EUR"
        db.session.commit()
        numbers = first.number, usd.number
    assert buyer.post("/cart/invoices", data={"invoice": numbers[0]}, headers=HX).status_code == 200
    response = buyer.post("/cart/invoices", data={"invoice": numbers[1]}, headers=HX)
    assert response.status_code == 409
    assert "USD" in response.get_data(as_text=True)
    assert len(_cart_lines(app)) == 1


def test_amount_changed_after_adding_is_checked_again_at_checkout(buyer, app):
    from b2bshop.payments.models import PaymentMethod
    from b2bshop.payments.service import Allocation, record_payment

    invoice = _invoice(app, "Contoso Group", InvoiceStatus.UNPAID)
    buyer.post("/cart/invoices", data={"invoice": invoice.number}, headers=HX)
    with app.app_context():  # someone else pays part of it meanwhile
        fresh = db.session.get(Invoice, invoice.id)
        record_payment(
            None, fresh.customer, [Allocation(fresh.id, Decimal("1.00"))], PaymentMethod.MANUAL
        )
        db.session.commit()
    response, _ = _checkout(buyer, method="card", card_number=APPROVE)
    assert response.status_code == 409
    assert "has changed" in response.get_data(as_text=True)
    assert _fresh(app, invoice.number).amount_paid == Decimal("1.00")


def test_another_users_cart_line_is_not_found(client, demo, login, app):
    login("buyer@contoso.example")
    client.post("/cart/items", data={"sku": "OFF-PAP-A4", "qty": "2"})
    [line] = _cart_lines(app)
    client.post("/logout")
    login("buyer@fabrikam.example")
    assert client.post(f"/cart/lines/{line.id}/remove").status_code == 404
    assert client.post(f"/cart/lines/{line.id}/quantity", data={"qty": "9"}).status_code == 404
    [still] = _cart_lines(app)
    assert (still.id, still.quantity) == (line.id, 2)


def test_cart_total_is_what_checkout_charges(buyer, app):
    buyer.post("/cart/items", data={"sku": "OFF-PEN-BL", "qty": "3"}, headers=HX)
    html = buyer.get("/cart").get_data(as_text=True)
    assert "Total: <strong>€53.40</strong>" in html  # 3 x 17.80
    assert "Place order on account" in buyer.get("/checkout").get_data(as_text=True)
