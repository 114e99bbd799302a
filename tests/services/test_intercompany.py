"""Entities and intercompany through the services: per-entity numbers, the document chain
in one transaction, vendor payment journals, auto-post on and off, failures and reversal.
After every step both entities' open balances agree (intercompany/service.py: balances)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.extensions import db
from b2bshop.intercompany import service
from b2bshop.intercompany.models import (
    CustomerTransaction,
    PaymentJournal,
    VendorInvoice,
    VendorTransaction,
)
from b2bshop.numbering import next_number
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.payments.service import Allocation, create_payment
from b2bshop.purchasing.models import PurchaseOrder
from b2bshop.sales.service import OrderInvalid, OrderLineInput, place_order
from tests import factories

TODAY = date.today()


@pytest.fixture
def admin(app_ctx):  # type: ignore[no-untyped-def]
    return factories.user("boss@example.com", role=Role.STORE_ADMIN)


def _invoices(relation, *amounts: str) -> list[Invoice]:  # type: ignore[no-untyped-def]
    made = []
    for n, amount in enumerate(amounts):
        made.append(factories.invoice(relation.customer, amount, days_ago=10 - n))
    db.session.flush()
    return made


def _vendor_invoice_ids(invoices: list[Invoice]) -> list[int]:
    return [
        db.session.scalar(select(VendorInvoice.id).where(VendorInvoice.customer_invoice_id == i.id))
        for i in invoices
    ]


def _pay(admin, relation, invoices, amount: str):  # type: ignore[no-untyped-def]
    buying = relation.vendor.legal_entity_id
    journal = service.create_vendor_journal(
        admin,
        buying,
        [
            service.VendorLineInput(
                relation.vendor_id, Decimal(amount), TODAY, _vendor_invoice_ids(invoices)
            )
        ],
    )
    return service.post_vendor_journal(admin, buying, journal.id)


def test_each_entity_has_its_own_gap_free_series(app_ctx):
    first, second = factories.legal_entity(), factories.second_entity()
    db.session.commit()
    assert next_number("invoice", first.id) == "INV-000001"
    assert next_number("invoice", second.id) == "NO-INV-000001"
    assert next_number("invoice", second.id) == "NO-INV-000002"
    db.session.rollback()  # both series give their numbers back
    assert next_number("invoice", second.id) == "NO-INV-000001"
    assert next_number("invoice", first.id) == "INV-000001"


def test_documents_take_their_customers_entity_and_lists_scope_to_it(app_ctx):
    second = factories.second_entity()
    own = factories.invoice(factories.customer(), "10.00")
    other = factories.invoice(factories.customer_of(second), "20.00")
    assert own.number == "INV-000001" and own.legal_entity_id == factories.legal_entity().id
    assert other.number == "NO-INV-000001" and other.legal_entity_id == second.id
    seen = db.session.scalars(scope_to_entity(select(Invoice), second.id)).all()
    assert [i.number for i in seen] == ["NO-INV-000001"]


def test_another_entitys_product_is_not_for_sale(app_ctx, admin):
    second = factories.second_entity()
    buyer = factories.customer()
    foreign = factories.product_of(second, "FJORD")
    with pytest.raises(OrderInvalid):
        place_order(admin, buyer, [OrderLineInput(foreign.id, 1)])
    # The same SKU may exist in both catalogs.
    assert factories.product("FJORD").legal_entity_id == factories.legal_entity().id


def test_the_chain_order_to_purchase_order_and_invoice_to_both_transactions(app_ctx, admin):
    relation = factories.intercompany()
    widget = factories.product("WIDGET", "25.00")
    order = place_order(admin, relation.customer, [OrderLineInput(widget.id, 4)])
    purchase = service.purchase_order_of(order)
    assert purchase is not None and purchase.legal_entity_id == relation.vendor.legal_entity_id
    assert purchase.number == "NO-PO-000001" and purchase.vendor_id == relation.vendor_id
    [line] = purchase.lines
    assert line.quantity == 4 and line.product.sku == "WIDGET"
    assert line.product.legal_entity_id == relation.vendor.legal_entity_id
    assert not line.product.active  # an item bought in, not for sale in NO's store
    [invoice] = _invoices(relation, "100.00")
    c1 = db.session.scalar(
        select(CustomerTransaction).where(CustomerTransaction.invoice_id == invoice.id)
    )
    vendor_invoice = db.session.scalar(
        select(VendorInvoice).where(VendorInvoice.customer_invoice_id == invoice.id)
    )
    c2 = vendor_invoice.transaction
    assert (c1.amount, c1.currency, c1.due_date) == (invoice.total, "EUR", invoice.due_date)
    assert (vendor_invoice.total, vendor_invoice.currency, vendor_invoice.due_date) == (
        invoice.total,
        invoice.currency,
        invoice.due_date,
    )
    assert (c2.amount, c2.open_amount, c2.due_date) == (
        invoice.total,
        invoice.total,
        invoice.due_date,
    )
    assert vendor_invoice.legal_entity_id == c2.legal_entity_id == relation.vendor.legal_entity_id
    assert service.balances(relation).agree


def test_the_chain_is_one_transaction_or_nothing(app_ctx, admin):
    relation = factories.intercompany()
    db.session.commit()
    widget = factories.product("WIDGET", "25.00")
    db.session.commit()
    place_order(admin, relation.customer, [OrderLineInput(widget.id, 1)])
    _invoices(relation, "40.00")
    db.session.rollback()  # the caller's transaction fails after the chain ran
    for model in (PurchaseOrder, Invoice, CustomerTransaction, VendorInvoice, VendorTransaction):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0, model


def test_an_ordinary_customer_makes_no_intercompany_documents(app_ctx, admin):
    factories.intercompany()
    factories.invoice(factories.customer(), "10.00")
    assert db.session.scalar(select(func.count()).select_from(VendorInvoice)) == 0
    assert db.session.scalar(select(func.count()).select_from(CustomerTransaction)) == 0


@pytest.mark.parametrize("auto_post", [True, False])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("several", [False, True])
def test_matrix_vendor_payment_settles_both_sides(app_ctx, admin, auto_post, full, several):
    relation = factories.intercompany(auto_post=auto_post)
    invoices = _invoices(relation, "100.00", "50.00") if several else _invoices(relation, "80.00")
    total = sum((i.total for i in invoices), Decimal(0))
    paid = total if full else total - Decimal("30.00")
    journal = _pay(admin, relation, invoices, str(paid))
    assert journal.status == "posted"
    customer_journal = journal.customer_journal
    assert customer_journal.total == journal.total == paid  # the two sides never differ
    assert customer_journal.journal_name.code == "IC"
    balances = service.balances(relation)
    assert balances.vendor_open == total - paid
    assert balances.agree
    if auto_post:
        assert customer_journal.status == "posted" and balances.waiting == 0
        assert balances.customer_open == total - paid
        [line] = customer_journal.lines
        assert line.payment.status == PaymentStatus.COMPLETED and line.payment.amount == paid
    else:
        assert customer_journal.status == "draft" and not customer_journal.needs_attention
        assert balances.customer_open == total and balances.waiting == paid
        service.post_customer_journal(admin, customer_journal.legal_entity_id, customer_journal.id)
        balances = service.balances(relation)
        assert balances.customer_open == balances.vendor_open == total - paid
    # Oldest due first on both sides.
    first = invoices[0]
    assert first.status == (InvoiceStatus.PAID if full or several else InvoiceStatus.PARTIALLY_PAID)


@pytest.mark.parametrize("resolve", ["adjust", "reverse", "post"])
def test_failed_auto_post_waits_with_its_reason_and_is_resolved(app_ctx, admin, resolve):
    relation = factories.intercompany(auto_post=True)
    first, second = _invoices(relation, "60.00", "70.00")
    # The selling entity is paid for the first invoice meanwhile, outside the chain: from
    # here the sides differ by that payment, and the journal must not change that.
    create_payment(
        admin, relation.customer, [Allocation(first.id, Decimal("60.00"))], PaymentMethod.MANUAL
    )
    assert service.balances(relation).difference == Decimal("-60.00")
    journal = _pay(admin, relation, [first], "60.00")
    customer_journal = journal.customer_journal
    assert journal.status == "posted"
    assert customer_journal.status == "draft" and customer_journal.needs_attention
    assert "already paid" in customer_journal.attention_reason
    # Nothing half-posted: no payment from the journal, the second invoice untouched.
    assert customer_journal.lines[0].payment_id is None
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert second.amount_paid == 0
    assert service.balances(relation).difference == Decimal("-60.00")
    listed = db.session.scalars(
        select(PaymentJournal).where(PaymentJournal.attention_reason.is_not(None))
    ).all()
    assert listed == [customer_journal]
    selling = customer_journal.legal_entity_id
    if resolve == "adjust":
        # The admin decides the money was for what is open now: the same amount settles
        # the second invoice. The outside payment still has no twin on the buyer's side.
        service.adjust_customer_journal(admin, selling, customer_journal.id)
        assert customer_journal.status == "posted" and not customer_journal.attention_reason
        assert second.amount_paid == Decimal("60.00")
        assert service.balances(relation).difference == Decimal("-60.00")
    elif resolve == "reverse":
        # The journal duplicated the outside payment: withdrawing it, the sides agree again.
        service.reverse_customer_journal(admin, selling, customer_journal.id)
        assert customer_journal.status == "reversed" and second.amount_paid == 0
        balances = service.balances(relation)
        assert balances.agree and balances.customer_open == balances.vendor_open
    else:
        with pytest.raises(service.DomainError):
            service.post_customer_journal(admin, selling, customer_journal.id)
        db.session.rollback()


def test_another_currency_fails_the_auto_post_and_changes_nothing(app_ctx, admin):
    relation = factories.intercompany(auto_post=True)
    [invoice] = _invoices(relation, "90.00")
    # The account now buys in NOK (a changed account): the payment cannot settle EUR.
    relation.customer.currency = "NOK"
    journal = _pay(admin, relation, [invoice], "90.00")
    customer_journal = journal.customer_journal
    assert customer_journal.needs_attention and "EUR" in customer_journal.attention_reason
    assert invoice.amount_paid == 0
    assert service.balances(relation).agree


def test_reversing_the_vendor_payment_proposes_the_customer_side(app_ctx, admin):
    relation = factories.intercompany(auto_post=True)
    [invoice] = _invoices(relation, "90.00")
    journal = _pay(admin, relation, [invoice], "90.00")
    customer_journal = journal.customer_journal
    buying = journal.legal_entity_id
    service.reverse_vendor_journal(admin, buying, journal.id)
    assert journal.status == "reversed"
    assert service.balances(relation).vendor_open == Decimal("90.00")
    assert customer_journal.status == "posted"  # proposed, not done: the seller decides
    service.reverse_customer_journal(admin, customer_journal.legal_entity_id, customer_journal.id)
    assert invoice.amount_paid == 0 and invoice.status == InvoiceStatus.UNPAID
    balances = service.balances(relation)
    assert balances.customer_open == balances.vendor_open == Decimal("90.00")


def test_a_moved_journal_is_a_conflict(app_ctx, admin):
    relation = factories.intercompany(auto_post=False)
    [invoice] = _invoices(relation, "30.00")
    journal = _pay(admin, relation, [invoice], "30.00")
    with pytest.raises(service.JournalConflict) as raised:
        service.post_vendor_journal(admin, journal.legal_entity_id, journal.id)
    assert raised.value.status_code == 409
    service.reverse_vendor_journal(admin, journal.legal_entity_id, journal.id)
    with pytest.raises(service.JournalConflict):
        service.reverse_vendor_journal(admin, journal.legal_entity_id, journal.id)
    # Another entity's journal is not found from here.
    with pytest.raises(service.NotFound):
        service.post_customer_journal(admin, journal.legal_entity_id, journal.customer_journal.id)


@pytest.mark.parametrize(
    ("amount", "invoice_ids", "message"),
    [
        ("0", None, "greater than zero"),
        ("30.001", None, "whole cents"),
        ("30.01", None, "more than the chosen invoices have open"),
        ("10", [], "open invoices of this vendor"),
    ],
)
def test_bad_vendor_journals_are_refused(app_ctx, admin, amount, invoice_ids, message):
    relation = factories.intercompany()
    [invoice] = _invoices(relation, "30.00")
    ids = _vendor_invoice_ids([invoice]) if invoice_ids is None else invoice_ids
    with pytest.raises(service.IntercompanyInvalid) as raised:
        service.create_vendor_journal(
            admin,
            relation.vendor.legal_entity_id,
            [service.VendorLineInput(relation.vendor_id, Decimal(amount), TODAY, ids)],
        )
    assert message in str(raised.value.message)


def test_a_vendor_of_another_entity_is_refused_and_future_dates_too(app_ctx, admin):
    relation = factories.intercompany()
    [invoice] = _invoices(relation, "30.00")
    ids = _vendor_invoice_ids([invoice])
    selling = relation.customer.legal_entity_id
    with pytest.raises(service.IntercompanyInvalid):
        service.create_vendor_journal(
            admin, selling, [service.VendorLineInput(relation.vendor_id, Decimal(1), TODAY, ids)]
        )
    with pytest.raises(service.IntercompanyInvalid):
        service.create_vendor_journal(
            admin,
            relation.vendor.legal_entity_id,
            [
                service.VendorLineInput(
                    relation.vendor_id, Decimal(1), TODAY + timedelta(days=1), ids
                )
            ],
        )


def test_the_demo_sister_company_buys_from_the_store(app_ctx):
    from b2bshop import demo
    from b2bshop.intercompany.models import IntercompanyRelation

    demo.load()
    demo.load_sister_company()
    db.session.commit()
    relation = db.session.scalar(select(IntercompanyRelation))
    assert relation.customer.legal_entity.code == "B2B"
    assert relation.vendor.number == "NO-V-000001"
    balances = service.balances(relation)
    assert balances.vendor_open == balances.customer_open > 0


def test_an_invoice_account_stays_in_its_customers_entity(app_ctx):
    from b2bshop.accounts import service as accounts

    other = factories.customer_of(factories.second_entity())
    with pytest.raises(accounts.InvoiceAccountInvalid) as raised:
        accounts.set_invoice_account(factories.customer(), other)
    assert "legal entity" in str(raised.value.message)


def test_a_draft_takes_more_lines_but_never_pays_an_invoice_twice(app_ctx, admin):
    relation = factories.intercompany(auto_post=True)
    first, second = _invoices(relation, "60.00", "40.00")
    buying = relation.vendor.legal_entity_id
    ids = _vendor_invoice_ids([first, second])
    journal = service.create_vendor_journal(
        admin, buying, [service.VendorLineInput(relation.vendor_id, Decimal("50.00"), TODAY, ids)]
    )
    # 50 of the 100 open is planned already: 60 more is more than is left.
    with pytest.raises(service.IntercompanyInvalid):
        service.add_vendor_line(
            admin,
            buying,
            journal.id,
            service.VendorLineInput(relation.vendor_id, Decimal("60.00"), TODAY, ids),
        )
    line = service.VendorLineInput(relation.vendor_id, Decimal("50.00"), TODAY, ids)
    service.add_vendor_line(admin, buying, journal.id, line, lines_seen=1)
    with pytest.raises(service.JournalConflict):  # the same form again
        service.add_vendor_line(admin, buying, journal.id, line, lines_seen=1)
    assert [line.line_no for line in journal.lines] == [1, 2]
    service.post_vendor_journal(admin, buying, journal.id)
    customer_journal = journal.customer_journal
    assert customer_journal.status == "posted" and customer_journal.total == Decimal("100.00")
    assert first.status == second.status == InvoiceStatus.PAID
    assert service.balances(relation).agree
    with pytest.raises(service.JournalConflict):  # posted: no more lines
        service.add_vendor_line(admin, buying, journal.id, line)


def test_a_draft_vendor_journal_is_withdrawn_without_effect(app_ctx, admin):
    relation = factories.intercompany()
    [invoice] = _invoices(relation, "30.00")
    buying = relation.vendor.legal_entity_id
    journal = service.create_vendor_journal(
        admin,
        buying,
        [
            service.VendorLineInput(
                relation.vendor_id, Decimal("30.00"), TODAY, _vendor_invoice_ids([invoice])
            )
        ],
    )
    service.reverse_vendor_journal(admin, buying, journal.id)
    assert journal.status == "reversed" and journal.customer_journal is None
    assert service.balances(relation).vendor_open == Decimal("30.00")
    with pytest.raises(service.JournalConflict):
        service.post_vendor_journal(admin, buying, journal.id)
