"""Fixtures (flaskr style): `app`, `client`, `login`, a clean database for every test.

The database is SQLite in a temporary file by default, or PostgreSQL when
TEST_DATABASE_URL is set (make test runs both). Either way it is built by the real
migrations, so a test run also proves they work.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from b2bshop import create_app, jobs
from b2bshop.extensions import cache, db, limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def _fresh_postgres_database(url: str) -> str:
    """A database of our own beside the given one, dropped and created anew each run."""
    base = make_url(url)
    name = f"b2bshop_test_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def base_config(tmp: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "QUEUE_EMBEDDED_WORKER": False,
        "REDIS_URL": "",
        "MAIL_BACKEND": "locmem",
        "MAIL_FILE_PATH": str(tmp / "mail"),
        "SERVER_NAME": None,
        # Argon2 at its default cost takes 0.2 s a hash; tests hash many passwords.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if ON_POSTGRES:
        url = _fresh_postgres_database(TEST_DATABASE_URL)
        yield url
        _drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def make_app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Flask]]:
    """Build another app on the same test database, with some settings changed."""
    tmp = tmp_path_factory.mktemp("app")
    made: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        config = base_config(tmp, database_url)
        config.update(overrides)
        made.append(create_app(config))
        return made[-1]

    factory.made = made  # type: ignore[attr-defined]
    yield factory
    for application in made:
        jobs.stop_embedded_worker(application)
        with application.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def app(make_app: Callable[..., Flask]) -> Flask:
    from flask_migrate import upgrade

    application = make_app()
    with application.app_context():
        upgrade()
    return application


def _truncate_all() -> None:
    # invoice_totals last: deleting invoices fires the triggers that write to it.
    # Ledger accounts are reference data the migration loads: kept, like the schema.
    kept = {"invoice_totals", "ledger_accounts"}
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in kept]
    tables.append(db.metadata.tables["invoice_totals"])
    if ON_POSTGRES:
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(delete(table))
    # Number sequences went with their entities; next_number creates each on first use.
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_database(app: Flask, make_app: Callable[..., Flask]) -> Iterator[None]:
    """Every test starts from empty tables (and fresh number sequences)."""
    yield
    with app.app_context():
        db.session.remove()
        _truncate_all()
        db.session.remove()
    # Truncation restarts ids and invoice versions: a cached fragment could match again, and
    # the entity switcher's directory is cached too, in every app on this database (the
    # browser tests' servers as well). The entities' ids restart the same, so the ids each
    # process keeps stay right. An app a test pointed at a cache that is down (the outage
    # tests) has nothing to forget, and must not fail the tests after it.
    for application in make_app.made:  # type: ignore[attr-defined]
        with application.app_context(), contextlib.suppress(Exception):
            cache.clear()
    # The limiter is one object for every app a test made: a test that turned it on (and
    # filled its counters) must not leave it on for the tests after it.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    with contextlib.suppress(Exception):
        limiter.reset()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo(app: Flask) -> None:
    """The demo data set (DESIGN.md's accounts and invoices)."""
    from b2bshop import demo as demo_data

    with app.app_context():
        demo_data.load()
        db.session.commit()
        db.session.remove()


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., FlaskClient]:
    def do_login(email: str, password: str = "demo", c: FlaskClient | None = None) -> FlaskClient:
        c = c or client
        response = c.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return do_login


CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def outbox(app) -> list:
    """What the test app's locmem mail backend has sent (emptied for each test)."""
    state = app.extensions["mailman"]
    state.outbox = []
    return state.outbox
