"""PostgreSQL connections are checked before use without a round trip.

SQLAlchemy's pool_pre_ping sends a SELECT 1 whenever a request takes a connection from the
pool: a round trip per request, a tenth of what a cached invoice list costs. A connection
that PostgreSQL has dropped (a restart, pg_terminate_backend, an idle timeout, a crash) has
something to read while it sits in the pool: the server's farewell message, or the end of
the stream. So a pooled connection with anything to read is thrown away, and SQLAlchemy's
pool opens a fresh one for the request (DisconnectionError in a checkout listener). A
connection dropped silently by the network in between is not seen; the next query fails and
SQLAlchemy invalidates the pool, as it would after any disconnect.
"""

from __future__ import annotations

import select
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from b2bshop.extensions import db


def register(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return  # SQLite: a file, nothing to drop the connection

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise DisconnectionError("connection closed")
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
        if readable:
            raise DisconnectionError("the server closed the connection, or sent unasked")
