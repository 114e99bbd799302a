"""The money core at the service level: Money's currencies, one currency per posting, the
sandbox provider's ledger, reconcile (refunds, expiry, the CLI command) and credit exposure
of the billed account."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from babel import Locale
from flask_babel import force_locale
from sqlalchemy import func, select

from b2bshop.accounts.credit import CreditLimitExceeded, exposure
from b2bshop.accounts.models import Role
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import CurrencyRefused, LineInput, post_invoice
from b2bshop.extensions import db
from b2bshop.money import CurrencyMismatch, Money, format_money
from b2bshop.payments import service as settlement
from b2bshop.payments.models import (
    ChargeStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    SandboxCharge,
)
from b2bshop.payments.providers import SandboxCardProvider
from b2bshop.payments.reconcile import reconcile
from b2bshop.sales.models import OrderType, SalesOrder
from b2bshop.sales.service import (
    OrderLineInput,
    invoice_packing_slips,
    place_order,
    post_packing_slip,
    pro_forma,
)
from tests import factories

APPROVE = "4242424242424242"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def _pending(customer, invoice, amount: str, method=PaymentMethod.CARD) -> Payment:
    payment = settlement.create_payment(
        None,
        customer,
        [settlement.Allocation(invoice.id, Decimal(amount))],
        method,
        status=PaymentStatus.PENDING,
    )
    db.session.commit()
    return payment


def _charge(key: str, amount: str = "100.00") -> str:
    """A charge in the sandbox ledger (its own connection, committed at once)."""
    result = SandboxCardProvider().charge(
        amount=Decimal(amount), currency="EUR", card_number=APPROVE, idempotency_key=key
    )
    assert result.approved
    return result.reference


def _ledger() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(SandboxCharge).order_by(SandboxCharge.id)).all()
    return [(row.idempotency_key, row.status.value) for row in rows]


def _later(payment: Payment, **delta: float):
    return payment.created_at + timedelta(**delta)


# --- Money and currencies ------------------------------------------------------------------


def test_money_adds_and_compares_equal_currencies():
    assert eur("1.50") + eur("2.25") == eur("3.75")
    assert eur("5.00") - eur("0.01") == eur("4.99")
    assert eur("1.00") < eur("1.01") and eur("2.00") >= eur("2.00")
    assert Money.total([eur("1.10"), eur("2.20")], "EUR") == eur("3.30")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: Money.total([a, b], "EUR"),
    ],
)
def test_money_refuses_to_combine_two_currencies(combine):
    with pytest.raises(CurrencyMismatch):
        combine(eur("1.00"), Money(Decimal("1.00"), "USD"))


def test_posting_another_currency_to_an_account_is_refused_and_takes_no_number(app_ctx):
    customer = factories.customer("Euro Account", currency="EUR")
    lines = [LineInput("Consulting", Decimal(1), Decimal("50"), Decimal(0))]
    with pytest.raises(CurrencyRefused) as refused:
        post_invoice(customer, lines, date.today(), currency="USD")
    assert "USD" in str(refused.value) and "EUR" in str(refused.value)
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    assert post_invoice(customer, lines, date.today(), currency="EUR").number == "INV-000001"


# --- the sandbox provider's ledger -----------------------------------------------------------


def test_sandbox_ledger_has_one_row_per_key_and_a_retry_gets_the_same_reference(app_ctx):
    provider = SandboxCardProvider()
    args = {"amount": Decimal("10.00"), "currency": "EUR", "card_number": APPROVE}
    first = provider.charge(idempotency_key="b2bshop-PAY-000007", **args)
    again = provider.charge(idempotency_key="b2bshop-PAY-000007", **args)
    other = provider.charge(idempotency_key="b2bshop-PAY-000008", **args)
    assert first.approved and again.approved
    assert again.reference == first.reference != other.reference
    assert _ledger() == [("b2bshop-PAY-000007", "succeeded"), ("b2bshop-PAY-000008", "succeeded")]
    assert provider.lookup("b2bshop-PAY-000007").reference == first.reference
    assert provider.lookup("b2bshop-PAY-000009") is None


# --- reconcile -----------------------------------------------------------------------------


def test_reconcile_leaves_a_fresh_pending_card_payment_to_its_checkout(app_ctx):
    customer = factories.customer()
    invoice = factories.invoice(customer, "100.00")
    payment = _pending(customer, invoice, "100.00")
    _charge(payment.provider_key)
    report = reconcile(now=_later(payment, seconds=1))
    assert report.completed == [] and report.refunded == []
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PENDING
    assert _ledger() == [(payment.provider_key, "succeeded")]


def test_reconcile_completes_a_stale_payment_whose_charge_exists(app_ctx):
    customer = factories.customer()
    invoice = factories.invoice(customer, "100.00")
    payment = _pending(customer, invoice, "100.00")
    reference = _charge(payment.provider_key)
    report = reconcile(now=_later(payment, hours=1))
    assert report.completed == [payment.number]
    payment, invoice = db.session.get(Payment, payment.id), db.session.get(Invoice, invoice.id)
    assert (payment.status, payment.provider_reference) == (PaymentStatus.COMPLETED, reference)
    assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("100.00"), 0)
    # A second run finds everything matched: no second completion, no refund.
    again = reconcile(now=_later(payment, hours=2))
    assert again.completed == [] and again.refunded == []
    assert _ledger() == [(payment.provider_key, "succeeded")]


def test_reconcile_refunds_a_charge_whose_payment_had_failed(app_ctx):
    customer = factories.customer()
    invoice = factories.invoice(customer, "100.00")
    payment = _pending(customer, invoice, "40.00")
    key, hour_later = payment.provider_key, _later(payment, hours=1)
    # No charge at the provider: reconcile fails the payment and releases the invoice.
    assert reconcile(now=hour_later).failed == [payment.number]
    assert db.session.get(Invoice, invoice.id).amount_reserved == 0
    db.session.commit()
    # The charge lands afterwards: the money goes back, the payment stays failed.
    reference = _charge(key, "40.00")
    report = reconcile(now=hour_later)
    assert report.refunded == [reference]
    assert _ledger() == [(key, "refunded")]
    assert db.session.get(Payment, payment.id).status == PaymentStatus.FAILED
    assert db.session.get(Invoice, invoice.id).amount_paid == 0


def test_reconcile_refunds_a_charge_whose_transfer_was_cancelled(app_ctx):
    customer = factories.customer()
    admin = factories.user(role=Role.STORE_ADMIN)
    invoice = factories.invoice(customer, "100.00")
    payment = _pending(customer, invoice, "100.00", PaymentMethod.BANK_TRANSFER)
    settlement.cancel_bank_transfer(admin, payment.id, "paid by card instead")
    key = payment.provider_key
    db.session.commit()
    reference = _charge(key)
    report = reconcile(now=_later(payment, minutes=1))
    assert report.refunded == [reference]
    assert _ledger() == [(key, "refunded")]
    assert db.session.get(Payment, payment.id).status == PaymentStatus.CANCELLED
    assert db.session.get(Invoice, invoice.id).amount_paid == 0


def test_reconcile_refunds_a_charge_no_payment_knows(app_ctx):
    reference = _charge("b2bshop-PAY-999999")
    assert reconcile().refunded == [reference]
    assert _ledger() == [("b2bshop-PAY-999999", ChargeStatus.REFUNDED.value)]


def test_payments_reconcile_command_completes_a_stale_charge(app):
    with app.app_context():
        customer = factories.customer()
        invoice = factories.invoice(customer, "100.00")
        payment = _pending(customer, invoice, "100.00")
        payment.created_at -= timedelta(hours=1)  # older than CARD_PENDING_TIMEOUT
        payment_id, invoice_id, key = payment.id, invoice.id, payment.provider_key
        db.session.commit()
        db.session.remove()
        _charge(key)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 completed" in result.output and "0 refunded" in result.output
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.COMPLETED
        invoice = db.session.get(Invoice, invoice_id)
        assert (invoice.amount_paid, invoice.amount_reserved) == (Decimal("100.00"), 0)
        db.session.remove()


# --- bank transfer expiry --------------------------------------------------------------------


def test_old_bank_transfers_expire_audited_and_release_the_invoice(app_ctx):
    customer = factories.customer()
    invoice = factories.invoice(customer, "100.00")
    payment = _pending(customer, invoice, "100.00", PaymentMethod.BANK_TRANSFER)
    assert (
        invoice.amount_reserved == Decimal("100.00") and invoice.payable_amount(date.today()) == 0
    )
    assert settlement.expire_bank_transfers(14, now=_later(payment, days=13)) == []
    assert settlement.expire_bank_transfers(14, now=_later(payment, days=15)) == [payment.number]
    db.session.commit()
    payment, invoice = db.session.get(Payment, payment.id), db.session.get(Invoice, invoice.id)
    assert payment.status == PaymentStatus.EXPIRED
    assert (invoice.amount_reserved, invoice.reserved_since) == (0, None)
    assert invoice.payable_amount(date.today()) == Decimal("100.00")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.expire"))
    assert entry.entity_id == payment.number and entry.after == {"status": "expired"}


def test_reconcile_expires_transfers_older_than_the_setting(make_app, app):
    short = make_app(BANK_TRANSFER_EXPIRY_DAYS=3)
    with short.app_context():
        customer = factories.customer()
        invoice = factories.invoice(customer, "100.00")
        payment = _pending(customer, invoice, "100.00", PaymentMethod.BANK_TRANSFER)
        number, invoice_id, four_days = payment.number, invoice.id, _later(payment, days=4)
        db.session.remove()
    with app.app_context():  # the default, 14 days: not yet
        assert reconcile(now=four_days).expired == []
        db.session.remove()
    with short.app_context():
        assert reconcile(now=four_days).expired == [number]
        assert db.session.get(Invoice, invoice_id).amount_reserved == 0
        assert (
            db.session.scalar(
                select(AuditEntry.entity_id).where(AuditEntry.action == "payment.expire")
            )
            == number
        )
        db.session.remove()


# --- credit exposure -------------------------------------------------------------------------


def _billed_through(limit: str):
    group = factories.customer("Group", credit_limit=limit)
    member = factories.customer("Member", invoice_account=group, credit_limit="100000")
    return group, member, factories.user(role=Role.STORE_ADMIN)


def test_invoices_billed_to_the_invoice_account_use_up_its_credit(app_ctx):
    group, member, admin = _billed_through("5000")
    factories.invoice(group, "5000.00")
    product = factories.product(price="1.00")
    db.session.commit()
    assert exposure(group) == eur("5000.00")
    with pytest.raises(CreditLimitExceeded):
        place_order(admin, member, [OrderLineInput(product.id, 1)])
    db.session.rollback()
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 0


def test_partly_invoiced_order_counts_its_remainder_and_its_invoice_once(app_ctx):
    group, member, admin = _billed_through("10000")
    product = factories.product(price="10.00", stock=100)
    product.tax_rate = Decimal("21")
    order = place_order(admin, member, [OrderLineInput(product.id, 10)], confirm=True)
    assert exposure(group) == eur("121.00")
    slip = post_packing_slip(admin, order, {order.lines[0].id: 4})
    invoice = invoice_packing_slips(admin, [slip.id])
    assert (invoice.customer_id, invoice.total) == (group.id, Decimal("48.40"))
    # 6 uninvoiced units with tax (72.60) + the invoice's open balance (48.40)
    assert exposure(group) == eur("121.00")
    settlement.create_payment(
        None, group, [settlement.Allocation(invoice.id, Decimal("20.00"))], PaymentMethod.MANUAL
    )
    assert exposure(group) == eur("101.00")


def test_journals_and_returned_orders_owe_nothing(app_ctx):
    customer = factories.customer(credit_limit="100")
    admin = factories.user(role=Role.STORE_ADMIN)
    product = factories.product(price="500.00")
    for order_type in (OrderType.JOURNAL, OrderType.RETURNED_ORDER):
        place_order(admin, customer, [OrderLineInput(product.id, 1)], order_type=order_type)
    assert exposure(customer) == Money.zero("EUR")
    with pytest.raises(CreditLimitExceeded):  # a sales order of the same does count
        place_order(admin, customer, [OrderLineInput(product.id, 1)])


def test_credit_refusal_formats_money_in_the_locale(app):
    with app.test_request_context(), force_locale("fr"):
        customer = factories.customer(credit_limit="1000")
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product(price="1234.56")
        with pytest.raises(CreditLimitExceeded) as refused:
            place_order(admin, customer, [OrderLineInput(product.id, 1)])
        message = str(refused.value.message)
        db.session.rollback()
        db.session.remove()
    fr = Locale.parse("fr")
    assert format_money(Decimal("1234.56"), "EUR", fr) in message
    assert format_money(Decimal("1000.00"), "EUR", fr) in message
    assert "€1,234.56" not in message


def test_an_order_may_use_exactly_the_available_credit_and_not_a_cent_more(app_ctx):
    customer = factories.customer(credit_limit="1000")
    admin = factories.user(role=Role.STORE_ADMIN)
    factories.invoice(customer, "400.00")
    exact, over = factories.product(price="600.00"), factories.product(price="0.01")
    order = place_order(admin, customer, [OrderLineInput(exact.id, 1)])
    assert order.number == "SO-000001" and exposure(customer) == eur("1000.00")
    with pytest.raises(CreditLimitExceeded):
        place_order(admin, customer, [OrderLineInput(over.id, 1)])


# --- reservations ----------------------------------------------------------------------------


def test_two_pending_payments_hold_their_sum_and_the_oldest_date(app_ctx):
    customer = factories.customer()
    invoice = factories.invoice(customer, "100.00")
    older = _pending(customer, invoice, "30.00", PaymentMethod.BANK_TRANSFER)
    newer = _pending(customer, invoice, "50.00", PaymentMethod.BANK_TRANSFER)
    invoice = db.session.get(Invoice, invoice.id)
    assert (
        invoice.amount_reserved == Decimal("80.00") and invoice.reserved_since == older.created_at
    )
    assert invoice.payable_amount(date.today()) == Decimal("20.00")
    with pytest.raises(settlement.AmountTooLarge):
        settlement.create_payment(
            None, customer, [settlement.Allocation(invoice.id, Decimal("20.01"))],
            PaymentMethod.MANUAL,
        )  # fmt: skip
    db.session.rollback()
    settlement.release_pending(older.id, PaymentStatus.EXPIRED, "test")
    db.session.commit()
    invoice = db.session.get(Invoice, invoice.id)
    assert (
        invoice.amount_reserved == Decimal("50.00") and invoice.reserved_since == newer.created_at
    )
    settlement.complete_pending(newer.id)
    db.session.commit()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.amount_paid, invoice.amount_reserved, invoice.reserved_since) == (
        Decimal("50.00"),
        0,
        None,
    )


def test_an_open_order_counts_what_its_invoice_will_bill(app_ctx):
    """Tax is rounded per line on the invoice (billing.service.build_invoice), so the
    exposure of an uninvoiced order is its pro forma total, to the cent."""
    customer = factories.customer()
    admin = factories.user(role=Role.STORE_ADMIN)
    products = [factories.product(price="9.95") for _ in range(3)]
    for product in products:
        product.tax_rate = Decimal("25")
    order = place_order(admin, customer, [OrderLineInput(p.id, 1) for p in products])
    billed = pro_forma(order).total
    assert billed == Decimal("37.32")  # 3 x (9.95 + 2.49)
    assert exposure(customer).amount == billed
