"""A pooled PostgreSQL connection that the server dropped is replaced before a request
uses it (b2bshop/core/connections.py): no error page after a database restart."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import event

from b2bshop.extensions import db
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's connections only")


def _terminate_every_other_backend(app) -> int:
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # until they are gone
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.02)
    return len(pids)


def test_a_dropped_connection_is_replaced_without_a_round_trip(app, demo, client, login):
    login("buyer@contoso.example")
    assert client.get("/invoices").status_code == 200
    with app.app_context():
        engine = db.engine
    assert not engine.pool._pre_ping  # the check costs no SELECT 1
    assert _terminate_every_other_backend(app) >= 1
    replaced: list[object] = []

    def connected(dbapi_connection, record):  # type: ignore[no-untyped-def]
        replaced.append(dbapi_connection)

    event.listen(engine, "connect", connected)
    try:
        response = client.get("/invoices")
    finally:
        event.remove(engine, "connect", connected)
    assert response.status_code == 200
    assert "INV-" in response.get_data(as_text=True)
    assert replaced, "the dropped connection was used, not replaced"


def test_the_description_is_made_when_read_and_is_psycopgs(app, demo):
    from b2bshop.core.connections import OnDemandDescriptionCursor

    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        cursor = raw.cursor()
        assert isinstance(cursor, OnDemandDescriptionCursor)
        cursor.execute("SELECT 1 AS one, 'x'::text AS name, now() AS at")
        description = cursor.description
        assert len(description) == 3
        assert description._columns is None  # nothing made yet
        expected = psycopg.Cursor.description.fget(cursor)
        assert [tuple(c) for c in description] == [tuple(c) for c in expected]
        assert description[1].name == "name" and description[-1].type_code == expected[-1].type_code
        # A statement with no columns is psycopg's own answer.
        cursor.execute("SET LOCAL statement_timeout = 0")
        assert cursor.description is None
        cursor.close()
        db.session.rollback()


def test_a_description_read_after_the_next_query_is_refused(app, demo):
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        cursor = raw.cursor()
        cursor.execute("SELECT 1 AS one")
        stale = cursor.description
        cursor.execute("SELECT 2 AS two, 3 AS three")
        with pytest.raises(RuntimeError, match="another query"):
            stale[0]
        assert [c.name for c in cursor.description] == ["two", "three"]
        cursor.close()
        db.session.rollback()


def test_sqlalchemy_results_still_name_their_columns(app, demo):
    from sqlalchemy import text

    with app.app_context():
        # Text statements are not cached: SQLAlchemy reads every column's name.
        row = db.session.execute(text("SELECT 7 AS seven, 'a' AS letter")).mappings().one()
        assert row == {"seven": 7, "letter": "a"}
        db.session.rollback()
