"""The rate limiter checks its limits in their decorators only.

Every limit in the store is a decorated one (sign-in, sign-up), and Flask-Limiter checks
those in the decorator itself. Its before-request hook checks the other kinds (default,
application and blueprint limits), of which the store has none, yet on every request it
resolved the endpoint's limits to find that out: a tenth of a millisecond on each request,
the invoice list's and adding to the cart included. So the hook is removed.
tests/web/test_security.py holds the premise: no limit of those kinds is configured.
"""

from __future__ import annotations

from flask import Flask

from b2bshop.extensions import limiter


def register(app: Flask) -> None:
    funcs = app.before_request_funcs.get(None, [])
    funcs[:] = [func for func in funcs if func != limiter._check_request_limit]
