"""B2B requests (SPEC A8, A9): what a buyer asked for, and how far the jobs have got."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, User, enum_type
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db


class RequestKind(enum.StrEnum):
    INVOICE_COPY = "invoice_copy"
    #: A buyer admin's requests about the users of their customer account.
    ADD_USER = "add_user"
    CHANGE_USER = "change_user"
    REMOVE_USER = "remove_user"
    #: A partner sign-up (/signup): no customer or requester yet; a store admin decides
    #: (relationships/service.py), no job carries it out.
    ACCOUNT_APPLICATION = "account_application"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class B2BRequest(db.Model):
    __tablename__ = "b2b_requests"
    __table_args__ = (
        Index("ix_b2b_requests_customer_created", "customer_id", "created_at"),
        Index("ix_b2b_requests_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RequestKind] = mapped_column(enum_type(RequestKind, "request_kind"))
    status: Mapped[RequestStatus] = mapped_column(
        enum_type(RequestStatus, "request_status"),
        default=RequestStatus.PENDING,
    )
    #: None for an account application (migration 0015).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    #: The registered address when the request was made: the email goes there even if the
    #: user changes it later.
    email: Mapped[str] = mapped_column(String(254))
    #: The requester's language then, for the email.
    locale: Mapped[str] = mapped_column(String(5), default="en")
    payload: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Kept for store admins when a job fails.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The RQ job working on it; the sync job re-enqueues pending requests whose job is gone.
    job_id: Mapped[str | None] = mapped_column(String(64))
    #: Set when a job takes the request (processing): no other job takes it before then, and
    #: the sync job puts a request still processing after it back to pending (its worker
    #: died). The job timeout plus a margin, so a live job never outlasts its lease.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer | None] = relationship()
    requester: Mapped[User | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()

    @property
    def sending(self) -> bool:
        """An invoice copy the mail server has not accepted yet (pending, processing, or
        waiting for a retry): buyers see "Sending", never "Completed" before."""
        return self.kind == RequestKind.INVOICE_COPY and self.status in (
            RequestStatus.PENDING,
            RequestStatus.PROCESSING,
        )


class SentEmail(db.Model):
    """The intent to send one email, under a unique key (see tasks/requests.py).

    Committed in state "sending", with its Message-ID, before the first SMTP conversation;
    "sent" once the mail server accepted the message (its reply to DATA). A retry of a
    "sending" email sends it again with the same Message-ID: at least once, never lost.
    """

    __tablename__ = "sent_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    #: "sending" until the mail server accepted the message, then "sent".
    state: Mapped[str] = mapped_column(String(10))
    message_id: Mapped[str] = mapped_column(String(200))
    #: SMTP conversations started for it; more than one after a refusal, a timeout or a
    #: worker that died (the same Message-ID each time).
    sends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    #: When the mail server accepted it.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class Invitation(db.Model):
    """A single-use, expiring link for a new user to set a password. Only a hash of the
    token is stored: the link itself exists only in the email."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
