"""Sign-in sessions kept on the server, so signing out really ends one.

The session cookie (and the remember-me cookie) carries only a random key. A key names a
row here; signing out revokes that row, so a copied cookie replayed afterwards finds no
session. Each row also remembers the user's session_token of its day: rotating that token
(sign out everywhere, a password change, a removed user) ends all the user's sessions at
once, without touching the rows.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, update
from sqlalchemy.orm import Mapped, mapped_column

from b2bshop.accounts.models import User
from b2bshop.extensions import db


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class UserSession(db.Model):
    __tablename__ = "user_sessions"

    #: The random key the cookies carry.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The user's session_token when the session began: rotating it ends this session.
    user_token: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    #: Set by signing out; a revoked key opens nothing.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


def start(user: User) -> str:
    """A new session for a sign-in; its key goes into the cookies (User.get_id)."""
    key = secrets.token_urlsafe(32)
    db.session.add(UserSession(id=key, user_id=user.id, user_token=user.session_token))
    user.signed_in_with = key
    db.session.flush()
    return key


def end(key: str | None) -> None:
    """Sign-out: this session only."""
    if key:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == key, UserSession.revoked_at.is_(None))
            .values(revoked_at=_now())
        )


def end_all(user: User) -> None:
    """Sign out everywhere: every session of the user, this one included."""
    import uuid

    user.session_token = str(uuid.uuid4())
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
