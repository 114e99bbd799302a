"""Views that never write run their statements in autocommit on PostgreSQL.

A transaction costs two round trips to PostgreSQL that a read does not need: psycopg sends
BEGIN on its own before the first statement, and the pool sends ROLLBACK when the request
ends. For a view that only reads they change nothing: under READ COMMITTED every statement
takes its own snapshot anyway, so the view reads exactly what it read before. The invoice
list answered from its cache makes one query; without the transaction it makes one round
trip instead of three. Writing views keep their one transaction and one commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, request

from b2bshop.extensions import db

View = TypeVar("View", bound=Callable[..., Any])


def read_only(view: View) -> View:
    """Mark a view that never writes (tests/web/test_read_only.py holds every one to it)."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def is_read_only(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, "read_only", False))


def register(app: Flask) -> None:
    with app.app_context():
        on_postgres = db.engine.dialect.name == "postgresql"
    if not on_postgres:
        return  # SQLite: no round trips to save; its reads begin DEFERRED and never wait

    @app.before_request
    def _autocommit_for_reads() -> None:
        if is_read_only(app, request.endpoint):
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
