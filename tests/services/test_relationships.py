"""Relationships (issue 17, SPEC B1): qualification, conversion through the customer
service and the invitation machinery, account applications (sign-up), against a real
session."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, Role, User
from b2bshop.audit.models import AuditEntry
from b2bshop.extensions import db
from b2bshop.relationships import service
from b2bshop.relationships.models import AccountApplication, ApplicationStatus, Party, PartyKind
from b2bshop.relationships.taxids import TaxIdInvalid, normalize_tax_id
from b2bshop.requests import service as requests_service
from b2bshop.requests.models import B2BRequest, Invitation, RequestKind, RequestStatus, SentEmail
from tasks import relationships as relationship_jobs
from tasks import requests as request_jobs
from tests import factories


@pytest.fixture
def admin(app_ctx):
    factories.legal_entity()  # the seller every customer belongs to
    return factories.user("admin@store.example", role=Role.STORE_ADMIN)


def _conversion(terms_id: int, contact_id: int | None, **overrides) -> service.ConversionInput:
    values = dict(
        number="",
        currency="EUR",
        payment_terms_id=terms_id,
        credit_limit=Decimal("2500.00"),
        invoice_account_id=None,
        contact_id=contact_id,
    )
    values.update(overrides)
    return service.ConversionInput(**values)


def _signup(**overrides) -> service.SignupInput:
    values = dict(
        company="Noord Supplies B.V.",
        country_code="NL",
        vat_number="NL 8123.45678.B01",
        street="Damrak 1",
        postal_code="1012 LG",
        city="Amsterdam",
        contact_name="Anna de Vries",
        email="Anna@Noord.example",
        language="nl",
    )
    values.update(overrides)
    return service.SignupInput(**values)


def test_a_lead_is_qualified_once(admin):
    lead = factories.party("lead")
    service.qualify(admin, lead.id)
    assert lead.kind == PartyKind.PROSPECT and lead.qualified_at is not None
    with pytest.raises(service.StateConflict) as refused:
        service.qualify(admin, lead.id)
    assert refused.value.status_code == 409
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("party.qualify") == 1


def test_converting_a_prospect_makes_a_customer_a_buyer_admin_and_an_invitation(admin, outbox):
    terms = factories.payment_terms(14)
    group = factories.customer("Group")
    prospect = factories.party("prospect", "Fjord AS", country="NO")
    prospect.vat_number = "NO974760673MVA"
    contact = factories.contact(prospect, "ola@fjord.example", language="nb")
    customer = service.convert(
        admin,
        prospect.id,
        _conversion(
            terms.id, contact.id, invoice_account_id=group.id, credit_limit=Decimal("1000")
        ),
    )
    db.session.commit()
    # Through the customers page's service: number from the series, terms, limit, account.
    assert customer.number == "CU-000001"
    assert (customer.currency, customer.payment_terms_id) == ("EUR", terms.id)
    assert customer.credit_limit == Decimal("1000.00")
    assert customer.invoice_account_id == group.id
    assert (customer.country_code, customer.vat_number) == ("NO", "NO974760673MVA")
    assert prospect.kind == PartyKind.CUSTOMER and prospect.customer_id == customer.id
    user = db.session.scalar(select(User).where(User.email == "ola@fjord.example"))
    assert user.role == Role.BUYER_ADMIN and user.customer_id == customer.id
    assert user.password_hash is None and user.locale == "nb"
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user.id))
    assert invitation is not None and invitation.used_at is None
    [request] = db.session.scalars(select(B2BRequest)).all()
    assert request.kind == RequestKind.ADD_USER and request.status == RequestStatus.PENDING
    assert request.job_id  # queued after the commit
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "customer.create" in actions and "party.convert" in actions

    # The invitation is mailed by the add-user job, once, in the contact's language.
    assert request_jobs.carry_out_user_request(request.id) == "sent"
    assert request_jobs.carry_out_user_request(request.id) == "nothing to do"
    [message] = outbox
    assert message.to == ["ola@fjord.example"]
    assert re.search(r"/invitations/\w+", message.body)
    assert db.session.get(B2BRequest, request.id).status == RequestStatus.COMPLETED


def test_conversion_happens_at_most_once_and_only_for_prospects(admin):
    terms = factories.payment_terms()
    prospect = factories.party("prospect")
    contact = factories.contact(prospect)
    service.convert(admin, prospect.id, _conversion(terms.id, contact.id))
    db.session.commit()
    with pytest.raises(service.StateConflict) as again:
        service.convert(admin, prospect.id, _conversion(terms.id, contact.id))
    assert again.value.status_code == 409
    db.session.rollback()
    lead = factories.party("lead")
    lead_contact = factories.contact(lead)
    with pytest.raises(service.StateConflict):
        service.convert(admin, lead.id, _conversion(terms.id, lead_contact.id))
    db.session.rollback()
    assert db.session.scalar(select(func.count(Customer.id))) == 1


def test_a_refused_conversion_changes_nothing(admin):
    terms = factories.payment_terms()
    prospect = factories.party("prospect")
    contact = factories.contact(prospect)
    db.session.commit()
    for bad in (
        _conversion(terms.id, contact.id, credit_limit=Decimal("-1")),
        _conversion(terms.id, None),
        _conversion(999999, contact.id),
    ):
        with pytest.raises(service.DomainError):
            service.convert(admin, prospect.id, bad)
        db.session.rollback()
    assert db.session.get(Party, prospect.id).kind == PartyKind.PROSPECT
    assert db.session.scalar(select(func.count(Customer.id))) == 0
    assert db.session.scalar(select(func.count(User.id))) == 1  # the admin


def test_an_existing_users_address_refuses_the_conversion(admin):
    terms = factories.payment_terms()
    factories.user("taken@example.com")
    prospect = factories.party("prospect")
    contact = factories.contact(prospect, "taken@example.com")
    with pytest.raises(service.DomainError, match="already exists"):
        service.convert(admin, prospect.id, _conversion(terms.id, contact.id))


def test_tax_ids_are_checked_where_the_country_is_known():
    assert normalize_tax_id("NL", "nl 8123.45678.b01".replace(".", "")) == "NL812345678B01"
    assert normalize_tax_id("NO", "974 760 673 MVA") == "NO974760673MVA"
    assert normalize_tax_id("NO", "974760673") == "974760673"  # organisation number
    assert normalize_tax_id("US", "12-3456789") == "12-3456789"  # not known: kept
    assert normalize_tax_id("NL", "") == ""
    for country, number in (("NL", "NL123456789B01"), ("FR", "FR00000000000"), ("DE", "1")):
        with pytest.raises(TaxIdInvalid):
            normalize_tax_id(country, number)


def test_a_signup_makes_a_prospect_and_an_account_application(app_ctx):
    application, created = service.submit_application(_signup())
    db.session.commit()
    assert created
    party = application.party
    assert party.kind == PartyKind.PROSPECT and party.source == "signup"
    assert party.vat_number == "NL812345678B01"
    [contact] = party.contacts
    assert (contact.email, contact.language, contact.marketing_consent) == (
        "anna@noord.example",
        "nl",
        False,
    )
    request = db.session.get(B2BRequest, application.request_id)
    assert request.kind == RequestKind.ACCOUNT_APPLICATION
    assert request.status == RequestStatus.PENDING
    assert request.customer_id is None and request.requester_id is None
    # No job carries it out: the request sync leaves it to a store admin.
    assert requests_service.unqueued_pending_requests(set()) == []


def test_a_repeated_application_is_linked_not_created_twice(app_ctx):
    first, _created = service.submit_application(_signup())
    db.session.commit()
    same_email, created_email = service.submit_application(
        _signup(company="Other name", vat_number="", email="ANNA@noord.example")
    )
    same_vat, created_vat = service.submit_application(
        _signup(email="someone.else@noord.example", vat_number="NL812345678B01")
    )
    db.session.commit()
    assert not created_email and not created_vat
    assert same_email.id == same_vat.id == first.id
    assert db.session.get(AccountApplication, first.id).repeats == 2
    assert db.session.scalar(select(func.count(Party.id))) == 1
    assert db.session.scalar(select(func.count(B2BRequest.id))) == 1


def test_an_invalid_signup_creates_nothing(app_ctx):
    with pytest.raises(TaxIdInvalid):
        service.submit_application(_signup(vat_number="NL123"))
    db.session.rollback()
    with pytest.raises(service.DomainError):
        service.submit_application(_signup(email="not an address"))
    db.session.rollback()
    assert db.session.scalar(select(func.count(Party.id))) == 0
    assert db.session.scalar(select(func.count(B2BRequest.id))) == 0


def test_approving_converts_once_and_rejecting_a_decided_one_is_refused(admin, outbox):
    terms = factories.payment_terms()
    application, _ = service.submit_application(_signup())
    db.session.commit()
    customer = service.approve(admin, application.id, _conversion(terms.id, None))
    db.session.commit()
    assert application.status == ApplicationStatus.APPROVED
    request = db.session.get(B2BRequest, application.request_id)
    assert request.status == RequestStatus.COMPLETED and request.customer_id == customer.id
    user = db.session.scalar(select(User).where(User.email == "anna@noord.example"))
    assert user.is_buyer_admin and user.customer_id == customer.id
    for decide in (
        lambda: service.approve(admin, application.id, _conversion(terms.id, None)),
        lambda: service.reject(admin, application.id, "No"),
    ):
        with pytest.raises(service.StateConflict):
            decide()
        db.session.rollback()
    assert db.session.scalar(select(func.count(Customer.id))) == 1


def test_rejecting_sends_a_translated_email_once(admin, outbox):
    application, _ = service.submit_application(_signup(language="fr"))
    db.session.commit()
    with pytest.raises(service.PartyInvalid):
        service.reject(admin, application.id, "  ")
    db.session.rollback()
    service.reject(admin, application.id, "Nous ne livrons pas <b>encore</b> aux Pays-Bas.")
    db.session.commit()
    assert application.status == ApplicationStatus.REJECTED
    assert party_kind(application.party_id) == PartyKind.PROSPECT
    assert relationship_jobs.send_rejection_email(application.id) == "sent"
    assert relationship_jobs.send_rejection_email(application.id) == "sent earlier"
    [message] = outbox
    assert message.to == ["anna@noord.example"]
    assert "compte professionnel" in message.subject
    assert "Nous ne livrons pas <b>encore</b>" in message.body  # plain text as written
    html = message.alternatives[0][0]
    assert "&lt;b&gt;encore&lt;/b&gt;" in html  # escaped in the HTML part
    intent = db.session.scalar(select(SentEmail).where(SentEmail.key.like("application-%")))
    assert intent.state == "sent" and intent.sends == 1
    assert service.unsent_rejections() == []


def party_kind(party_id: int) -> PartyKind:
    return db.session.get(Party, party_id).kind
