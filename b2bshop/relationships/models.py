"""Relationships (SPEC B1): parties that are leads, prospects or customers, their contacts,
follow-up tasks and account applications (partner sign-up)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, User, enum_type
from b2bshop.extensions import db

#: The languages of the store (contacts' emails and campaigns are written in them).
LANGUAGES = ("en", "fr", "nb", "nl")


class PartyKind(enum.StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Party(db.Model):
    """A company the store deals with: a lead (not qualified yet), a prospect (qualified)
    or a customer (converted: `customer_id` names its account)."""

    __tablename__ = "parties"
    __table_args__ = (
        Index("ix_parties_kind_name", "kind", "name", "id"),
        Index("ix_parties_vat_number", "vat_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PartyKind] = mapped_column(
        enum_type(PartyKind, "party_kind"), default=PartyKind.LEAD
    )
    name: Mapped[str] = mapped_column(String(200))
    #: ISO 3166-1 alpha-2, or "" when unknown.
    country_code: Mapped[str] = mapped_column(String(2), default="")
    #: VAT or registration number, compact (python-stdnum's form when the country is known).
    vat_number: Mapped[str] = mapped_column(String(40), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    #: Where it came from: "admin", "signup".
    source: Mapped[str] = mapped_column(String(20), default="admin")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The customer account it became; unique, so a party converts at most once.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    qualified_at: Mapped[datetime | None] = mapped_column(DateTime)
    converted_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="party", order_by="Contact.id", cascade="all, delete-orphan"
    )
    tasks: Mapped[list[FollowUpTask]] = relationship(
        back_populates="party", order_by="FollowUpTask.id", cascade="all, delete-orphan"
    )


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        # The campaign target count reads consenting, subscribed contacts by language.
        Index("ix_contacts_targetable", "marketing_consent", "language", "party_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: Their job or part: "Purchasing", "Accounts payable" ...
    role: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set by the unsubscribe link: no campaign includes the contact after it.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    party: Mapped[Party] = relationship(back_populates="contacts")


class FollowUpTask(db.Model):
    __tablename__ = "follow_up_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date | None] = mapped_column(Date)
    #: The campaign response that asked for it, if any (one task per response).
    campaign_recipient_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    party: Mapped[Party] = relationship(back_populates="tasks")


class AccountApplication(db.Model):
    """A partner sign-up: its B2B request (kind account_application, shown at
    /admin/requests) and the store admin's decision."""

    __tablename__ = "account_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("b2b_requests.id"), unique=True)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "application_status"), default=ApplicationStatus.PENDING
    )
    #: Applications sent again with the same VAT number or email, linked here instead.
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    party: Mapped[Party] = relationship()
    contact: Mapped[Contact] = relationship()
    decided_by: Mapped[User | None] = relationship()
