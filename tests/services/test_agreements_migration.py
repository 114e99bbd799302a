"""Migration 0016 goes up, down and up again on SQLite and PostgreSQL: its tables, columns
and number series appear, go, and come back (issue 19)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, inspect, make_url, text

from b2bshop.extensions import db, migrate
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, _drop_postgres_database

MY_TABLES = {
    "customer_groups",
    "customer_group_members",
    "trade_agreements",
    "sales_agreements",
    "sales_agreement_lines",
    "vendors",
    "purchase_orders",
    "purchase_order_lines",
    "receipts",
    "receipt_lines",
}


def _database(tmp_path: Path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'm16.db'}"
    base = make_url(TEST_DATABASE_URL)
    name = f"b2bshop_m16_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _columns(engine, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_migration_0016_up_down_up(tmp_path: Path) -> None:
    url = _database(tmp_path)
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parents[2] / "migrations"))
    from flask_migrate import downgrade, upgrade

    try:
        with app.app_context():
            upgrade(revision="0015")
            engine = db.engine
            assert not MY_TABLES & set(inspect(engine).get_table_names())
            upgrade(revision="0016")
            assert set(inspect(engine).get_table_names()) >= MY_TABLES
            assert {"price_source", "sales_agreement_line_id", "allocation_priority"} <= (
                _columns(engine, "sales_order_lines")
            )
            assert "requested_ship_date" in _columns(engine, "carts")
            with engine.connect() as conn:
                series = set(conn.execute(text("SELECT name FROM number_sequences")).scalars())
            assert {"sales_agreement", "purchase_order", "receipt", "vendor"} <= series
            downgrade(revision="0015")
            assert not MY_TABLES & set(inspect(engine).get_table_names())
            assert "price_source" not in _columns(engine, "sales_order_lines")
            assert "requested_ship_date" not in _columns(engine, "sales_orders")
            with engine.connect() as conn:
                series = set(conn.execute(text("SELECT name FROM number_sequences")).scalars())
            assert "sales_agreement" not in series
            upgrade(revision="0016")
            assert set(inspect(engine).get_table_names()) >= MY_TABLES
            db.engine.dispose()
    finally:
        if ON_POSTGRES:
            _drop_postgres_database(url)
