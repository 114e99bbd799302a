"""Flask's signed cookie session, with each cookie value verified once per process.

A signed-in buyer sends the same session cookie with every request until the session changes.
Checking its signature (two HMACs) and decoding it (base64, zlib, tagged JSON) on every
request cost about a twentieth of a signed-in page. A value that verified is remembered with
what it holds and when it was signed: the same bytes verify the same way, and its age is
checked against the session lifetime again on every request, as itsdangerous does. Only
sessions of plain values are remembered (the requests' sessions copy the dict, not what it
holds: a list such as the flashed messages could be changed in place).
"""

from __future__ import annotations

import time

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

#: Values a remembered session may hold: none can be changed in place.
PLAIN = (str, int, float, bool, type(None))
#: Cookie values remembered per process; the oldest is forgotten first.
REMEMBERED = 2048


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}
        self._verified: dict[str, tuple[dict, float]] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # One per key set, not one per request (save_session signs with it too).
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(key)
        if serializer is None and app.secret_key:
            serializer = self._serializers[key] = super().get_signing_serializer(app)  # type: ignore[assignment]
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = self._verified.get(value)
        if known is not None:
            data, signed_at = known
            if 0 <= time.time() - signed_at <= max_age:
                return self.session_class(data)
            self._verified.pop(value, None)
        serializer = self.get_signing_serializer(app)
        assert serializer is not None  # a secret key is set
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(isinstance(v, PLAIN) for v in data.values()):
            if len(self._verified) >= REMEMBERED:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[value] = (data, signed.timestamp())
        return self.session_class(data)
