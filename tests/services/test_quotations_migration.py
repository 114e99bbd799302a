"""Migration 0014 (quotations, suggestion rules, products.category) goes up and down on
the database under test (SQLite by default, PostgreSQL with TEST_DATABASE_URL), with data
in its tables, and up again."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from b2bshop.extensions import db, migrate
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL


def _database(tmp_path: Path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'm14.db'}"
    base = make_url(TEST_DATABASE_URL)
    name = f"b2bshop_m14_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def test_0014_up_down_up_with_data(tmp_path):
    url = _database(tmp_path)
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parents[2] / "migrations"))
    from flask_migrate import downgrade, upgrade

    engine = create_engine(url)
    with app.app_context():
        upgrade(revision="0014")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO legal_entities (id, code, name, currency, address, vat_number)"
                    " VALUES (1, 'B2B', 'Seller', 'EUR', '', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO payment_terms (id, code, name, net_days, cash_discount_percent,"
                    " cash_discount_days, active) VALUES (1, 'N30', 'Net 30', 30, 0, 0, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO customers (id, legal_entity_id, number, name, email, currency,"
                    " payment_terms_id, credit_limit, active)"
                    " VALUES (1, 1, 'C-1', 'C', 'a@b.example', 'EUR', 1, 0, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO products (id, sku, name, description, price, currency,"
                    " tax_rate, stock_on_hand, active, category)"
                    " VALUES (1, 'A', 'A', '', 1, 'EUR', 0, 1, true, 'paper'),"
                    " (2, 'B', 'B', '', 2, 'EUR', 0, 1, true, '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO quotations (id, number, customer_id, status, currency, total,"
                    " note, request_note) VALUES (1, 'QU-000001', 1, 'draft', 'EUR', 0, '', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO quotation_lines (quotation_id, line_no, product_id, quantity)"
                    " VALUES (1, 1, 1, 3)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO quotation_emails (quotation_id, kind, state, attempts)"
                    " VALUES (1, 'sent', 'pending', 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO suggestion_rules (kind, product_id, category,"
                    " suggested_product_id, priority, note, active)"
                    " VALUES ('upsell', NULL, 'paper', 2, 1, '', true)"
                )
            )
            sequence = conn.execute(
                text("SELECT prefix FROM number_sequences WHERE name = 'quotation'")
            ).scalar()
        assert sequence == "QU-"
        downgrade(revision="0013")
        tables = set(inspect(engine).get_table_names())
        assert (
            not {"quotations", "quotation_lines", "quotation_emails", "suggestion_rules"} & tables
        )
        assert "category" not in {c["name"] for c in inspect(engine).get_columns("products")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM products")).scalar() == 2
            assert (
                conn.execute(
                    text("SELECT count(*) FROM number_sequences WHERE name = 'quotation'")
                ).scalar()
                == 0
            )
        upgrade(revision="0014")
        assert "quotations" in set(inspect(engine).get_table_names())
        db.engine.dispose()
    engine.dispose()
    if ON_POSTGRES:
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()
