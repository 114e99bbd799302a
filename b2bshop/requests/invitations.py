"""Invitations: a single-use, expiring link to set a first password."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import User
from b2bshop.accounts.service import hash_password
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.requests.models import Invitation

VALID_FOR = timedelta(days=7)
MIN_PASSWORD = 10


class InvitationInvalid(DomainError):
    status_code = 410


class PasswordRefused(DomainError):
    status_code = 422


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_for(invitation: Invitation) -> str:
    """Derived from the secret key, so a retried job mails the same link; only its hash is
    stored, so the database alone cannot be used to sign in."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"invitation:{invitation.id}".encode(), hashlib.sha256).hexdigest()


def create(user: User) -> tuple[Invitation, str]:
    invitation = Invitation(user=user, token_hash="pending", expires_at=datetime.now() + VALID_FOR)
    db.session.add(invitation)
    db.session.flush()
    token = token_for(invitation)
    invitation.token_hash = _hash(token)
    db.session.flush()
    return invitation, token


def find(token: str) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if invitation is None or invitation.used_at is not None or not invitation.user.active:
        raise InvitationInvalid(
            _l(
                "This invitation link is not valid any more. Ask your "
                "account administrator for a new one."
            )
        )
    if invitation.expires_at < datetime.now():
        raise InvitationInvalid(
            _l("This invitation link has expired. Ask your account administrator for a new one.")
        )
    return invitation


def accept(token: str, password: str, confirm: str) -> User:
    invitation = find(token)
    if len(password or "") < MIN_PASSWORD:
        raise PasswordRefused(_l("Choose a password of at least %(n)s characters.", n=MIN_PASSWORD))
    if password != confirm:
        raise PasswordRefused(_l("The two passwords differ."))
    invitation.user.password_hash = hash_password(password)
    invitation.used_at = datetime.now()
    db.session.flush()
    return invitation.user
