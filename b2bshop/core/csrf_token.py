"""The signed CSRF token of a page, signed once a minute per session rather than on every page.

Flask-WTF signs the session's token again for each request that renders a form (a JSON dump,
base64 and two HMACs): every buyer page does, for its forms and the HTMX header. The token
it signed for this session's token within the last minute is as good: it verifies the same
way, and expires at most a minute before a new one would (WTF_CSRF_TIME_LIMIT is hours).
"""

from __future__ import annotations

import time

from flask import current_app, g, session
from flask_wtf.csrf import generate_csrf

#: How long a signed token is handed out again, in seconds.
REUSE_SECONDS = 60
#: Session tokens remembered per process; the oldest is forgotten first.
REMEMBERED = 2048

_signed: dict[tuple, tuple[str, float]] = {}


def csrf_token() -> str:
    """generate_csrf(), for templates and views: the same token for the whole request."""
    field = current_app.config["WTF_CSRF_FIELD_NAME"]
    token = g.get(field)
    if token is not None:
        return token
    secret = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    raw = session.get(field)
    if raw is not None:
        known = _signed.get((secret, raw))
        if known is not None and 0 <= time.time() - known[1] < REUSE_SECONDS:
            setattr(g, field, known[0])  # where generate_csrf (and FlaskForm) look first
            return known[0]
    token = generate_csrf()
    if len(_signed) >= REMEMBERED:
        _signed.pop(next(iter(_signed)), None)
    _signed[(secret, session[field])] = (token, time.time())
    return token
