"""`flask --app wsgi bench-data`: a large, reproducible data set for benchmarks.

Rows are generated from a seeded RNG and written in bulk: COPY on PostgreSQL, executemany
on SQLite. Ids are assigned here (the tables must be empty), so invoices, lines, payments
and allocations can refer to each other without reading anything back.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Table, delete, func, insert, select, text

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import Customer, LegalEntity, PaymentTerms, Role, User
from b2bshop.billing.models import Invoice, InvoiceLine, InvoiceTotals
from b2bshop.extensions import db
from b2bshop.numbering import NumberSequence, next_number
from b2bshop.payments.models import Payment, PaymentAllocation

TRIGGERS = ("invoice_totals_sync", "customer_invoices_version")
RECOUNT_TOTALS = """
INSERT INTO invoice_totals (customer_id, status, invoice_count, total, amount_paid)
SELECT customer_id, status, COUNT(*), SUM(total), SUM(amount_paid) FROM invoices
GROUP BY customer_id, status
"""
BENCH_USER = "bench@b2bshop.example"
BENCH_PASSWORD = "bench"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BenchSize:
    customers: int = 10_000
    invoices: int = 1_000_000
    #: Invoices of the invoice account that the bench user sees besides their own.
    org_invoices: int = 50_000
    seed: int = 42


class NotEmpty(Exception):
    pass


def _bulk(table: Table, columns: list[str], rows: Iterable[tuple], chunk: int = 20_000) -> int:
    """Write rows into table: COPY on PostgreSQL, executemany elsewhere."""
    connection = db.session.connection()
    count = 0
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch: list[dict] = []
    statement = insert(table)
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= chunk:
            connection.execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(statement, batch)
        count += len(batch)
    return count


def generate(
    size: BenchSize, progress: Callable[[int], None] = lambda n: None, today: date | None = None
) -> dict[str, int]:
    """Fill an empty database. The caller commits."""
    if db.session.scalar(select(func.count(Invoice.id))) or db.session.scalar(
        select(func.count(Customer.id))
    ):
        raise NotEmpty("bench-data needs an empty database (customers and invoices)")
    today = today or date.today()
    rng = random.Random(size.seed)
    on_sqlite = db.session.connection().dialect.name == "sqlite"
    money = float if on_sqlite else (lambda d: d)  # SQLite's driver takes no Decimal

    entity = db.session.scalar(select(LegalEntity)) or LegalEntity(
        code="BENCH", name="Bench Seller", currency="EUR"
    )
    terms = [
        PaymentTerms(code="B-NET30", name="Net 30", net_days=30),
        PaymentTerms(code="B-NET14", name="Net 14", net_days=14),
        PaymentTerms(
            code="B-2-10",
            name="2 % 10 / Net 30",
            net_days=30,
            cash_discount_percent=Decimal("2.00"),
            cash_discount_days=10,
        ),
    ]
    db.session.add_all([entity, *terms])
    db.session.flush()

    # Customer 1 is the invoice account of customer 2, whose user runs the benchmark.
    customer_rows = []
    for n in range(1, size.customers + 1):
        term = terms[n % 3] if n > 2 else terms[0 if n == 1 else 2]
        customer_rows.append(
            (
                n,
                entity.id,
                f"B{n:06d}",
                f"Bench customer {n}",
                f"ap{n}@bench.example",
                "EUR",
                term.id,
                money(Decimal("100000")),
                1 if n == 2 else None,
                True,
            )
        )
    _bulk(
        Customer.__table__,
        [
            "id",
            "legal_entity_id",
            "number",
            "name",
            "email",
            "currency",
            "payment_terms_id",
            "credit_limit",
            "invoice_account_id",
            "active",
        ],
        customer_rows,
    )
    terms_of = {row[0]: next(t for t in terms if t.id == row[6]) for row in customer_rows}

    def customer_for(i: int) -> int:
        if i < size.org_invoices:
            return 1
        if i < size.org_invoices + 200:
            return 2
        return rng.randint(3, size.customers)

    lines: list[tuple] = []
    payments: list[tuple] = []
    allocations: list[tuple] = []

    def invoice_rows() -> Iterator[tuple]:
        for i in range(size.invoices):
            invoice_id = i + 1
            customer_id = customer_for(i)
            term = terms_of[customer_id]
            invoice_date = today - timedelta(days=rng.randint(0, 3 * 365))
            subtotal = Decimal(rng.randint(1_000, 500_000)) * CENT
            tax = (subtotal * Decimal("0.21")).quantize(CENT)
            total = subtotal + tax
            roll = rng.random()
            if roll < 0.6:
                paid, status = total, "paid"
            elif roll < 0.7:
                paid, status = (
                    (total * Decimal(rng.randint(10, 90)) / 100).quantize(CENT),
                    "partially_paid",
                )
            else:
                paid, status = Decimal(0), "unpaid"
            discount_date = discount = None
            if term.has_cash_discount:
                discount_date = invoice_date + timedelta(days=term.cash_discount_days)
                discount = (total * term.cash_discount_percent / 100).quantize(CENT)
            lines.append(
                (
                    invoice_id,
                    invoice_id,
                    1,
                    None,
                    "Goods and services",
                    1,
                    money(subtotal),
                    money(Decimal("21.00")),
                    money(subtotal),
                    money(tax),
                )
            )
            if paid:
                payments.append(
                    (
                        invoice_id,
                        f"PAY-{invoice_id:07d}",
                        customer_id,
                        "manual",
                        "completed",
                        money(paid),
                        "EUR",
                        entity.id,
                    )
                )
                allocations.append((invoice_id, invoice_id, invoice_id, money(paid), money(0)))
            progress(1)
            yield (
                invoice_id,
                f"INV-{invoice_id:07d}",
                customer_id,
                invoice_date,
                invoice_date + timedelta(days=term.net_days),
                discount_date,
                money(discount or Decimal(0)),
                "EUR",
                money(subtotal),
                money(tax),
                money(total),
                money(paid),
                status,
                entity.id,
            )

    counts = {"customers": len(customer_rows)}
    if not on_sqlite:
        # One trigger call per copied row would double the load time: recount once after.
        # (New customers' invoices_version stays 0: nothing was cached before they existed.)
        for trigger in TRIGGERS:
            db.session.execute(text(f"ALTER TABLE invoices DISABLE TRIGGER {trigger}"))
    counts["invoices"] = _bulk(
        Invoice.__table__,
        [
            "id",
            "number",
            "customer_id",
            "invoice_date",
            "due_date",
            "cash_discount_date",
            "cash_discount_amount",
            "currency",
            "subtotal",
            "tax",
            "total",
            "amount_paid",
            "status",
            "legal_entity_id",
        ],
        invoice_rows(),
    )
    counts["invoice_lines"] = _bulk(
        InvoiceLine.__table__,
        [
            "id",
            "invoice_id",
            "line_no",
            "sku",
            "description",
            "quantity",
            "unit_price",
            "tax_rate",
            "net_amount",
            "tax_amount",
        ],
        lines,
    )
    counts["payments"] = _bulk(
        Payment.__table__,
        [
            "id",
            "number",
            "customer_id",
            "method",
            "status",
            "amount",
            "currency",
            "legal_entity_id",
        ],
        payments,
    )
    counts["payment_allocations"] = _bulk(
        PaymentAllocation.__table__,
        ["id", "payment_id", "invoice_id", "amount", "discount_amount"],
        allocations,
    )

    if not on_sqlite:
        for trigger in TRIGGERS:
            db.session.execute(text(f"ALTER TABLE invoices ENABLE TRIGGER {trigger}"))
        db.session.execute(delete(InvoiceTotals))
        db.session.execute(text(RECOUNT_TOTALS))
    for name in ("invoice", "payment"):
        next_number(name, entity.id)  # the entity's series exist before they are moved on
    db.session.execute(
        NumberSequence.__table__.update()
        .where(NumberSequence.name.in_(["invoice", "payment"]))
        .where(NumberSequence.legal_entity_id == entity.id)
        .values(next_value=size.invoices + 1)
    )
    if not on_sqlite:
        for table in ("customers", "invoices", "invoice_lines", "payments", "payment_allocations"):
            # The table names are this loop's own constants, never input.
            setval = "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {0}))"  # noqa: E501
            db.session.execute(text(setval.format(table)))
    bench_customer = db.session.get(Customer, 2)
    if db.session.scalar(select(User).where(User.email == BENCH_USER)) is None:
        accounts.create_user(
            BENCH_USER, BENCH_PASSWORD, role=Role.BUYER, customer=bench_customer, name="Bench Buyer"
        )
    db.session.flush()
    return counts


def analyze() -> None:
    """Fresh statistics and visibility map after a bulk load (index-only scans need it)."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# --- Contacts for campaigns (issue 17) ---

