"""Money paths under real concurrency: N requests at the same moment make one effect.

PostgreSQL only: its row locks are what the lock order (core/locks.py) is about; SQLite
serializes every writer, so nothing here can race there. Each test starts its threads on a
barrier, each thread with a test client of its own (its own session and cookies), as
test_concurrent_payments.py does. A request that raises instead of answering is counted as
a 5xx (the test app propagates exceptions), with its traceback in the failure message.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from b2bshop.accounts.models import Role
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.core.locks import lock_invoices
from b2bshop.extensions import db
from b2bshop.payments import service
from b2bshop.payments.models import (
    ChargeStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    SandboxCharge,
)
from b2bshop.sales.models import SalesOrder
from tests import factories
from tests.conftest import ON_POSTGRES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]

PASSWORD = "pw"
APPROVE = "4242424242424242"
KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    body: str
    location: str | None


def login(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def checkout_key(client: FlaskClient) -> str:
    match = KEY_RE.search(client.get("/checkout").get_data(as_text=True))
    assert match, "no idempotency key on the checkout page"
    return match.group(1)


def at_once(calls: list[Callable[[], object]]) -> list[Answer]:
    """Run the calls in threads released together; a raised exception is a 599 answer."""
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            response = call()
            answers[index] = Answer(
                response.status_code,  # type: ignore[attr-defined]
                response.get_data(as_text=True),  # type: ignore[attr-defined]
                response.headers.get("Location"),  # type: ignore[attr-defined]
            )
        except Exception:
            answers[index] = Answer(599, traceback.format_exc(), None)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a request hung (deadlock?)"
    return [a for a in answers if a is not None]


def no_server_errors(answers: list[Answer]) -> None:
    broken = [a for a in answers if a.status >= 500]
    assert not broken, "\n\n".join(f"{a.status}:\n{a.body[-3000:]}" for a in broken)
    for answer in answers:
        assert "deadlock" not in answer.body.lower(), answer.body[-2000:]


def audit_count(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == action))


def settled_by_completed(invoice_id: int) -> Decimal:
    return db.session.scalar(
        select(
            func.coalesce(func.sum(PaymentAllocation.amount + PaymentAllocation.discount_amount), 0)
        )
        .join(Payment)
        .where(
            PaymentAllocation.invoice_id == invoice_id,
            Payment.status == PaymentStatus.COMPLETED,
        )
    )


def held_by_pending(invoice_id: int) -> Decimal:
    return db.session.scalar(
        select(
            func.coalesce(func.sum(PaymentAllocation.amount + PaymentAllocation.discount_amount), 0)
        )
        .join(Payment)
        .where(
            PaymentAllocation.invoice_id == invoice_id,
            Payment.status == PaymentStatus.PENDING,
        )
    )


def assert_invoice_consistent(invoice: Invoice) -> None:
    db.session.refresh(invoice)
    assert invoice.amount_paid == settled_by_completed(invoice.id), invoice.number
    assert invoice.amount_reserved == held_by_pending(invoice.id), invoice.number
    assert 0 <= invoice.amount_paid <= invoice.total, invoice.number
    assert invoice.amount_paid + invoice.amount_reserved <= invoice.total, invoice.number


def one_winner(answers: list[Answer], losers_say: str) -> Answer:
    no_server_errors(answers)
    codes = Counter(a.status for a in answers)
    assert codes == {302: 1, 409: len(answers) - 1}, codes
    for answer in answers:
        if answer.status == 409:
            assert losers_say in answer.body, answer.body[-1500:]
    return next(a for a in answers if a.status == 302)


def _admins(app: Flask, count: int) -> list[FlaskClient]:
    with app.app_context():
        for n in range(count):
            factories.user(f"admin{n}@store.example", role=Role.STORE_ADMIN, password=PASSWORD)
        db.session.commit()
    return [login(app, f"admin{n}@store.example") for n in range(count)]


def _payment(app: Flask, method: PaymentMethod, status: PaymentStatus) -> tuple[str, int]:
    """A customer with one €100 invoice and one payment of all of it."""
    with app.app_context():
        customer = factories.customer("Solo")
        invoice = factories.invoice(customer, "100.00")
        payment = service.create_payment(
            None, customer, [service.Allocation(invoice.id, Decimal("100.00"))], method,
            status=status,
        )  # fmt: skip
        db.session.commit()
        return payment.number, invoice.id


ADMINS = 8


def test_simultaneous_reversals_reverse_once(app):
    admins = _admins(app, ADMINS)
    number, invoice_id = _payment(app, PaymentMethod.CARD, PaymentStatus.COMPLETED)
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).amount_paid == Decimal("100.00")

    answers = at_once(
        [
            lambda c=c: c.post(f"/admin/payments/{number}/reverse", data={"reason": "chargeback"})
            for c in admins
        ]
    )
    one_winner(answers, f"Payment {number} is not completed: it is reversed now")

    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.amount_paid == Decimal("0.00")
        assert invoice.status == InvoiceStatus.UNPAID
        assert_invoice_consistent(invoice)
        payment = db.session.scalar(select(Payment).where(Payment.number == number))
        assert payment.status == PaymentStatus.REVERSED
        assert audit_count("payment.reverse") == 1


def test_simultaneous_confirms_settle_once(app):
    admins = _admins(app, ADMINS)
    number, invoice_id = _payment(app, PaymentMethod.BANK_TRANSFER, PaymentStatus.PENDING)

    answers = at_once([lambda c=c: c.post(f"/admin/payments/{number}/confirm") for c in admins])
    one_winner(answers, f"Payment {number} is not pending: it is completed now")

    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.amount_paid == Decimal("100.00")
        assert invoice.amount_reserved == Decimal("0.00")
        assert invoice.status == InvoiceStatus.PAID
        assert_invoice_consistent(invoice)
        assert audit_count("payment.confirm") == 1


def test_simultaneous_cancels_cancel_once(app):
    admins = _admins(app, ADMINS)
    number, invoice_id = _payment(app, PaymentMethod.BANK_TRANSFER, PaymentStatus.PENDING)

    answers = at_once(
        [
            lambda c=c: c.post(f"/admin/payments/{number}/cancel", data={"reason": "never came"})
            for c in admins
        ]
    )
    one_winner(answers, f"Payment {number} is not pending: it is cancelled now")

    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.amount_paid == Decimal("0.00")
        assert invoice.amount_reserved == Decimal("0.00")
        assert invoice.status == InvoiceStatus.UNPAID
        assert_invoice_consistent(invoice)
        assert audit_count("payment.cancel") == 1


@pytest.mark.parametrize("pairs", [1, 4])
def test_confirm_and_cancel_at_once_one_wins(app, pairs):
    """`pairs` confirms and as many cancels of one transfer: one of the eight wins."""
    admins = _admins(app, 2 * pairs)
    number, invoice_id = _payment(app, PaymentMethod.BANK_TRANSFER, PaymentStatus.PENDING)
    confirm = [lambda c=c: c.post(f"/admin/payments/{number}/confirm") for c in admins[:pairs]]
    cancel = [
        lambda c=c: c.post(f"/admin/payments/{number}/cancel", data={"reason": "gone"})
        for c in admins[pairs:]
    ]
    answers = at_once(confirm + cancel)
    winner = one_winner(answers, f"Payment {number} is not pending")
    confirmed = answers.index(winner) < pairs

    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        payment = db.session.scalar(select(Payment).where(Payment.number == number))
        assert_invoice_consistent(invoice)
        assert invoice.amount_reserved == Decimal("0.00")
        if confirmed:
            assert payment.status == PaymentStatus.COMPLETED
            assert invoice.amount_paid == Decimal("100.00")
        else:
            assert payment.status == PaymentStatus.CANCELLED
            assert invoice.amount_paid == Decimal("0.00")
        assert audit_count("payment.confirm") == int(confirmed)
        assert audit_count("payment.cancel") == int(not confirmed)


ROUNDS = 6


def test_card_checkout_and_manual_payment_at_once(app):
    """The first review's deadlock: the buyer's checkout and an admin's manual payment of
    the same invoice. Rounds where both fit (50 + 50) and where only one does (100 + 100),
    each a fresh invoice; every pair released together."""
    (admin,) = _admins(app, 1)
    with app.app_context():
        customer = factories.customer("Racer")
        invoices = [factories.invoice(customer, "100.00") for _ in range(ROUNDS)]
        factories.user("racer@example.com", customer=customer, password=PASSWORD)
        db.session.commit()
        customer_id = customer.id
        targets = [(i.id, i.number) for i in invoices]
    buyer = login(app, "racer@example.com")

    for round_no, (invoice_id, number) in enumerate(targets):
        amount = "50.00" if round_no % 2 == 0 else "100.00"
        added = buyer.post("/cart/invoices", data={"invoice": number, "amount": amount})
        assert added.status_code == 302, added.get_data(as_text=True)[-500:]
        key = checkout_key(buyer)
        answers = at_once(
            [
                lambda key=key: buyer.post(
                    "/checkout",
                    data={"method": "card", "card_number": APPROVE, "idempotency_key": key},
                ),
                lambda invoice_id=invoice_id, amount=amount, round_no=round_no: admin.post(
                    "/admin/payments/new",
                    data={
                        "customer_id": str(customer_id),
                        "idempotency_key": str(uuid.uuid4()),
                        "reference": f"wire {round_no}",
                        f"amount-{invoice_id}": amount,
                    },
                ),
            ]
        )
        no_server_errors(answers)
        card, manual = answers
        if amount == "50.00":
            assert (card.status, manual.status) == (302, 302), (card.body[-800:], manual.body)
        else:
            # One of them, never both; the other is told why.
            assert sorted((card.status, manual.status)) in ([302, 409], [302, 422]), (
                card.status,
                manual.status,
                card.body[-800:],
                manual.body[-800:],
            )
        buyer.post("/cart/empty")

        with app.app_context():
            invoice = db.session.get(Invoice, invoice_id)
            assert_invoice_consistent(invoice)
            assert invoice.amount_paid == Decimal("100.00"), (round_no, card.status, manual.status)
            assert invoice.status == InvoiceStatus.PAID

    with app.app_context():
        _every_charge_has_one_payment()
        assert audit_count("payment.record") == db.session.scalar(
            select(func.count(Payment.id)).where(Payment.method == PaymentMethod.MANUAL)
        )


def _every_charge_has_one_payment() -> None:
    charges = db.session.scalars(select(SandboxCharge)).all()
    for charge in charges:
        payments = db.session.scalars(
            select(Payment).where(Payment.number == charge.idempotency_key.removeprefix("b2bshop-"))
        ).all()
        assert len(payments) == 1, charge.idempotency_key
        if charge.status == ChargeStatus.SUCCEEDED:
            assert payments[0].status in (PaymentStatus.COMPLETED, PaymentStatus.REVERSED)
            assert payments[0].amount == charge.amount
    completed_cards = db.session.scalars(
        select(Payment).where(
            Payment.method == PaymentMethod.CARD,
            Payment.status.in_([PaymentStatus.COMPLETED, PaymentStatus.REVERSED]),
        )
    ).all()
    charged = {c.idempotency_key for c in charges if c.status == ChargeStatus.SUCCEEDED}
    for payment in completed_cards:
        assert payment.provider_key in charged, payment.number


def _order_setup(buyers: list[tuple[str, object]], price: str) -> str:
    """Inside the caller's app context: one product, and a buyer for each (email, customer)."""
    product = factories.product("WIDGET", price=price, stock=1000)
    for email, customer in buyers:
        factories.user(email, customer=customer, password=PASSWORD)
    db.session.commit()
    return product.sku


