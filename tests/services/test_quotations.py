"""Quotations (issue 18): create, price, send, accept through place_order, decline, expire."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.credit import CreditLimitExceeded
from b2bshop.accounts.models import Role
from b2bshop.cart import service as cart_service
from b2bshop.errors import NotFound
from b2bshop.extensions import db
from b2bshop.quotations import service
from b2bshop.quotations.models import (
    Quotation,
    QuotationEmail,
    QuotationEmailKind,
    QuotationStatus,
)
from b2bshop.quotations.service import QuoteLineInput
from b2bshop.sales.models import OrderStatus, SalesOrder
from tests import factories

TODAY = date(2026, 11, 30)


def _sent(customer, admin, *lines, valid_days: int = 10):
    quotation = service.create_draft(admin, customer, note="Spring offer")
    service.save_quotation(
        admin,
        quotation,
        list(lines),
        valid_until=TODAY + timedelta(days=valid_days),
        note="Spring offer",
        today=TODAY,
    )
    return service.send_quotation(admin, quotation, today=TODAY)


@pytest.fixture
def people(app_ctx):
    customer = factories.customer("Quoted Ltd", credit_limit="100000")
    buyer = factories.user(customer=customer)
    admin = factories.user(role=Role.STORE_ADMIN)
    product = factories.product(price="10.00", stock=5)
    other = factories.product(price="3.50", stock=100)
    return customer, buyer, admin, product, other


def test_create_draft_takes_the_next_gap_free_number(people):
    customer, _, admin, *_ = people
    first = service.create_draft(admin, customer, note="Interested in bulk")
    second = service.create_draft(admin, customer)
    assert (first.number, second.number) == ("QU-000001", "QU-000002")
    assert first.status == QuotationStatus.DRAFT
    assert first.currency == "EUR" and first.note == "Interested in bulk"
    assert first.total == Decimal("0.00")


def test_numbers_come_back_on_rollback(people, app):
    customer, _, admin, *_ = people
    db.session.commit()
    service.create_draft(admin, customer)
    db.session.rollback()
    customer = db.session.merge(customer)
    admin = db.session.merge(admin)
    assert service.create_draft(admin, customer).number == "QU-000001"


def test_accept_places_one_order_at_the_quoted_prices(people):
    customer, buyer, admin, product, other = people
    quotation = _sent(
        customer,
        admin,
        QuoteLineInput(product.id, 8, Decimal("7.25")),
        QuoteLineInput(other.id, 2, Decimal("3.10")),
    )
    assert quotation.status == QuotationStatus.SENT
    assert quotation.total == Decimal("64.20")
    order = service.accept_quotation(buyer, quotation, today=TODAY)
    assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in order.lines] == [
        (product.id, 8, Decimal("7.25")),
        (other.id, 2, Decimal("3.10")),
    ]
    assert order.total == Decimal("64.20")
    # Where each price came from: this quotation, by number.
    assert {ln.price_label for ln in order.lines} == {f"Quoted price ({quotation.number})"}
    assert order.status == OrderStatus.CONFIRMED
    # Stock covered 5 of 8: the rest stays on backorder, as for any confirmed order.
    assert order.lines[0].backorder_quantity == 3
    assert quotation.status == QuotationStatus.ACCEPTED and quotation.order_id == order.id
    # A double submit gets the same order back, and no second one exists.
    assert service.accept_quotation(buyer, quotation, today=TODAY).id == order.id
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 1


def test_accept_checks_the_credit_limit_and_changes_nothing(app_ctx):
    customer = factories.customer(credit_limit="50")
    buyer = factories.user(customer=customer)
    admin = factories.user(role=Role.STORE_ADMIN)
    product = factories.product(price="10.00")
    quotation = _sent(customer, admin, QuoteLineInput(product.id, 10, Decimal("9.00")))
    db.session.commit()
    with pytest.raises(CreditLimitExceeded):
        service.accept_quotation(buyer, quotation, today=TODAY)
    db.session.rollback()
    assert db.session.get(Quotation, quotation.id).status == QuotationStatus.SENT
    assert db.session.scalar(select(func.count(SalesOrder.id))) == 0


def test_after_the_validity_date_acceptance_is_refused(people):
    customer, buyer, admin, product, _ = people
    quotation = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")), valid_days=2)
    with pytest.raises(service.QuotationConflict) as refused:
        service.accept_quotation(buyer, quotation, today=TODAY + timedelta(days=3))
    assert "can no longer be accepted" in str(refused.value.message)
    assert refused.value.status_code == 409
    # On its last day it is still good.
    assert service.accept_quotation(buyer, quotation, today=TODAY + timedelta(days=2))


def test_expiry_sweep_marks_sent_quotations_past_their_date(people):
    customer, buyer, admin, product, _ = people
    old = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")), valid_days=1)
    fresh = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")), valid_days=30)
    draft = service.create_draft(admin, customer)
    assert service.expire_quotations(TODAY + timedelta(days=2)) == 1
    assert old.status == QuotationStatus.EXPIRED
    assert fresh.status == QuotationStatus.SENT and draft.status == QuotationStatus.DRAFT
    assert service.expire_quotations(TODAY + timedelta(days=2)) == 0
    with pytest.raises(service.QuotationConflict):
        service.accept_quotation(buyer, old, today=TODAY)


def test_reminders_are_queued_once_before_expiry(people):
    customer, _, admin, product, _ = people
    soon = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")), valid_days=2)
    _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")), valid_days=30)
    assert service.queue_reminders(TODAY) == 1
    assert service.queue_reminders(TODAY) == 0
    kinds = db.session.scalars(
        select(QuotationEmail.kind).where(QuotationEmail.quotation_id == soon.id)
    ).all()
    assert sorted(kinds) == [QuotationEmailKind.EXPIRING, QuotationEmailKind.SENT]


def test_decline_and_state_conflicts(people):
    customer, buyer, admin, product, _ = people
    quotation = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")))
    service.decline_quotation(buyer, quotation)
    assert quotation.status == QuotationStatus.DECLINED
    service.decline_quotation(buyer, quotation)  # the same decline again
    with pytest.raises(service.QuotationConflict) as refused:
        service.accept_quotation(buyer, quotation, today=TODAY)
    assert "already been declined" in str(refused.value.message)
    with pytest.raises(service.QuotationConflict):
        service.save_quotation(admin, quotation, [], valid_until=None, note="", today=TODAY)


def test_other_customers_and_non_ordering_users_are_refused(people):
    customer, _, admin, product, _ = people
    quotation = _sent(customer, admin, QuoteLineInput(product.id, 1, Decimal("9")))
    stranger = factories.user(customer=factories.customer())
    with pytest.raises(NotFound):
        service.accept_quotation(stranger, quotation, today=TODAY)
    assert service.get_visible_quotation(stranger, quotation.number) is None
    viewer = factories.user(customer=customer, may_order=False)
    assert service.get_visible_quotation(viewer, quotation.number) is not None
    with pytest.raises(service.QuotationNotPermitted):
        service.decline_quotation(viewer, quotation)
    assert quotation.status == QuotationStatus.SENT


def test_sending_needs_prices_a_date_and_lines(people):
    customer, _, admin, product, _ = people
    quotation = service.create_draft(admin, customer)
    with pytest.raises(service.QuotationInvalid):
        service.send_quotation(admin, quotation, today=TODAY)
    service.save_quotation(
        admin,
        quotation,
        [QuoteLineInput(product.id, 2, None)],
        valid_until=TODAY + timedelta(days=5),
        note="",
        today=TODAY,
    )
    with pytest.raises(service.QuotationInvalid) as refused:
        service.send_quotation(admin, quotation, today=TODAY)
    assert "price" in str(refused.value.message)
    with pytest.raises(service.QuotationInvalid):
        service.save_quotation(
            admin,
            quotation,
            [QuoteLineInput(product.id, 2, Decimal("1"))],
            valid_until=TODAY - timedelta(days=1),
            note="",
            today=TODAY,
        )
    usd = factories.product(price="1")
    usd.currency = "USD"
    with pytest.raises(service.QuotationInvalid):
        service.save_quotation(
            admin,
            quotation,
            [QuoteLineInput(usd.id, 2, Decimal("1"))],
            valid_until=None,
            note="",
            today=TODAY,
        )


def test_a_cart_becomes_a_quotation_request(people):
    _, buyer, _, product, other = people
    cart_service.add_item(buyer, product.sku, "3")
    cart_service.add_item(buyer, other.sku, "4")
    quotation = service.request_quote(buyer, note="Can you do better on volume?")
    assert quotation.status == QuotationStatus.DRAFT
    assert quotation.requested_by_id == buyer.id
    assert quotation.request_note == "Can you do better on volume?"
    assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in quotation.lines] == [
        (product.id, 3, None),
        (other.id, 4, None),
    ]
    assert cart_service.line_count(buyer) == 0
    with pytest.raises(service.QuotationInvalid):
        service.request_quote(buyer)


def test_another_entitys_product_cannot_be_quoted_or_suggested(people):
    customer, _buyer, admin, product, _ = people
    sister = factories.second_entity("NO")
    foreign = factories.product_of(sister, "NO-PEN")
    quotation = service.create_draft(admin, customer)
    with pytest.raises(service.QuotationInvalid):
        service.save_quotation(
            admin,
            quotation,
            [QuoteLineInput(foreign.id, 1, Decimal("1"))],
            valid_until=None,
            note="",
            today=TODAY,
        )
    from b2bshop.suggestions import service as suggestions
    from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

    db.session.add(
        SuggestionRule(
            kind=SuggestionKind.CROSS_SELL,
            product_id=product.id,
            category="",
            suggested_product_id=foreign.id,
            priority=0,
            note="",
            active=True,
        )
    )
    db.session.flush()
    found = suggestions.suggestions_for([product], "EUR", TODAY, entity_id=customer.legal_entity_id)
    assert found[product.id] == []
