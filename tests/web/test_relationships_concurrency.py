"""Relationships and campaigns under real concurrency (issue 17): N store admins press the
same button at the same moment and make one effect; the others get a clear 409.

PostgreSQL only: the party, application and campaign row locks are what is tested; SQLite
serializes every writer, so nothing here can race there.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, PaymentTerms, Role, User
from b2bshop.audit.models import AuditEntry
from b2bshop.campaigns.models import Campaign, CampaignRecipient
from b2bshop.extensions import db
from b2bshop.relationships import service
from b2bshop.relationships.models import AccountApplication, Party, PartyKind
from b2bshop.requests.models import B2BRequest, Invitation, RequestKind
from tests import factories
from tests.conftest import ON_POSTGRES
from tests.web.test_money_concurrency import at_once, login, no_server_errors

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]

N = 4


def _admins(app) -> list:
    with app.app_context():
        factories.legal_entity()
        factories.payment_terms(30)
        for i in range(N):
            factories.user(f"admin{i}@store.example", password="pw", role=Role.STORE_ADMIN)
        db.session.commit()
    return [login(app, f"admin{i}@store.example") for i in range(N)]


def _count(app, stmt) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(stmt)


def test_concurrent_approvals_make_one_customer_and_409s(app):
    admins = _admins(app)
    with app.app_context():
        application, _ = service.submit_application(
            service.SignupInput(
                company="Race B.V.", country_code="NL", vat_number="NL812345678B01",
                street="Damrak 1", postal_code="1012 LG", city="Amsterdam",
                contact_name="Rita", email="rita@race.example", language="en",
            )
        )  # fmt: skip
        db.session.commit()
        party_id, contact_id = application.party_id, application.contact_id
        terms_id = db.session.scalar(select(func.min(PaymentTerms.id)))
    data = {
        "number": "",
        "currency": "EUR",
        "payment_terms_id": str(terms_id),
        "credit_limit": "100",
        "invoice_account_id": "0",
        "contact_id": str(contact_id),
    }
    answers = at_once(
        [
            (lambda c=c: c.post(f"/admin/relationships/{party_id}/convert", data=data))
            for c in admins
        ]
    )
    no_server_errors(answers)
    statuses = sorted(a.status for a in answers)
    assert statuses == [302] + [409] * (N - 1), statuses
    refused = next(a for a in answers if a.status == 409)
    assert "already" in refused.body
    assert _count(app, select(func.count(Customer.id))) == 1
    assert _count(app, select(func.count(User.id)).where(User.email == "rita@race.example")) == 1
    assert _count(app, select(func.count(Invitation.id))) == 1
    invites = select(func.count(B2BRequest.id)).where(B2BRequest.kind == RequestKind.ADD_USER)
    assert _count(app, invites) == 1
    converts = select(func.count(AuditEntry.id)).where(AuditEntry.action == "party.convert")
    assert _count(app, converts) == 1
    with app.app_context():
        assert db.session.get(Party, party_id).kind == PartyKind.CUSTOMER
        assert db.session.scalar(select(AccountApplication.status)).value == "approved"


def test_concurrent_qualifications_and_campaign_starts_happen_once(app):
    admins = _admins(app)
    with app.app_context():
        lead = factories.party("lead")
        for n in range(5):
            factories.contact(lead, f"c{n}@race.example")
        campaign = Campaign(name="Race", channel="email", target_filter={}, status="draft")
        db.session.add(campaign)
        db.session.commit()
        lead_id, campaign_id = lead.id, campaign.id
    answers = at_once(
        [(lambda c=c: c.post(f"/admin/relationships/{lead_id}/qualify")) for c in admins]
    )
    no_server_errors(answers)
    assert sorted(a.status for a in answers) == [302] + [409] * (N - 1)
    answers = at_once(
        [(lambda c=c: c.post(f"/admin/campaigns/{campaign_id}/start")) for c in admins]
    )
    no_server_errors(answers)
    assert sorted(a.status for a in answers) == [302] + [409] * (N - 1)
    assert _count(app, select(func.count(CampaignRecipient.id))) == 5
