"""Posting the same vendor payment journal twice at the same moment makes one effect: one
posting, one customer journal, one payment in the selling entity, the other a clear 409
(the journal's row lock and the re-read status, intercompany/service.py). PostgreSQL only."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role, User
from b2bshop.extensions import db
from b2bshop.intercompany import service
from b2bshop.intercompany.models import PaymentJournal, VendorInvoice, VendorTransaction
from b2bshop.payments.models import Payment
from tests import factories
from tests.conftest import ON_POSTGRES
from tests.web.test_money_concurrency import at_once, login, no_server_errors

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]


@pytest.mark.parametrize("auto_post", [True, False])
def test_posting_a_vendor_journal_twice_at_once_makes_one_effect(app, auto_post):
    with app.app_context():
        relation = factories.intercompany(auto_post=auto_post)
        invoice = factories.invoice(relation.customer, "120.00")
        admin = factories.user("admin@race.example", role=Role.STORE_ADMIN, password="pw")
        vendor_invoice = db.session.scalar(
            select(VendorInvoice.id).where(VendorInvoice.customer_invoice_id == invoice.id)
        )
        buying = relation.vendor.legal_entity_id
        journal = service.create_vendor_journal(
            admin,
            buying,
            [
                service.VendorLineInput(
                    relation.vendor_id, Decimal("120.00"), date.today(), [vendor_invoice]
                )
            ],
        )
        number = journal.number
        db.session.commit()
    clients = [login(app, "admin@race.example") for _ in range(4)]
    for client in clients:
        client.post("/admin/entity", data={"entity_id": str(buying)})
    answers = at_once([lambda c=c: c.post(f"/admin/journals/{number}/post") for c in clients])
    no_server_errors(answers)
    assert Counter(a.status for a in answers) == Counter({303: 1, 409: 3})
    assert all("changed meanwhile" in a.body for a in answers if a.status == 409)
    with app.app_context():
        assert db.session.scalar(select(VendorTransaction.settled_amount)) == Decimal("120.00")
        journals = db.session.scalars(select(PaymentJournal).order_by(PaymentJournal.id)).all()
        assert [j.kind for j in journals] == ["vendor", "customer"]
        assert db.session.scalar(select(func.count()).select_from(Payment)) == (
            1 if auto_post else 0
        )
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
