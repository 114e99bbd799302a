"""The rate limiter's per-request check runs for writes only.

Every limit in the store is a decorated POST limit (sign-in, sign-up), and Flask-Limiter
checks those in the decorator itself. Its before-request hook checks the other kinds
(default, application and blueprint limits), of which the store has none, yet on every
request it resolved the endpoint's limits: a tenth of a millisecond on each read, the
invoice list's included. So that hook now runs for the other methods only.
tests/web/test_security.py holds the premise: no limit of those kinds is configured.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

from b2bshop.extensions import limiter

#: Methods that change nothing: no limit of the store applies to them.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def register(app: Flask) -> None:
    funcs = app.before_request_funcs.get(None, [])
    for i, func in enumerate(funcs):
        if func == limiter._check_request_limit:
            funcs[i] = _on_writes(func)


def _on_writes(check: Callable[[], None]) -> Callable[[], None]:
    def check_writes() -> None:
        if request.method not in READ_METHODS:
            check()

    return check_writes
