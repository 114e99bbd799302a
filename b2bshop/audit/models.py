"""One row per money-moving or permission-changing action (issue 6.9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import User
from b2bshop.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now(), index=True)
    #: None for the system (a job, the command line).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: What was done, e.g. "payment.reverse" (the audit page translates it).
    action: Mapped[str] = mapped_column(String(50))
    #: What it was done to: "payment", "user", "customer", ... and its id or number.
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()
