"""One unit of work: run a service, commit once, retry on deadlock or serialization failure.

Services flush and never commit (DESIGN.md); views, jobs and commands call `run()` at the
edge. PostgreSQL aborts one transaction of a deadlock (40P01) or a serialization conflict
(40001), and a connection can drop under a transaction; SQLite answers "database is locked"
when its busy timeout runs out. Each of these is worth a bounded retry of the whole unit,
from a clean session (a unit's writes are guarded or keyed, so a commit whose answer was
lost finds its own result the second time). Nothing that talks to the
outside world may run inside `work`: the card provider is called between two units, after
the first one committed the intent (payments/flows.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from flask import g, has_app_context
from sqlalchemy.exc import DBAPIError, OperationalError

from b2bshop.extensions import db

T = TypeVar("T")
log = logging.getLogger(__name__)

#: PostgreSQL SQLSTATEs that mean "try again": serialization_failure, deadlock_detected.
RETRYABLE_SQLSTATES = {"40001", "40P01"}
ATTEMPTS = 4


class Retries:
    """Counted for the soak test and the logs."""

    count = 0


def is_retryable(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True  # a dropped connection: the unit runs again on a fresh one
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in RETRYABLE_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def run(work: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run `work()` and commit; on a retryable conflict roll back and run it again."""
    for attempt in range(1, attempts + 1):
        if has_app_context():
            # SQLite: begin IMMEDIATE, as a writing request does (b2bshop/__init__.py).
            g.write_transaction = True
        try:
            result = work()
            db.session.commit()
            return result
        except Exception as error:
            lost = isinstance(error, DBAPIError) and error.connection_invalidated
            try:
                db.session.rollback()
            except DBAPIError:
                # Not even a rollback went through: the objects the unit was given belong to
                # a dead session, so the view runs again from scratch (core/db_resilience.py).
                db.session.remove()
                lost = True
            if lost and has_app_context():
                # The signed-in user is read again on its next use, on the new connection.
                g.pop("_login_user", None)
            if attempt == attempts or not is_retryable(error):
                raise
            Retries.count += 1
            log.warning("retrying a unit of work after %s (attempt %s)", error.orig, attempt)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")
