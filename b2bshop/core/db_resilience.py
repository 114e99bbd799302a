"""A dropped database connection costs a retry, never a 500.

PostgreSQL drops connections: a restart, a failover, pg_terminate_backend, an idle timeout.
The pool's check on checkout (core/connections.py) catches a connection that died while it
sat in the pool. One that dies while a request uses it raises a DBAPIError that SQLAlchemy
marks `connection_invalidated`. Such an error is not the request's fault, so the view runs
again on a fresh connection (at most ATTEMPTS times). Re-running a view is safe here:
every write is a guarded transition or carries an idempotency key (a payment, an order, a
confirm or a reversal found done answers with that, or with a 409), and a cart line's
amount or quantity is set, not added, except one item added twice in the rare case that
the connection died during the commit itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, g
from sqlalchemy.exc import DBAPIError

from b2bshop.extensions import db

log = logging.getLogger(__name__)
ATTEMPTS = 3


def is_disconnect(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def forget_session() -> None:
    """Drop the session and what the request cached from it (the signed-in user)."""
    with contextlib.suppress(DBAPIError):  # the connection is gone, invalidated by the pool
        db.session.rollback()
    db.session.remove()
    g.pop("_login_user", None)
    g.pop("cart_count", None)


def _retrying(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return view(*args, **kwargs)
            except DBAPIError as error:
                if attempt == ATTEMPTS or not is_disconnect(error):
                    raise
                log.warning("database connection lost; running the view again (%s)", attempt)
                forget_session()
        raise AssertionError("unreachable")

    return wrapper


def register(app: Flask) -> None:
    """Wrap every view (after all blueprints are registered), and make the session's
    teardown survive a connection that died after the view had finished with it."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = _retrying(view)

    def teardown(exc: BaseException | None) -> None:
        try:
            db.session.remove()
        except DBAPIError as error:
            # The response is already made; the rollback of a dead connection changes
            # nothing, so it must not turn that response into an error.
            log.warning("closing a session on a lost connection: %s", error.orig)

    funcs = app.teardown_appcontext_funcs
    for i, func in enumerate(funcs):
        if getattr(func, "__name__", "") == "_teardown_session":
            funcs[i] = teardown