def _cart_with_item(app: Flask, email: str, sku: str, qty: int = 1) -> tuple[FlaskClient, str]:
    client = login(app, email)
    added = client.post("/cart/items", data={"sku": sku, "qty": str(qty)})
    assert added.status_code == 302, added.get_data(as_text=True)[-500:]
    return client, checkout_key(client)


ORDERS = 20


def test_twenty_orders_at_once_get_consecutive_numbers(app):
    """20 buyers: ten customers with two buyers each, so orders meet both on their account
    row and on the number sequence."""
    with app.app_context():
        customers = [factories.customer(f"Shop {n}") for n in range(ORDERS // 2)]
        buyers = [(f"orderer{n}@example.com", customers[n // 2]) for n in range(ORDERS)]
        sku = _order_setup(buyers, "10.00")
    carts = [_cart_with_item(app, email, sku) for email, _ in buyers]

    answers = at_once(
        [
            lambda c=c, k=k: c.post(
                "/checkout", data={"method": "on_account", "idempotency_key": k}
            )
            for c, k in carts
        ]
    )
    no_server_errors(answers)
    assert [a.status for a in answers] == [302] * ORDERS, [a.body[-500:] for a in answers]

    with app.app_context():
        numbers = sorted(db.session.scalars(select(SalesOrder.number)).all())
        assert numbers == [f"SO-{n:06d}" for n in range(1, ORDERS + 1)]
        redirected = sorted(a.location.rsplit("/", 1)[1] for a in answers)
        assert redirected == numbers


def test_two_orders_over_the_billed_accounts_credit(app):
    """Each order fits the group's credit, both together do not: one is placed."""
    with app.app_context():
        group = factories.customer("Group", credit_limit="150")
        left = factories.customer("Left", invoice_account=group)
        right = factories.customer("Right", invoice_account=group)
        sku = _order_setup([("left@example.com", left), ("right@example.com", right)], "100.00")
    carts = [_cart_with_item(app, e, sku) for e in ("left@example.com", "right@example.com")]

    answers = at_once(
        [
            lambda c=c, k=k: c.post(
                "/checkout", data={"method": "on_account", "idempotency_key": k}
            )
            for c, k in carts
        ]
    )
    no_server_errors(answers)
    assert sorted(a.status for a in answers) == [302, 409], [a.body[-800:] for a in answers]
    refused = next(a for a in answers if a.status == 409)
    assert "available credit" in refused.body, refused.body[-1500:]

    with app.app_context():
        assert db.session.scalars(select(SalesOrder.number)).all() == ["SO-000001"]


@pytest.mark.parametrize("method", ["card", "bank_transfer"])
def test_double_submit_pays_once(app, method):
    """One user, one checkout form, submitted twice at the same moment (two tabs)."""
    with app.app_context():
        customer = factories.customer("Twice")
        invoice = factories.invoice(customer, "100.00")
        factories.user("twice@example.com", customer=customer, password=PASSWORD)
        db.session.commit()
        number, invoice_id = invoice.number, invoice.id
    first, second = login(app, "twice@example.com"), login(app, "twice@example.com")
    assert first.post("/cart/invoices", data={"invoice": number}).status_code == 302
    key = checkout_key(first)
    data = {"method": method, "card_number": APPROVE, "idempotency_key": key}

    answers = at_once([lambda c=c: c.post("/checkout", data=data) for c in (first, second)])
    no_server_errors(answers)
    assert [a.status for a in answers] == [302, 302], [a.body[-800:] for a in answers]
    assert answers[0].location == answers[1].location

    with app.app_context():
        payments = db.session.scalars(select(Payment)).all()
        assert len(payments) == 1
        assert answers[0].location.endswith(f"/payments/{payments[0].number}")
        invoice = db.session.get(Invoice, invoice_id)
        assert_invoice_consistent(invoice)
        if method == "card":
            assert payments[0].status == PaymentStatus.COMPLETED
            assert invoice.amount_paid == Decimal("100.00")
            assert db.session.scalar(select(func.count(SandboxCharge.id))) == 1
            _every_charge_has_one_payment()
        else:
            assert payments[0].status == PaymentStatus.PENDING
            assert invoice.amount_reserved == Decimal("100.00")


@pytest.mark.parametrize("amount", ["40.00", "100.00"])
@pytest.mark.parametrize("at_the_same_moment", [True, False], ids=["at-once", "again-later"])
def test_manual_payment_form_sent_twice_records_once(app, amount, at_the_same_moment):
    """An admin's manual-payment form sent twice (double click, or the back button and send
    again): one payment, one audit entry, and both answers lead to that payment
    (record_manual_payment: "A resubmitted form (same key) gets the first payment back")."""
    first, second = _admins(app, 1) * 2
    with app.app_context():
        customer = factories.customer("Wired")
        invoice = factories.invoice(customer, "100.00")
        db.session.commit()
        customer_id, invoice_id = customer.id, invoice.id
    data = {
        "customer_id": str(customer_id),
        "idempotency_key": str(uuid.uuid4()),
        "reference": "wire 1",
        f"amount-{invoice_id}": amount,
    }
    send = [lambda c=c: c.post("/admin/payments/new", data=data) for c in (first, second)]
    answers = at_once(send) if at_the_same_moment else [at_once([call])[0] for call in send]

    no_server_errors(answers)
    assert [a.status for a in answers] == [302, 302], [
        re.findall(r'<p class="flash[^>]*>(.*?)</p>', a.body, re.S) for a in answers
    ]
    assert answers[0].location == answers[1].location
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 1
        assert audit_count("payment.record") == 1
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.amount_paid == Decimal(amount)
        assert_invoice_consistent(invoice)


@pytest.mark.parametrize("same_key", [True, False], ids=["same-form", "two-forms"])
def test_manual_totals_sent_at_once_pay_the_open_balance_once(app, same_key):
    """A total alone is split over the open invoices, oldest first (record_manual_payment):
    the account row is locked before the split, so the same form twice finds the first
    payment, and two forms for the whole balance make one payment and one clear refusal,
    never a second allocation to invoices already paid."""
    first, second = _admins(app, 1) * 2
    with app.app_context():
        customer = factories.customer("Statement")
        older = factories.invoice(customer, "100.00", days_ago=20)
        newer = factories.invoice(customer, "50.00", days_ago=10)
        db.session.commit()
        customer_id, ids = customer.id, (older.id, newer.id)
    key = str(uuid.uuid4())

    def send(client):  # type: ignore[no-untyped-def]
        data = {
            "customer_id": str(customer_id),
            "idempotency_key": key if same_key else str(uuid.uuid4()),
            "total": "150.00",
        }
        return lambda: client.post("/admin/payments/new", data=data)

    answers = at_once([send(first), send(second)])
    no_server_errors(answers)
    statuses = sorted(a.status for a in answers)
    if same_key:
        assert statuses == [302, 302] and answers[0].location == answers[1].location
    else:
        assert statuses == [302, 422], [a.body[-600:] for a in answers]
        refused = next(a for a in answers if a.status == 422)
        assert "is more than the" in refused.body
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 1
        for invoice_id in ids:
            invoice = db.session.get(Invoice, invoice_id)
            assert invoice.status == InvoiceStatus.PAID
            assert_invoice_consistent(invoice)


def test_pay_selected_meets_a_payment_holding_its_invoices(app):
    """Pay selected puts the invoices in the cart oldest due date first, and each cart line
    takes a key-share lock on its invoice (its foreign key). A money path locks invoices in
    id order (core/locks.py). Here the later-due invoice has the lower id: the payment holds
    it and then asks for the other one, which the cart already holds, while the cart waits
    for the first one. PostgreSQL breaks the cycle by aborting one of them; the cart's
    request has no retry, so it must not be the one that dies with a 500."""
    with app.app_context():
        customer = factories.customer("Selector")
        later = factories.invoice(customer, "100.00", days_ago=1)  # lower id, due later
        sooner = factories.invoice(customer, "100.00", days_ago=20)  # higher id, due sooner
        factories.user("selector@example.com", customer=customer, password=PASSWORD)
        db.session.commit()
        ids, numbers = (later.id, sooner.id), [later.number, sooner.number]
    buyer = login(app, "selector@example.com")
    holding = threading.Event()
    money: list[str] = []

    def money_path() -> None:
        """What create_payment() does for both invoices, with a pause between the two
        rows: lock_invoices() in id order."""
        with app.app_context():
            try:
                lock_invoices([ids[0]])
                holding.set()
                _wait_for_a_lock_wait()
                lock_invoices(ids)
                money.append("locked both")
            except Exception as error:
                money.append(f"aborted: {error.__class__.__name__}")
            finally:
                db.session.rollback()
                db.session.remove()

    thread = threading.Thread(target=money_path)
    thread.start()
    assert holding.wait(10)
    (answer,) = at_once([lambda: buyer.post("/cart/invoices/bulk", data={"invoice": numbers})])
    thread.join(30)
    no_server_errors([answer])
    assert answer.status == 302, answer.body[-1500:]
    assert money, "the money path never finished"


def _wait_for_a_lock_wait(seconds: float = 5.0) -> None:
    """Until another backend of this database waits for a row lock (the cart, here)."""
    deadline = time.monotonic() + seconds
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
