"""Latency of the buyer's invoice-list fragment on the bench-data set (issue 3).

    flask --app wsgi bench-data            # once, on PostgreSQL
    python bench/invoice_list.py           # DATABASE_URL as for bench-data

Requests go through the whole Flask stack in-process (test client: no HTTP server, no
network), HX-Request set, signed in as the bench user who sees their own account and an
invoice account with 50,000 invoices. Every figure is also given as a ratio to a bare
"hello" endpoint measured in the same run, since this machine is shared and noisy.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from b2bshop import create_app
from b2bshop.benchdata import BENCH_PASSWORD, BENCH_USER
from b2bshop.billing import listing
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
WARMUP = 30


def cursor_at(depth: int, flt: listing.InvoiceFilter, ids: list[int]) -> tuple[str, int]:
    """The cursor that starts a page `depth` rows into the filter's result."""
    column, descending = listing.SORTS[flt.sort]
    order = [column.desc(), Invoice.id.desc()] if descending else [column, Invoice.id]
    conditions = listing.filter_conditions(flt, date.today())
    total = db.session.scalar(select(func.count()).where(Invoice.customer_id.in_(ids), *conditions))
    depth = min(depth, total - 60)
    invoice = db.session.scalar(
        select(Invoice)
        .where(Invoice.customer_id.in_(ids), *conditions)
        .order_by(*order)
        .offset(depth)
        .limit(1)
    )
    return listing.encode_cursor(invoice, flt.sort), depth


def measure(client, url: str, headers: dict, first_view: bool = False) -> list[float]:
    """Latencies of `url`. A first view adds a never-repeated argument (ignored by the
    filter), so every request misses the fragment cache and renders from the database."""
    urls = (f"{url}&_={n}" if first_view else url for n in range(WARMUP + REQUESTS))
    for _ in range(WARMUP):
        assert client.get(next(urls), headers=headers).status_code == 200, url
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(next(urls), headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return timings


def main() -> None:
    app = create_app(
        {
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
            "QUEUE_EMBEDDED_WORKER": False,
        }
    )

    @app.route("/_bench/hello")
    def hello():
        return "hello"

    client = app.test_client()
    response = client.post("/login", data={"email": BENCH_USER, "password": BENCH_PASSWORD})
    assert response.status_code == 302, "run `flask --app wsgi bench-data` first"
    fragment = {"HX-Request": "true"}
    with app.app_context():
        ids = [1, 2]
        invoices = db.session.scalar(select(func.count(Invoice.id)))
        visible = db.session.scalar(select(func.count()).where(Invoice.customer_id.in_(ids)))
        scenarios = [("hello (ceiling)", "/_bench/hello", {})]
        for label, flt, depth in [
            ("all, page 1", listing.InvoiceFilter(), 0),
            ("all, deep page", listing.InvoiceFilter(), 45_000),
            ("unpaid, page 1", listing.InvoiceFilter(status="unpaid"), 0),
            ("unpaid, deep page", listing.InvoiceFilter(status="unpaid"), 14_000),
            ("overdue, page 1", listing.InvoiceFilter(status="overdue"), 0),
            ("overdue, deep page", listing.InvoiceFilter(status="overdue"), 13_000),
            ("-amount, deep page", listing.InvoiceFilter(sort="-amount"), 40_000),
        ]:
            args = flt.query_args()
            if depth:
                cursor, depth = cursor_at(depth, flt, ids)
                args["after"] = cursor
                label = f"{label} (row {depth:,})"
            query = "&".join(f"{k}={v}" for k, v in args.items())
            scenarios.append((label, f"/invoices?{query}", fragment))
            scenarios.append((f"{label}, first view", f"/invoices?{query}", fragment))
        engine = db.engine

    def count_queries(url: str, headers: dict) -> int:
        counted: list[str] = []

        def listener(*args: object) -> None:
            counted.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", listener)
        client.get(url, headers=headers)
        event.remove(engine, "before_cursor_execute", listener)  # not while timing
        return len(counted)

    rows = []
    ceiling = None
    for label, url, headers in scenarios:
        first_view = label.endswith("first view")
        if not first_view:
            client.get(url, headers=headers)  # counted as the cache answers it
        queries = count_queries(url + "&_=count" if first_view else url, headers)
        timings = measure(client, url, headers, first_view)
        q = statistics.quantiles(timings, n=100)
        p50, p99 = statistics.median(timings), q[98]
        if ceiling is None:
            ceiling = p50
        rows.append((label, queries, p50, p99, p50 / ceiling))
        print(f"{label:32} queries={queries} p50={p50:6.2f} ms p99={p99:6.2f} ms", flush=True)

    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"# Invoice list fragment, {date.today()}",
        "",
        f"Machine: {machine}. Database: {engine.dialect.name}, {invoices:,} invoices; the bench "
        f"user sees {visible:,}. {REQUESTS} requests per row after {WARMUP} warm-up, in-process "
        "test client, HX-Request set. A plain row repeats one URL, as Back, a page turn "
        "or a re-applied filter does: the fragment cache answers after the first request. "
        "A *first view* row makes every request new (an ignored argument that never "
        "repeats), so each one renders from the database.",
        "",
        "| request | SQL queries | p50 ms | p99 ms | p50 / hello p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.1f}× |" for r in rows]
    out = Path(__file__).with_name("invoice-list.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
