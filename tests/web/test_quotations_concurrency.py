"""Quotations under real concurrency (issue 18): N buyers accept one quotation at the same
moment -> exactly one sales order; the others get the same order or a clear 409, never a
5xx; accept racing decline and the expiry sweep leaves one outcome.

PostgreSQL only: the race is about row locks (core/locks.py); SQLite serializes writers.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.extensions import db
from b2bshop.quotations import service
from b2bshop.quotations.models import Quotation, QuotationStatus
from b2bshop.quotations.service import QuoteLineInput
from b2bshop.sales.models import SalesOrder
from tests import factories
from tests.conftest import ON_POSTGRES
from tests.web.test_money_concurrency import at_once, login, no_server_errors

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]


def _setup(app, buyers: int = 6) -> tuple[str, list[str], int]:
    with app.app_context():
        customer = factories.customer("Racing Ltd", credit_limit="100000")
        emails = [
            factories.user(f"racer{i}@example.com", customer=customer, password="pw").email
            for i in range(buyers)
        ]
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product(price="10.00", stock=3)
        quotation = service.create_draft(admin, customer)
        service.save_quotation(
            admin,
            quotation,
            [QuoteLineInput(product.id, 5, Decimal("8.00"))],
            valid_until=date.today() + timedelta(days=5),
            note="",
        )
        service.send_quotation(admin, quotation)
        db.session.commit()
        return quotation.number, emails, product.id


def test_concurrent_accepts_make_exactly_one_order(app):
    number, emails, product_id = _setup(app)
    clients = [login(app, email) for email in emails]
    answers = at_once([lambda c=c: c.post(f"/quotations/{number}/accept") for c in clients])
    no_server_errors(answers)
    assert all(a.status in (302, 409) for a in answers), [a.status for a in answers]
    with app.app_context():
        assert db.session.scalar(select(func.count(SalesOrder.id))) == 1
        quotation = db.session.scalar(select(Quotation).where(Quotation.number == number))
        assert quotation.status == QuotationStatus.ACCEPTED
        order = db.session.get(SalesOrder, quotation.order_id)
        assert [(ln.quantity, ln.unit_price) for ln in order.lines] == [(5, Decimal("8.00"))]
        # Stock reserved once: 3 on hand, 2 on backorder.
        from b2bshop.catalog.models import Product

        assert db.session.get(Product, product_id).stock_on_hand == 0
        assert order.lines[0].backorder_quantity == 2


def test_accept_racing_decline_leaves_one_outcome(app):
    number, emails, _ = _setup(app, buyers=6)
    clients = [login(app, email) for email in emails]
    calls = [
        (
            lambda c=c, verb=("accept" if i % 2 else "decline"): c.post(
                f"/quotations/{number}/{verb}"
            )
        )
        for i, c in enumerate(clients)
    ]
    answers = at_once(calls)
    no_server_errors(answers)
    assert all(a.status in (302, 409) for a in answers), [a.status for a in answers]
    with app.app_context():
        quotation = db.session.scalar(select(Quotation).where(Quotation.number == number))
        orders = db.session.scalar(select(func.count(SalesOrder.id)))
        if quotation.status == QuotationStatus.ACCEPTED:
            assert orders == 1 and quotation.order_id is not None
        else:
            assert quotation.status == QuotationStatus.DECLINED and orders == 0