#: The mix of the generated relationships and their contacts.
CONTACT_LANGUAGES = ("en", "en", "fr", "nb", "nl")
CONTACT_COUNTRIES = ("NL", "NL", "FR", "NO", "BE", "DE")


def generate_contacts(contacts: int, seed: int = 42) -> dict[str, int]:
    """`flask --app wsgi bench-contacts`: `contacts` contacts, two per party, of leads,
    prospects and customers (the existing customers, in id order, become the customer
    parties). 90 % consent to marketing, 3 % of those unsubscribed since. The caller
    commits; there must be no parties yet."""
    from b2bshop.relationships.models import Contact, Party

    if db.session.scalar(select(func.count(Party.id))):
        raise NotEmpty("bench-contacts needs a database without parties")
    rng = random.Random(seed)
    customer_ids = list(db.session.scalars(select(Customer.id).order_by(Customer.id)))
    parties = (contacts + 1) // 2
    now = date.today()
    party_rows = []
    for n in range(1, parties + 1):
        kind = ("lead", "prospect", "customer")[n % 3]
        customer_id = None
        if kind == "customer":
            customer_id = customer_ids.pop(0) if customer_ids else None
            kind = "customer" if customer_id else "prospect"
        party_rows.append(
            (
                n, kind, f"Bench party {n}", rng.choice(CONTACT_COUNTRIES), "", "", "", "",
                "admin", "", customer_id, now,
            )
        )  # fmt: skip
    _bulk(
        Party.__table__,
        ["id", "kind", "name", "country_code", "vat_number", "street", "postal_code", "city",
         "source", "notes", "customer_id", "created_at"],
        party_rows,
    )  # fmt: skip

    def contact_rows() -> Iterator[tuple]:
        for n in range(1, contacts + 1):
            consent = rng.random() < 0.9
            unsubscribed = now if consent and rng.random() < 0.03 else None
            yield (
                n, (n + 1) // 2, f"Contact {n}", f"contact{n}@bench.example", "", "",
                rng.choice(CONTACT_LANGUAGES), consent, unsubscribed, now,
            )  # fmt: skip

    written = _bulk(
        Contact.__table__,
        ["id", "party_id", "name", "email", "phone", "role", "language", "marketing_consent",
         "unsubscribed_at", "created_at"],
        contact_rows(),
    )  # fmt: skip
    if db.session.connection().dialect.name == "postgresql":
        # The ids were given here: the serial sequences start after them.
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('parties', 'id'), :n)"), {"n": parties}
        )
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"), {"n": written}
        )
    return {"parties": parties, "contacts": written}
