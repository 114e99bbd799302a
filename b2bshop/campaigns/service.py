"""Campaigns (SPEC B2): create, freeze the target list, send in batches (tasks/campaigns.py),
pause and resume, unsubscribe, responses and statistics.

Services take the acting user, flush and never commit. Status changes lock the campaign row
and re-read its status (409 when it moved). Sending follows the invoice emails' rule
(tasks/requests.py): each recipient's intent, with its Message-ID, is committed before the
SMTP conversation; a recipient is "sent" only once the mail server accepted it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, insert, literal, select, update

from b2bshop import jobs
from b2bshop.accounts.models import User
from b2bshop.audit import service as audit
from b2bshop.campaigns.models import (
    Campaign,
    CampaignMessage,
    CampaignRecipient,
    CampaignStatus,
    Channel,
    RecipientState,
    Response,
)
from b2bshop.campaigns.targets import TargetFilter, count_targets, targets
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.relationships import service as relationships
from b2bshop.relationships.models import LANGUAGES, Contact, FollowUpTask, Party, PartyKind

SEND_JOB = "tasks.campaigns.send_batch"


class CampaignInvalid(DomainError):
    status_code = 422


class CampaignConflict(DomainError):
    status_code = 409


@dataclass(frozen=True)
class CampaignInput:
    name: str
    channel: str
    target: TargetFilter
    #: language -> (subject, Markdown body)
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)


def _check(data: CampaignInput) -> None:
    if not data.name.strip():
        raise CampaignInvalid(_l("Give the campaign a name."))
    if data.channel not in {c.value for c in Channel}:
        raise CampaignInvalid(_l("Choose a channel."))
    if data.channel == Channel.EMAIL and not any(s.strip() for s, _b in data.messages.values()):
        raise CampaignInvalid(_l("Write the subject and text in at least one language."))
    for subject, body in data.messages.values():
        if bool(subject.strip()) != bool(body.strip()):
            raise CampaignInvalid(_l("Each language needs both a subject and a text, or neither."))


def save_campaign(acting_user: User, campaign: Campaign | None, data: CampaignInput) -> Campaign:
    _check(data)
    if campaign is None:
        campaign = Campaign(created_by=acting_user, status=CampaignStatus.DRAFT)
        db.session.add(campaign)
    else:
        campaign = lock(campaign.id)
        if campaign.status != CampaignStatus.DRAFT:
            raise CampaignConflict(_l("A campaign that has started cannot be changed."))
    campaign.name = data.name.strip()[:200]
    campaign.channel = Channel(data.channel)
    campaign.target_filter = data.target.to_json()
    existing = {m.language: m for m in campaign.messages}
    for language in LANGUAGES:
        subject, body = data.messages.get(language, ("", ""))
        message = existing.get(language)
        if message is None:
            message = CampaignMessage(language=language)
            campaign.messages.append(message)
        message.subject, message.body = subject.strip()[:200], body.strip()
    db.session.flush()
    audit.record(
        acting_user, "campaign.save", "campaign", campaign.id, after={"name": campaign.name}
    )
    return campaign


def lock(campaign_id: int) -> Campaign:
    """The campaign, its row locked and read again (populate_existing: the identity map
    would otherwise keep the status the view read before the lock)."""
    campaign = db.session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if campaign is None:
        raise NotFound(_l("There is no such campaign."))
    return campaign


def target_count(campaign: Campaign) -> int:
    return count_targets(TargetFilter.from_json(campaign.target_filter))


def start(acting_user: User, campaign_id: int) -> int:
    """Freeze the target list (one INSERT ... SELECT) and start sending in batches after
    the commit; a mailing or telemarketing list is recorded, for calls and responses.
    Returns the number of recipients."""
    campaign = lock(campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignConflict(_l("This campaign has already started."))
    email = campaign.channel == Channel.EMAIL
    chosen = targets(TargetFilter.from_json(campaign.target_filter)).subquery()
    state = RecipientState.QUEUED if email else RecipientState.LISTED
    db.session.execute(
        insert(CampaignRecipient).from_select(
            ["campaign_id", "contact_id", "party_id", "party_kind", "email", "language",
             "state", "sends", "note"],
            select(
                literal(campaign.id), chosen.c.id, chosen.c.party_id, chosen.c.kind,
                chosen.c.email, chosen.c.language, literal(state.value), literal(0), literal(""),
            ).order_by(chosen.c.id),
        )
    )  # fmt: skip
    count = db.session.scalar(
        select(func.count()).where(CampaignRecipient.campaign_id == campaign.id)
    )
    if not count:
        raise CampaignInvalid(_l("No contact matches the target filter: nothing to send."))
    campaign.started_at = datetime.now()
    if email:
        campaign.status = CampaignStatus.SENDING
        db.session.flush()
        enqueue_batches(campaign)
    else:
        campaign.status = CampaignStatus.DONE
        campaign.finished_at = datetime.now()
    db.session.flush()
    audit.record(
        acting_user, "campaign.start", "campaign", campaign.id, after={"recipients": count}
    )
    return count


def pause(acting_user: User, campaign_id: int) -> Campaign:
    campaign = lock(campaign_id)
    if campaign.status != CampaignStatus.SENDING:
        raise CampaignConflict(_l("Only a campaign that is sending can be paused."))
    campaign.status = CampaignStatus.PAUSED
    db.session.flush()
    audit.record(acting_user, "campaign.pause", "campaign", campaign.id)
    return campaign


def resume(acting_user: User, campaign_id: int) -> Campaign:
    campaign = lock(campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise CampaignConflict(_l("Only a paused campaign can be resumed."))
    campaign.status = CampaignStatus.SENDING
    db.session.flush()
    enqueue_batches(campaign)
    audit.record(acting_user, "campaign.resume", "campaign", campaign.id)
    return campaign


# --- Batches: fixed id ranges, so the sync job can tell which one has no live job ---


def batch_size() -> int:
    return int(current_app.config["CAMPAIGN_BATCH_SIZE"])


def lease_seconds() -> int:
    return int(current_app.config["CAMPAIGN_LEASE_SECONDS"])


def _base(campaign_id: int) -> int | None:
    return db.session.scalar(
        select(func.min(CampaignRecipient.id)).where(CampaignRecipient.campaign_id == campaign_id)
    )


def _expired(now: datetime):  # type: ignore[no-untyped-def]
    return (CampaignRecipient.state == RecipientState.SENDING) & (
        (CampaignRecipient.lease_expires_at.is_(None)) | (CampaignRecipient.lease_expires_at <= now)
    )


def unfinished_batches(
    campaign_id: int, now: datetime | None = None, *, stale_only: bool = False
) -> list[tuple[int, int]]:
    """(first id, last id) of each batch with a recipient to send: queued, or "sending"
    under an expired lease (its worker died); with stale_only, only the latter."""
    base = _base(campaign_id)
    if base is None:
        return []
    size = batch_size()
    now = now or datetime.now()
    todo = _expired(now)
    if not stale_only:
        todo = todo | (CampaignRecipient.state == RecipientState.QUEUED)
    rows = db.session.scalars(
        # Floor division: SQLAlchemy's "/" is true division.
        select((CampaignRecipient.id - base) // literal(size))
        .where(CampaignRecipient.campaign_id == campaign_id, todo)
        .distinct()
    ).all()
    return [(base + int(k) * size, base + (int(k) + 1) * size - 1) for k in sorted(rows)]


def batch_job_prefix(campaign_id: int, first_id: int) -> str:
    return f"campaign-{campaign_id}-{first_id}-"


def enqueue_batches(campaign: Campaign, live_job_ids: set[str] | None = None) -> int:
    """Queue a job for each unfinished batch that has none alive (after the commit). A
    batch with an expired lease is queued whatever RQ still lists: the lease outlasts the
    job timeout, so its job is dead (RQ's started registry keeps a killed worker's job a
    while longer)."""
    live_prefixes = {j.rsplit("-", 1)[0] + "-" for j in live_job_ids or ()}
    stale = {first for first, _last in unfinished_batches(campaign.id, stale_only=True)}
    queued = 0
    for first, last in unfinished_batches(campaign.id):
        prefix = batch_job_prefix(campaign.id, first)
        if prefix in live_prefixes and first not in stale:
            continue
        jobs.enqueue_after_commit(
            SEND_JOB,
            campaign.id,
            first,
            last,
            job_id=prefix + secrets.token_hex(3),
            job_timeout=current_app.config["CAMPAIGN_JOB_TIMEOUT"],
            retry=jobs.default_retry(),
        )
        queued += 1
    return queued


def claim(campaign_id: int, first_id: int, last_id: int, limit: int) -> list[CampaignRecipient]:
    """The next recipients of a batch, taken under a lease: "sending", a Message-ID, one
    more SMTP conversation counted. The caller commits (the intent) before sending."""
    now = datetime.now()
    rows = list(
        db.session.scalars(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.id.between(first_id, last_id),
                (CampaignRecipient.state == RecipientState.QUEUED)
                | (
                    (CampaignRecipient.state == RecipientState.SENDING)
                    & (
                        CampaignRecipient.lease_expires_at.is_(None)
                        | (CampaignRecipient.lease_expires_at <= now)
                    )
                ),
            )
            .order_by(CampaignRecipient.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN", "b2bshop.local")
    lease = now + timedelta(seconds=lease_seconds())
    for row in rows:
        row.state = RecipientState.SENDING
        row.lease_expires_at = lease
        row.sends += 1
        # The same Message-ID on every attempt: a rare second email is the same message.
        row.message_id = row.message_id or make_msgid("campaign", domain)
    db.session.flush()
    return rows


def mark_sent(recipient_id: int) -> None:
    db.session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.id == recipient_id, CampaignRecipient.state == RecipientState.SENDING
        )
        .values(
            state=RecipientState.SENT,
            sent_at=datetime.now(),
            lease_expires_at=None,
            last_error=None,
        )
    )


def mark_refused(recipient_id: int, error: str, max_sends: int) -> None:
    """The mail server refused or the send failed: queued again for a later job, or failed
    after `max_sends` conversations."""
    recipient = db.session.get(CampaignRecipient, recipient_id)
    if recipient is None or recipient.state != RecipientState.SENDING:
        return
    recipient.last_error = error[:2000]
    recipient.lease_expires_at = None
    recipient.state = (
        RecipientState.FAILED if recipient.sends >= max_sends else RecipientState.QUEUED
    )
    db.session.flush()


def finish_if_done(campaign_id: int) -> bool:
    """Sending -> done once no recipient is queued or sending (guarded UPDATE)."""
    remaining = (
        select(CampaignRecipient.id)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.state.in_((RecipientState.QUEUED, RecipientState.SENDING)),
        )
        .exists()
    )
    result = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING, ~remaining)
        .values(status=CampaignStatus.DONE, finished_at=datetime.now())
    )
    return bool(result.rowcount)


# --- Progress and statistics ---


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    remaining: int

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        done = self.sent + self.failed
        # 100 only when all are done: a rounded 99.6 % is not finished.
        return 100 if done == self.total else min(99, done * 100 // self.total)


def progress(campaign_id: int) -> Progress:
    counts = dict(
        db.session.execute(
            select(CampaignRecipient.state, func.count())
            .where(CampaignRecipient.campaign_id == campaign_id)
            .group_by(CampaignRecipient.state)
        ).all()
    )
    sent = counts.get(RecipientState.SENT, 0)
    failed = counts.get(RecipientState.FAILED, 0)
    total = sum(counts.values())
    listed = counts.get(RecipientState.LISTED, 0)
    return Progress(
        total=total, sent=sent + listed, failed=failed, remaining=total - sent - failed - listed
    )


@dataclass(frozen=True)
class Statistics:
    recipients: int
    sent: int
    delivered: int
    unsubscribed: int
    responded: int
    interested: int
    converted: int


def statistics(campaign_id: int) -> Statistics:
    """One query: sent (accepted by the mail server, or on a mailing/call list), delivered
    (sent and not bounced), unsubscribed (through this campaign's link), responded
    (interested or not), converted (leads and prospects then, customers now)."""
    r = CampaignRecipient
    sent = r.state.in_((RecipientState.SENT, RecipientState.LISTED))

    def total(condition):  # type: ignore[no-untyped-def]
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(r.id),
            total(sent),
            total(sent & ((r.response.is_(None)) | (r.response != Response.BOUNCED))),
            total(r.unsubscribed_at.is_not(None)),
            total(r.response.in_((Response.INTERESTED, Response.NOT_INTERESTED))),
            total(r.response == Response.INTERESTED),
            func.count(
                func.distinct(
                    case(
                        (
                            (r.party_kind != PartyKind.CUSTOMER.value)
                            & (Party.kind == PartyKind.CUSTOMER),
                            r.party_id,
                        )
                    )
                )
            ),
        )
        .join(Party, Party.id == r.party_id)
        .where(r.campaign_id == campaign_id)
    ).one()
    return Statistics(*(int(v or 0) for v in row))


# --- Unsubscribe and responses (signed links, or a store admin) ---


def recipient(recipient_id: int) -> CampaignRecipient:
    row = db.session.get(CampaignRecipient, recipient_id)
    if row is None:
        raise NotFound(_l("This link is not valid."))
    return row


def unsubscribe(recipient_id: int) -> CampaignRecipient:
    """The contact gets no campaign from now on; a second click changes nothing."""
    row = db.session.scalar(
        select(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(_l("This link is not valid."))
    contact = db.session.scalar(
        select(Contact)
        .where(Contact.id == row.contact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    now = datetime.now()
    if row.unsubscribed_at is None and contact.unsubscribed_at is None:
        row.unsubscribed_at = now
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = now
        audit.record(
            None, "contact.unsubscribe", "party", contact.party_id, after={"contact": contact.email}
        )
    db.session.flush()
    return row


def respond(
    acting_user: User | None, recipient_id: int, response: str, note: str = ""
) -> CampaignRecipient:
    """Record a response. From the email's link the first one stands (a second click
    changes nothing); a store admin may correct it. "Interested" opens a draft quotation
    for a customer, and a follow-up task for a lead or prospect, once."""
    if response not in {r.value for r in Response}:
        raise CampaignInvalid(_l("Choose a response."))
    row = db.session.scalar(
        select(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(_l("This link is not valid."))
    if row.response is not None and acting_user is None:
        return row
    before = row.response
    row.response = Response(response)
    row.responded_at = datetime.now()
    if note:
        row.note = note.strip()[:2000]
    db.session.flush()
    if row.response == Response.INTERESTED and before != Response.INTERESTED:
        _follow_up(acting_user, row)
    audit.record(
        acting_user,
        "campaign.response",
        "campaign",
        row.campaign_id,
        {"response": before.value if before else None},
        {"response": response, "contact": row.email},
    )
    return row


def _follow_up(acting_user: User | None, row: CampaignRecipient) -> None:
    party = db.session.get(Party, row.party_id)
    campaign = db.session.get(Campaign, row.campaign_id)
    actor = acting_user or campaign.created_by
    if party.kind == PartyKind.CUSTOMER and party.customer is not None and actor is not None:
        try:
            from b2bshop.quotations.service import create_draft
        except ImportError:  # the quotations issue is not there: a task instead
            create_draft = None
        if create_draft is not None:
            create_draft(
                actor,
                party.customer,
                note=str(
                    _l(
                        "Interested in campaign %(name)s (%(email)s).",
                        name=campaign.name,
                        email=row.email,
                    )
                ),
            )
            return
    exists = db.session.scalar(
        select(func.count()).where(FollowUpTask.campaign_recipient_id == row.id)
    )
    if not exists:
        relationships.add_task(
            actor,
            party,
            str(
                _l(
                    "Call %(email)s: interested in campaign %(name)s.",
                    email=row.email,
                    name=campaign.name,
                )
            ),
            campaign_recipient_id=row.id,
        )
