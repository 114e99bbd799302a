"""The buyer's invoice-list fragment, cached until something it shows changes.

A list is read far more often than its invoices change: every filter click, Back and page
turn renders it again. Rather than invalidate on every write path, the key names everything
the fragment shows, so a change makes a new key and old entries simply age out:

- the visible accounts' ids, names and invoice versions (`customers.invoices_version`, bumped
  by a trigger on every insert, update and delete of their invoices, migration 0008); they
  come loaded with the signed-in user, so a cache hit costs no query beyond that one;
- the user and whether they may pay (the row actions);
- the locale and today's date (overdue marks, cash discount offers);
- the raw query string (filter, sort and cursor).

The version is read before the invoices, so an entry never holds data older than its key.
The CSRF token, the only per-request part, is cached as a placeholder and filled in on the
way out. A cache backend that fails (Redis down) costs speed, never the page.

Entries hold the encoded body, and the token goes into the bytes: a page with a euro sign
is a two-byte-per-character string, and encoding, decoding and pickling its 50 KB as text
took a tenth of a first view's instructions, and part of every cached answer's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date

from babel import Locale
from flask import Response, make_response, request
from redis.exceptions import RedisError

from b2bshop.accounts.models import Customer, User
from b2bshop.core.csrf_token import csrf_token
from b2bshop.extensions import cache

log = logging.getLogger(__name__)

#: Rendered where the CSRF token goes; only letters, so HTML escaping leaves it intact.
CSRF_PLACEHOLDER = "b2bshopCsrfTokenPlaceholder"
_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()


def fragment_key(user: User, accounts: list[Customer], locale: Locale, today: date) -> str:
    parts = [str(user.id), "pay" if user.may_pay_invoices else "view", str(locale), str(today)]
    parts += [f"{a.id}:{a.invoices_version}:{a.name}" for a in accounts]
    material = "\x1f".join(parts).encode() + b"\x1e" + request.query_string
    # "v2": entries hold bytes (those of "invoice-list:" held text).
    return "invoice-list:v2:" + hashlib.blake2b(material, digest_size=16).hexdigest()


def cached_fragment(key: str, render: Callable[[], Response]) -> Response:
    """The fragment under `key`, rendered (with the CSRF placeholder) and stored on a miss.

    Only 200 answers are stored, with their HX-Push-Url (it depends on the query string).
    """
    entry = _get(key)
    if entry is None:
        response = render()
        if response.status_code != 200:
            return response
        entry = (response.get_data(), response.headers.get("HX-Push-Url"))
        _set(key, entry)
    body, push_url = entry
    response = make_response(body.replace(_PLACEHOLDER_BYTES, csrf_token().encode()))
    response.vary.add("HX-Request")
    if push_url:
        response.headers["HX-Push-Url"] = push_url
    return response


def _get(key: str) -> tuple[bytes, str | None] | None:
    try:
        return cache.get(key)
    except (RedisError, OSError):
        log.warning("invoice list cache unavailable; rendering", exc_info=True)
        return None


def _set(key: str, entry: tuple[bytes, str | None]) -> None:
    try:
        cache.set(key, entry)
    except (RedisError, OSError):
        log.warning("invoice list cache unavailable; not stored", exc_info=True)
