"""Campaigns (SPEC B2): a message per language to a target list frozen from a saved filter
over contacts, sent by RQ jobs in batches, with responses and statistics."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import User, enum_type
from b2bshop.extensions import db
from b2bshop.relationships.models import Contact, Party


class Channel(enum.StrEnum):
    EMAIL = "email"
    #: Mailing and telemarketing: the list is recorded; calls and responses are logged.
    MAILING = "mailing"
    TELEMARKETING = "telemarketing"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    PAUSED = "paused"
    #: Every recipient sent or failed (email), or the list recorded (mailing, calls).
    DONE = "done"


class RecipientState(enum.StrEnum):
    QUEUED = "queued"
    #: The intent is committed (with its Message-ID); the mail server has not accepted it
    #: yet, as far as the store knows.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    #: Mailing and telemarketing: on the list.
    LISTED = "listed"


class Response(enum.StrEnum):
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    BOUNCED = "bounced"


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_created", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "campaign_channel"))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT
    )
    #: The saved target filter (campaigns.targets.TargetFilter as JSON).
    target_filter: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    created_by: Mapped[User | None] = relationship()
    messages: Mapped[list[CampaignMessage]] = relationship(
        back_populates="campaign", order_by="CampaignMessage.language", cascade="all"
    )

    def message_for(self, language: str) -> CampaignMessage | None:
        """The message in `language`, else the English one, else the first written."""
        by_language = {m.language: m for m in self.messages if m.subject.strip()}
        return (
            by_language.get(language)
            or by_language.get("en")
            or next(iter(by_language.values()), None)
        )


class CampaignMessage(db.Model):
    __tablename__ = "campaign_messages"
    __table_args__ = (UniqueConstraint("campaign_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(200), default="")
    #: Markdown, rendered without raw HTML (campaigns.markdown).
    body: Mapped[str] = mapped_column(Text, default="")

    campaign: Mapped[Campaign] = relationship(back_populates="messages")


class CampaignRecipient(db.Model):
    """One contact on a campaign's frozen list, and the email's intent: committed in state
    "sending" with its Message-ID before the SMTP conversation, "sent" once the mail server
    accepted it (the invoice emails' rule, tasks/requests.py)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_campaign_recipients_state", "campaign_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    #: The party's kind when the list was frozen: "converted" counts those that became
    #: customers since.
    party_kind: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5))
    state: Mapped[RecipientState] = mapped_column(
        enum_type(RecipientState, "recipient_state"), default=RecipientState.QUEUED
    )
    message_id: Mapped[str | None] = mapped_column(String(200))
    #: SMTP conversations started for it (more than one after a worker died mid-send).
    sends: Mapped[int] = mapped_column(Integer, default=0)
    #: A job holds a "sending" recipient until then; after it, another job sends it again.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[Response | None] = mapped_column(enum_type(Response, "campaign_response"))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: A call or response note (telemarketing, mailing, or an admin's remark).
    note: Mapped[str] = mapped_column(Text, default="")
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime)

    campaign: Mapped[Campaign] = relationship()
    contact: Mapped[Contact] = relationship()
    party: Mapped[Party] = relationship()
