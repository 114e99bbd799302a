"""Credit notes (issue 16): a returned order's credit note in its own gap-free series,
settled against the original invoice while it is open, otherwise open credit the buyer sees
with a negative balance and a store admin applies to other open invoices of the account,
through the one settlement service, audited; a free text reversal is a credit note too;
two simultaneous settlements of one credit note make one effect (PostgreSQL)."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import func, select

from b2bshop.accounts.credit import exposure
from b2bshop.accounts.models import Role
from b2bshop.audit.models import AuditEntry
from b2bshop.billing import credit_notes, free_text, service
from b2bshop.billing.listing import InvoiceFilter, list_invoices
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.cart import service as cart
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.payments.service import (
    Allocation,
    AmountInvalid,
    PaymentStateConflict,
    record_payment,
    reverse_payment,
    settle_credit_note,
)
from b2bshop.sales import service as sales
from b2bshop.sales.models import OrderStatus, OrderType
from tests import factories
from tests.conftest import ON_POSTGRES


def _return(admin, customer, product, qty: int):  # type: ignore[no-untyped-def]
    order = sales.place_order(
        admin,
        customer,
        [sales.OrderLineInput(product.id, qty)],
        order_type=OrderType.RETURNED_ORDER,
    )
    sales.confirm_order(admin, order)
    sales.post_packing_slip(admin, order, {order.lines[0].id: qty})
    return order


def _paid(customer, amount: str = "50.00"):  # type: ignore[no-untyped-def]
    """An original invoice paid already: a credit note against it stays open credit."""
    invoice = factories.invoice(customer, amount)
    record_payment(None, customer, [Allocation(invoice.id, invoice.total)], PaymentMethod.MANUAL)
    return invoice


@pytest.fixture
def setup(app_ctx):  # type: ignore[no-untyped-def]
    admin = factories.user(role=Role.STORE_ADMIN)
    customer = factories.customer()
    buyer = factories.user(customer=customer)
    product = factories.product(price="50.00")
    return admin, customer, buyer, product


def test_returned_order_credit_note_settles_the_open_original(setup):
    admin, customer, _buyer, product = setup
    original = factories.invoice(customer, "300.00")
    order = _return(admin, customer, product, 2)
    note = credit_notes.credit_returned_order(admin, order, original.number.lower())
    assert note.number == "CN-000001" and note.credit_note
    assert (note.total, note.credited_invoice_id) == (Decimal("100.00"), original.id)
    assert note.lines[0].description.endswith(f"({order.rma_number}, PS-000001)")
    assert order.status == OrderStatus.INVOICED
    # The credit went to the original: 100 of its 300 settled, the credit note used up.
    assert (original.amount_paid, original.status) == (
        Decimal("100.00"),
        InvoiceStatus.PARTIALLY_PAID,
    )
    assert (note.amount_paid, note.status, note.balance) == (
        Decimal("100.00"),
        InvoiceStatus.PAID,
        Decimal("0.00"),
    )
    payment = db.session.scalar(select(Payment).where(Payment.credit_note_id == note.id))
    assert (payment.method, payment.status, payment.amount) == (
        PaymentMethod.CREDIT_NOTE,
        PaymentStatus.COMPLETED,
        Decimal("100.00"),
    )
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"credit_note.post", "credit_note.settle"} <= actions
    # Nothing left to credit on that return.
    with pytest.raises(credit_notes.CreditNoteRefused, match="no more credit notes"):
        credit_notes.credit_returned_order(admin, order, original.number)


def test_a_returns_credit_note_names_its_original_invoice(setup):
    admin, customer, _buyer, product = setup
    order = _return(admin, customer, product, 1)
    other = factories.invoice(factories.customer())
    for number, refusal in (
        ("", "Name the original invoice"),
        (other.number, "is not an invoice of"),
        ("INV-999999", "is not an invoice of"),
    ):
        with pytest.raises(credit_notes.CreditNoteRefused, match=refusal):
            credit_notes.credit_returned_order(admin, order, number)


def test_credit_note_numbers_are_their_own_gap_free_series(setup):
    admin, customer, _buyer, product = setup
    original = _paid(customer).number
    first = credit_notes.credit_returned_order(
        admin, _return(admin, customer, product, 1), original
    )
    second = credit_notes.credit_returned_order(
        admin, _return(admin, customer, product, 1), original
    )
    third_invoice = factories.invoice(customer)
    assert (first.number, second.number, third_invoice.number) == (
        "CN-000001",
        "CN-000002",
        "INV-000002",
    )


def test_open_credit_is_negative_for_the_buyer_and_never_payable(setup):
    admin, customer, buyer, product = setup
    invoice = factories.invoice(customer, "300.00", days_ago=40)  # overdue
    # Credited 40 days ago: still not overdue, and aged "not due" on the statement.
    paid = _paid(customer)
    note = credit_notes.credit_returned_order(
        admin,
        _return(admin, customer, product, 2),
        paid.number,
        today=date.today() - timedelta(days=40),
    )
    assert note.status == InvoiceStatus.UNPAID and note.balance == Decimal("-100.00")
    assert not note.is_overdue(date.today())
    db.session.commit()
    page = list_invoices(buyer, InvoiceFilter())
    assert {i.number for i in page.invoices} == {invoice.number, paid.number, note.number}
    assert page.balance == Decimal("200.00")  # 300 owed less 100 of credit
    overdue = list_invoices(buyer, InvoiceFilter(status="overdue"))
    assert [i.number for i in overdue.invoices] == [invoice.number]
    assert overdue.balance == Decimal("300.00")
    dated = list_invoices(buyer, InvoiceFilter(due_from=date(2000, 1, 1)))
    assert dated.balance == Decimal("200.00")
    summary = service.open_items_summary(buyer)
    assert (summary.open_balance, summary.overdue_balance) == (Decimal("200.00"), Decimal("300.00"))
    assert exposure(customer).amount == Decimal("200.00")
    with pytest.raises(DomainError, match="credit note"):
        cart.add_invoice(buyer, note.number)
    with pytest.raises(AmountInvalid, match="credit note"):
        record_payment(None, customer, [Allocation(note.id, Decimal("1.00"))], PaymentMethod.MANUAL)
    statement = service.statement_of_account(buyer)
    assert statement.total == Decimal("200.00")
    assert statement.buckets["not_due"] == Decimal("-100.00")
    from b2bshop.billing.pdf import statement_pdf

    text = PdfReader(io.BytesIO(statement_pdf(statement, customer.name))).pages[0].extract_text()
    row = next(line for line in text.splitlines() if line.startswith(note.number))
    assert "-€100.00" in row.replace("−", "-") and "Not due" in row


def test_admin_applies_open_credit_to_other_invoices_of_the_account(setup):
    admin, customer, _buyer, product = setup
    first, second = factories.invoice(customer, "60.00"), factories.invoice(customer, "80.00")
    other = factories.invoice(factories.customer(), "80.00")
    note = credit_notes.credit_returned_order(
        admin, _return(admin, customer, product, 2), _paid(customer).number
    )
    settle_credit_note(admin, note, [Allocation(first.id, Decimal("60.00"))])
    with pytest.raises(AmountInvalid, match="own account"):
        settle_credit_note(admin, note, [Allocation(other.id, Decimal("10.00"))])
    with pytest.raises(DomainError, match=r"40\.00 of credit left"):
        settle_credit_note(admin, note, [Allocation(second.id, Decimal("50.00"))])
    payment = settle_credit_note(admin, note, [Allocation(second.id, Decimal("40.00"))])
    assert first.status == InvoiceStatus.PAID and second.amount_paid == Decimal("40.00")
    assert note.status == InvoiceStatus.PAID
    with pytest.raises(PaymentStateConflict, match="used up"):
        settle_credit_note(admin, note, [Allocation(second.id, Decimal("1.00"))])
    # Reversing a credit settlement opens both sides again, audited.
    reverse_payment(admin, payment, "applied to the wrong invoice")
    assert second.amount_paid == Decimal("0.00") and note.amount_paid == Decimal("60.00")
    assert note.status == InvoiceStatus.PARTIALLY_PAID


def test_reversing_a_free_text_invoice_is_a_credit_note(setup):
    admin, customer, _buyer, _product = setup
    draft = free_text.save_draft(
        admin,
        None,
        customer,
        date.today(),
        [free_text.FreeTextLineInput("4400", "Consulting", Decimal("200.00"), Decimal(21))],
    )
    invoice = free_text.post_draft(admin, draft)
    record_payment(None, customer, [Allocation(invoice.id, Decimal("42.00"))], PaymentMethod.MANUAL)
    note = credit_notes.reverse_free_text(admin, invoice)
    assert note.credit_note and note.kind == invoice.kind and note.total == invoice.total
    assert note.lines[0].ledger_account == "4400"
    # It settled what was open (242 - 42 = 200); the 42 paid stays credit.
    assert invoice.status == InvoiceStatus.PAID
    assert note.balance == Decimal("-42.00")
    with pytest.raises(credit_notes.CreditNoteRefused, match="already reversed"):
        credit_notes.reverse_free_text(admin, invoice)
    with pytest.raises(credit_notes.CreditNoteRefused):
        credit_notes.reverse_free_text(admin, factories.invoice(customer))


def test_invoice_totals_count_credit_notes_negatively(setup):
    admin, customer, _buyer, product = setup
    original = factories.invoice(customer, "300.00")
    credit_notes.credit_returned_order(admin, _return(admin, customer, product, 2), original.number)
    db.session.flush()
    from b2bshop.billing.models import InvoiceTotals

    kept = db.session.scalar(
        select(func.sum(InvoiceTotals.total - InvoiceTotals.amount_paid)).where(
            InvoiceTotals.customer_id == customer.id
        )
    )
    assert Decimal(str(kept)) == Decimal("200.00")


def _settle_at_once(app: Flask, note_id: int, invoice_ids: list[int]) -> list[object]:
    barrier = threading.Barrier(len(invoice_ids))
    results: list[object] = [None] * len(invoice_ids)

    def run(index: int, invoice_id: int) -> None:
        with app.app_context():
            from b2bshop.core import unit_of_work

            barrier.wait()
            try:
                results[index] = unit_of_work.run(
                    lambda: (
                        settle_credit_note(
                            None, note_id, [Allocation(invoice_id, Decimal("100.00"))]
                        ).number
                    )
                )
            except DomainError as error:
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(invoice_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.skipif(
    not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
)
def test_simultaneous_settlements_of_one_credit_note_make_one(app):
    with app.app_context():
        admin = factories.user(role=Role.STORE_ADMIN)
        customer = factories.customer()
        product = factories.product(price="50.00")
        invoices = [factories.invoice(customer, "100.00") for _ in range(4)]
        note = credit_notes.credit_returned_order(
            admin, _return(admin, customer, product, 2), _paid(customer).number
        )
        db.session.commit()
        note_id, invoice_ids = note.id, [i.id for i in invoices]
        db.session.remove()
    results = _settle_at_once(app, note_id, invoice_ids)
    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 3, results
    assert all(r.status_code == 409 for r in lost)
    with app.app_context():
        note = db.session.get(Invoice, note_id)
        assert note.amount_paid == note.total == Decimal("100.00")
        paid = db.session.scalar(
            select(func.sum(Invoice.amount_paid)).where(Invoice.id.in_(invoice_ids))
        )
        assert Decimal(str(paid)) == Decimal("100.00")
        assert (
            db.session.scalar(
                select(func.count()).select_from(Payment).where(Payment.credit_note_id == note_id)
            )
            == 1
        )
