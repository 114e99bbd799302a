"""Signed links of campaign emails: unsubscribe and respond, without signing in."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "campaign-recipient"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(recipient_id: int) -> str:
    """Names one recipient row (its campaign and contact); no expiry: an unsubscribe link
    must work whenever it is clicked."""
    return _serializer().dumps(recipient_id)


def recipient_id_from(token: str) -> int | None:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and 0 < value < 2**31 else None
