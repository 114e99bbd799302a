"""Migration 0018 (legal entities own their records; intercompany tables) goes up, down and
up again with data in its tables, on SQLite and PostgreSQL: every owned row lands in its
customer's entity or the default one, number sequences become per entity, and the invoice
triggers (migrations 0003 and 0008) still fire after SQLite's table copies."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from b2bshop.extensions import db, migrate
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

OWNED = ("products", "vendors", "purchase_orders", "sales_orders", "invoices", "payments")


def _database(tmp_path: Path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'm18.db'}"
    base = make_url(TEST_DATABASE_URL)
    name = f"b2bshop_m18_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _invoice(conn, ident: int, customer: int, total: str) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO invoices (id, number, customer_id, kind, document_type, invoice_date,"
            " due_date, currency, subtotal, tax, total, amount_paid, amount_reserved, status,"
            " cash_discount_amount)"
            " VALUES (:i, :n, :c, 'customer', 'invoice', '2026-11-01', '2026-12-01', 'EUR',"
            " :t, 0, :t, 0, 0, 'unpaid', 0)"
        ),
        {"i": ident, "n": f"INV-{ident:06d}", "c": customer, "t": total},
    )


def _totals(conn, customer: int) -> Decimal:  # type: ignore[no-untyped-def]
    return Decimal(
        str(
            conn.execute(
                text("SELECT SUM(total) FROM invoice_totals WHERE customer_id = :c"),
                {"c": customer},
            ).scalar()
        )
    )


def test_0018_up_down_up_with_data(tmp_path):
    url = _database(tmp_path)
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parents[2] / "migrations"))
    from flask_migrate import downgrade, upgrade

    engine = create_engine(url)
    with app.app_context():
        upgrade(revision="0017")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO legal_entities (id, code, name, currency, address, vat_number)"
                    " VALUES (1, 'NL', 'b2bshop NL', 'EUR', '', ''),"
                    " (2, 'NO', 'b2bshop NO', 'NOK', '', '')"
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
                    " VALUES (1, 1, 'C-1', 'C', 'a@b.example', 'EUR', 1, 0, true),"
                    " (2, 2, 'C-2', 'D', 'd@b.example', 'EUR', 1, 0, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO products (id, sku, name, description, price, currency,"
                    " tax_rate, stock_on_hand, active, category)"
                    " VALUES (1, 'A', 'A', '', 1, 'EUR', 0, 1, true, '')"
                )
            )
            _invoice(conn, 1, 1, "10.00")
            _invoice(conn, 2, 2, "20.00")
            conn.execute(text("UPDATE number_sequences SET next_value = 3 WHERE name = 'invoice'"))
        upgrade(revision="0018")
        inspector = inspect(engine)
        for table in OWNED:
            column = next(c for c in inspector.get_columns(table) if c["name"] == "legal_entity_id")
            assert column["nullable"] is False, table
        with engine.begin() as conn:
            owners = conn.execute(
                text("SELECT number, legal_entity_id FROM invoices ORDER BY id")
            ).all()
            assert owners == [("INV-000001", 1), ("INV-000002", 2)]  # their customer's entity
            assert conn.execute(text("SELECT legal_entity_id FROM products")).scalar() == 1
            assert conn.execute(
                text(
                    "SELECT legal_entity_id, name, prefix, next_value FROM number_sequences"
                    " WHERE name = 'invoice' OR legal_entity_id <> 1"
                )
            ).all() == [(1, "invoice", "INV-", 3)]
            # The triggers survived the table copy: a new invoice counts in the totals.
            before = _totals(conn, 1)
            conn.execute(
                text(
                    "INSERT INTO invoices (id, number, customer_id, legal_entity_id, kind,"
                    " document_type, invoice_date, due_date, currency, subtotal, tax, total,"
                    " amount_paid, amount_reserved, status, cash_discount_amount)"
                    " VALUES (3, 'INV-000003', 1, 1,"
                    " 'customer', 'invoice', '2026-11-02', '2026-12-02', 'EUR', 5, 0, 5, 0, 0,"
                    " 'unpaid', 0)"
                )
            )
            assert (before, _totals(conn, 1)) == (Decimal(10), Decimal(15))
            # The same SKU in another entity's catalog.
            conn.execute(
                text(
                    "INSERT INTO products (id, sku, name, description, price, currency, tax_rate,"
                    " stock_on_hand, active, category, legal_entity_id)"
                    " VALUES (2, 'B', 'B', '', 1, 'EUR', 0, 1, true, '', 2)"
                )
            )
            conn.execute(text("DELETE FROM products WHERE sku = 'B'"))
        downgrade(revision="0017")
        inspector = inspect(engine)
        for table in OWNED:
            assert "legal_entity_id" not in {c["name"] for c in inspector.get_columns(table)}
        assert "payment_journals" not in set(inspector.get_table_names())
        with engine.begin() as conn:
            assert conn.execute(
                text("SELECT name, next_value FROM number_sequences WHERE name = 'invoice'")
            ).all() == [("invoice", 3)]
            _invoice(conn, 4, 2, "1.00")
            assert _totals(conn, 2) == Decimal(21)  # the triggers, again
        upgrade(revision="0018")
        assert "payment_journals" in set(inspect(engine).get_table_names())
        db.engine.dispose()
    engine.dispose()
    if ON_POSTGRES:
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()
