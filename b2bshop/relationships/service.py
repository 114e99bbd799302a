"""Relationships (SPEC B1): leads are qualified into prospects, prospects converted into
customers; partner sign-ups become account applications a store admin decides.

Services take the acting user, flush and never commit (one commit at the edge). Every state
change locks the party (or application) row and re-reads its state: N concurrent requests
make one effect, the others a DomainError with status 409.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import Customer, Role, User
from b2bshop.audit import service as audit
from b2bshop.entities.service import default_entity_id
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.numbering import next_number
from b2bshop.relationships.models import (
    LANGUAGES,
    AccountApplication,
    ApplicationStatus,
    Contact,
    FollowUpTask,
    Party,
    PartyKind,
)
from b2bshop.relationships.taxids import normalize_tax_id
from b2bshop.requests import invitations
from b2bshop.requests import service as requests_service
from b2bshop.requests.models import B2BRequest, RequestKind, RequestStatus


class PartyInvalid(DomainError):
    status_code = 422


class StateConflict(DomainError):
    """The party or application moved on meanwhile (another admin, a double submit)."""

    status_code = 409


# --- Parties and contacts ---


@dataclass(frozen=True)
class PartyInput:
    name: str
    country_code: str = ""
    vat_number: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    notes: str = ""


@dataclass(frozen=True)
class ContactInput:
    name: str
    email: str
    phone: str = ""
    role: str = ""
    language: str = "en"
    marketing_consent: bool = False


def create_party(
    acting_user: User | None,
    data: PartyInput,
    *,
    kind: PartyKind = PartyKind.LEAD,
    source: str = "admin",
) -> Party:
    name = (data.name or "").strip()
    if not name:
        raise PartyInvalid(_l("Enter the company's name."))
    country = (data.country_code or "").strip().upper()[:2]
    party = Party(
        kind=kind,
        name=name[:200],
        country_code=country,
        vat_number=normalize_tax_id(country, data.vat_number),
        street=(data.street or "").strip()[:200],
        postal_code=(data.postal_code or "").strip()[:20],
        city=(data.city or "").strip()[:100],
        notes=(data.notes or "").strip(),
        source=source,
    )
    db.session.add(party)
    db.session.flush()
    audit.record(acting_user, f"{kind.value}.create", "party", party.id, after={"name": party.name})
    return party


def add_contact(acting_user: User | None, party: Party, data: ContactInput) -> Contact:
    name = (data.name or "").strip()
    if not name:
        raise PartyInvalid(_l("Enter the contact's name."))
    contact = Contact(
        party=party,
        name=name[:200],
        email=accounts.valid_email(data.email),
        phone=(data.phone or "").strip()[:40],
        role=(data.role or "").strip()[:100],
        language=data.language if data.language in LANGUAGES else "en",
        marketing_consent=bool(data.marketing_consent),
    )
    db.session.add(contact)
    db.session.flush()
    audit.record(
        acting_user,
        "contact.create",
        "party",
        party.id,
        after={"contact": contact.email, "marketing_consent": contact.marketing_consent},
    )
    return contact


def lock_party(party_id: int) -> Party:
    """The party, its row locked and read again (populate_existing: the identity map would
    otherwise keep the kind the view read before the lock)."""
    party = db.session.scalar(
        select(Party)
        .where(Party.id == party_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if party is None:
        raise NotFound(_l("There is no such lead or prospect."))
    return party


def qualify(acting_user: User, party_id: int) -> Party:
    """A lead becomes a prospect, once."""
    party = lock_party(party_id)
    if party.kind != PartyKind.LEAD:
        raise StateConflict(_l("%(name)s is not a lead any more.", name=party.name))
    party.kind = PartyKind.PROSPECT
    party.qualified_at = datetime.now()
    db.session.flush()
    audit.record(
        acting_user, "party.qualify", "party", party.id, {"kind": "lead"}, {"kind": "prospect"}
    )
    return party


@dataclass(frozen=True)
class ConversionInput:
    #: Empty: the next number of the "customer" series.
    number: str
    currency: str
    payment_terms_id: int
    credit_limit: Decimal
    invoice_account_id: int | None
    #: The contact who becomes the buyer admin.
    contact_id: int | None


def convert(
    acting_user: User,
    party_id: int,
    data: ConversionInput,
    *,
    legal_entity_id: int | None = None,
) -> Customer:
    """A prospect becomes a customer: the customer account through the customers page's
    service, a buyer-admin user for the chosen contact and a single-use invitation, mailed
    by the add-user request's job (tasks/requests.py) once this transaction commits. One
    transaction, audited, at most once: the party row is locked and its kind re-read."""
    party = lock_party(party_id)
    if party.kind == PartyKind.CUSTOMER:
        raise StateConflict(_l("%(name)s is already a customer.", name=party.name))
    if party.kind != PartyKind.PROSPECT:
        raise StateConflict(_l("Qualify %(name)s as a prospect first.", name=party.name))
    contact = next((c for c in party.contacts if c.id == data.contact_id), None)
    if contact is None:
        raise PartyInvalid(_l("Choose the contact who becomes the account's administrator."))
    # The customer belongs to the admin's entity (the customers page's rule), numbered in
    # that entity's series.
    entity_id = legal_entity_id or default_entity_id()
    number = (data.number or "").strip() or next_number("customer", entity_id)
    customer = accounts.save_customer(
        acting_user,
        None,
        accounts.CustomerInput(
            number=number,
            name=party.name,
            email=contact.email,
            currency=data.currency,
            payment_terms_id=data.payment_terms_id,
            credit_limit=data.credit_limit,
            invoice_account_id=data.invoice_account_id,
        ),
        legal_entity_id=entity_id,
    )
    customer.street, customer.postal_code = party.street, party.postal_code
    customer.city, customer.country_code = party.city, party.country_code
    customer.vat_number = party.vat_number
    user = accounts.create_user(
        contact.email,
        None,
        role=Role.BUYER_ADMIN,
        customer=customer,
        name=contact.name,
        locale=contact.language,
    )
    invitation, _token = invitations.create(user)
    # The add-user request's job mails the invitation at least once (sent_emails intent);
    # the user and invitation exist already, so the job only sends.
    invite = B2BRequest(
        kind=RequestKind.ADD_USER,
        customer_id=customer.id,
        requester=acting_user,
        email=acting_user.email,
        locale=contact.language,
        payload={
            "email": user.email,
            "name": user.name,
            **{name: True for name in requests_service.PERMISSIONS},
            "user_id": user.id,
            "invitation_id": invitation.id,
        },
    )
    db.session.add(invite)
    party.kind = PartyKind.CUSTOMER
    party.customer = customer
    party.converted_at = datetime.now()
    db.session.flush()
    requests_service.enqueue(invite)
    audit.record(
        acting_user,
        "party.convert",
        "party",
        party.id,
        {"kind": "prospect"},
        {"kind": "customer", "customer": customer.number, "buyer_admin": user.email},
    )
    return customer


def add_task(
    acting_user: User | None,
    party: Party,
    title: str,
    due: date | None = None,
    *,
    campaign_recipient_id: int | None = None,
) -> FollowUpTask:
    title = (title or "").strip()
    if not title:
        raise PartyInvalid(_l("Describe the follow-up task."))
    task = FollowUpTask(
        party=party, title=title[:300], due_date=due, campaign_recipient_id=campaign_recipient_id
    )
    db.session.add(task)
    db.session.flush()
    return task


def complete_task(acting_user: User, party: Party, task_id: int) -> FollowUpTask:
    task = db.session.scalar(
        select(FollowUpTask)
        .where(FollowUpTask.id == task_id, FollowUpTask.party_id == party.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound(_l("There is no such task."))
    if task.done_at is None:
        task.done_at = datetime.now()
        db.session.flush()
    return task


def relationships_query(kind: str | None, country: str | None, q: str | None) -> Select:
    """Leads and prospects (customers have their own list), for /admin/relationships."""
    stmt = select(Party).where(Party.kind.in_((PartyKind.LEAD, PartyKind.PROSPECT)))
    if kind in (PartyKind.LEAD.value, PartyKind.PROSPECT.value):
        stmt = stmt.where(Party.kind == PartyKind(kind))
    if country:
        stmt = stmt.where(Party.country_code == country.upper())
    if q:
        matching_contact = select(Contact.id).where(
            Contact.party_id == Party.id,
            or_(
                Contact.email.icontains(q, autoescape=True),
                Contact.name.icontains(q, autoescape=True),
            ),
        )
        stmt = stmt.where(
            or_(
                Party.name.icontains(q, autoescape=True),
                Party.vat_number.icontains(q, autoescape=True),
                matching_contact.exists(),
            )
        )
    return stmt


# --- Partner sign-up: account applications ---


@dataclass(frozen=True)
class SignupInput:
    company: str
    country_code: str
    vat_number: str
    street: str
    postal_code: str
    city: str
    contact_name: str
    email: str
    language: str


SIGNUP_FIELDS = (
    "company",
    "country_code",
    "vat_number",
    "street",
    "postal_code",
    "city",
    "contact_name",
    "email",
    "language",
)


def submit_application(data: SignupInput) -> tuple[AccountApplication, bool]:
    """A partner sign-up: a prospect with its contact, and a B2B request of kind account
    application that a store admin decides. Returns (application, created). The same VAT
    number or email again is linked to the application it repeats, not created twice."""
    email = accounts.valid_email(data.email)
    country = (data.country_code or "").strip().upper()[:2]
    vat = normalize_tax_id(country, data.vat_number)
    same = [func.lower(Contact.email) == email]
    if vat:
        same.append(Party.vat_number == vat)
    existing = db.session.scalar(
        select(AccountApplication)
        .join(Party, AccountApplication.party_id == Party.id)
        .join(Contact, Contact.party_id == Party.id)
        .where(or_(*same), AccountApplication.status == ApplicationStatus.PENDING)
        .order_by(AccountApplication.id)
        .limit(1)
    )
    if existing is not None:
        locked = db.session.scalar(
            select(AccountApplication)
            .where(AccountApplication.id == existing.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        locked.repeats += 1
        db.session.flush()
        return locked, False
    party = db.session.scalar(
        select(Party)
        .outerjoin(Contact, Contact.party_id == Party.id)
        .where(or_(*same))
        .order_by(Party.id)
        .limit(1)
    )
    if party is None:
        party = create_party(
            None,
            PartyInput(
                name=data.company,
                country_code=country,
                vat_number=vat,
                street=data.street,
                postal_code=data.postal_code,
                city=data.city,
            ),
            kind=PartyKind.PROSPECT,
            source="signup",
        )
    contact = next((c for c in party.contacts if c.email == email), None)
    if contact is None:
        contact = add_contact(
            None,
            party,
            ContactInput(name=data.contact_name, email=email, language=data.language),
        )
    request = B2BRequest(
        kind=RequestKind.ACCOUNT_APPLICATION,
        customer_id=party.customer_id,
        requester_id=None,
        email=email,
        locale=contact.language,
        # Held: no job carries it out (the request sync leaves it alone); a store admin
        # decides at /admin/relationships.
        payload={"party_id": party.id, "company": party.name, "held_for_store_admin": True},
        last_error=None,
    )
    db.session.add(request)
    db.session.flush()
    application = AccountApplication(party=party, contact=contact, request_id=request.id)
    db.session.add(application)
    db.session.flush()
    audit.record(None, "application.create", "party", party.id, after={"email": email})
    return application, True


def lock_application(application_id: int) -> AccountApplication:
    application = db.session.scalar(
        select(AccountApplication)
        .where(AccountApplication.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if application is None:
        raise NotFound(_l("There is no such account application."))
    return application


def _decide(acting_user: User, application: AccountApplication, status: ApplicationStatus) -> None:
    if application.status != ApplicationStatus.PENDING:
        raise StateConflict(_l("This account application has already been decided."))
    application.status = status
    application.decided_at = datetime.now()
    application.decided_by = acting_user
    request = db.session.get(B2BRequest, application.request_id)
    request.status = RequestStatus.COMPLETED
    request.completed_at = datetime.now()
    request.payload = {
        **(request.payload or {}),
        "held_for_store_admin": False,
        "decision": status.value,
    }


def approve(
    acting_user: User,
    application_id: int,
    data: ConversionInput,
    *,
    legal_entity_id: int | None = None,
) -> Customer:
    """Approve: convert the prospect as above (same transaction), the invitation mailed by
    a job. Locks the application, then the party (always in that order)."""
    application = lock_application(application_id)
    _decide(acting_user, application, ApplicationStatus.APPROVED)
    if data.contact_id is None:
        data = replace(data, contact_id=application.contact_id)
    customer = convert(acting_user, application.party_id, data, legal_entity_id=legal_entity_id)
    db.session.get(B2BRequest, application.request_id).customer_id = customer.id
    audit.record(acting_user, "application.approve", "party", application.party_id)
    db.session.flush()
    return customer


def reject(acting_user: User, application_id: int, reason: str) -> AccountApplication:
    """Reject with a reason; a job mails it, translated into the applicant's language."""
    from b2bshop import jobs

    reason = (reason or "").strip()
    if not reason:
        raise PartyInvalid(_l("Give the applicant a reason."))
    application = lock_application(application_id)
    _decide(acting_user, application, ApplicationStatus.REJECTED)
    application.reason = reason[:2000]
    db.session.flush()
    jobs.enqueue_after_commit(
        "tasks.relationships.send_rejection_email",
        application.id,
        job_id=f"application-rejected-{application.id}",
        retry=jobs.default_retry(),
    )
    audit.record(
        acting_user,
        "application.reject",
        "party",
        application.party_id,
        after={"reason": reason[:200]},
    )
    return application


def unsent_rejections(limit: int = 200) -> list[int]:
    """Rejected applications whose email the mail server has not accepted (the queue was
    down, or the job gave up): the campaign sync queues them again."""
    from b2bshop.requests.models import SentEmail

    sent = select(SentEmail.key).where(SentEmail.state == "sent")
    rows = db.session.scalars(
        select(AccountApplication.id)
        .where(AccountApplication.status == ApplicationStatus.REJECTED)
        .order_by(AccountApplication.id)
        .limit(limit)
    ).all()
    done = set(db.session.scalars(sent.where(SentEmail.key.like("application-rejected-%"))))
    return [i for i in rows if f"application-rejected-{i}" not in done]


def applications_of(party: Party) -> list[AccountApplication]:
    return list(
        db.session.scalars(
            select(AccountApplication)
            .where(AccountApplication.party_id == party.id)
            .options(selectinload(AccountApplication.contact))
            .order_by(AccountApplication.id.desc())
        )
    )
