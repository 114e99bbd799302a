"""Idempotency keys, as Stripe uses them: a key belongs to the user who sent it, and it
stands for one request. The same key again with the same request gets the first result;
with another request it is refused (409), never answered with the first one's receipt."""

from __future__ import annotations

import hashlib


def fingerprint(*parts: object) -> str:
    """A digest of what a submit asked for, stored beside its idempotency key."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()
