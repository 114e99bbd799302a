"""The buyer's first views in process, on the bench-data set: CPU per request, SQL statements
and a profile (issue 21).

    .venv/bin/python bench/first_views.py [--requests 300] [--profile] [--label after]

Needs the bench database (`make bench` builds it: b2bshop_bench on the local PostgreSQL).
Requests go through the whole Flask stack in process (test client, no HTTP server), signed in
as the bench user: the invoice list fragment as a first view (an ignored, never repeated
argument, so the fragment cache always misses), the full /invoices page, an invoice page and
adding an invoice to the cart (its amount changed each time). Beside them, the same test
client on a bare Flask app returning "hello", as bench/hello.py is under gunicorn: every figure
is also a ratio to it. CPU time (time.process_time) rather than wall time, as the machine is
shared: a request waiting for PostgreSQL or for a core costs nothing here.

The script only imports the tree it sits in, so a copy in a checkout of an older commit
measures that commit against the same database (how bench/REPORT.md's "before" was taken).
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from b2bshop import create_app  # noqa: E402
from b2bshop.benchdata import BENCH_PASSWORD, BENCH_USER  # noqa: E402
from b2bshop.billing.models import Invoice, InvoiceStatus  # noqa: E402
from b2bshop.extensions import db  # noqa: E402

DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/b2bshop_bench"
HX = {"HX-Request": "true"}
DEBUG = False


def scenarios(app: Flask) -> dict[str, Callable[[], object]]:
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
    response = client.post(
        "/login", data={"email": BENCH_USER, "password": BENCH_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    html = client.get("/invoices?status=unpaid", headers=HX).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    with app.app_context():
        shown = db.session.scalar(
            select(Invoice.number)
            .where(Invoice.status == InvoiceStatus.PARTIALLY_PAID)
            .where(Invoice.number.in_(re.findall(r'/invoices/(INV-\d+)"', html)))
            .limit(1)
        ) or re.search(r'/invoices/(INV-\d+)"', html).group(1)
        payable = re.search(r'name="invoice" value="(INV-\d+)"', html).group(1)
    n = itertools.count()

    def fragment() -> object:
        return client.get(f"/invoices?status=unpaid&_={next(n)}", headers=HX)

    def full_page() -> object:
        return client.get("/invoices?status=unpaid")

    def invoice_page() -> object:
        return client.get(f"/invoices/{shown}")

    def add_to_cart() -> object:
        form = {"invoice": payable, "amount": f"{1 + next(n) % 9}.00", "csrf_token": token}
        response = client.post("/cart/invoices", data=form, headers=HX)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response

    hello_app = Flask("hello")
    hello_app.add_url_rule("/", "hello", lambda: "hello")
    hello_client = hello_app.test_client()

    return {
        "hello (a bare Flask app, same test client)": lambda: hello_client.get("/"),
        "Invoice list fragment, unpaid, page 1, first view": fragment,
        "Full /invoices page, unpaid, page 1": full_page,
        "Invoice page": invoice_page,
        "Add invoice to cart (POST)": add_to_cart,
    }


def statements(app: Flask, call: Callable[[], object]) -> int:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(" ".join(str(args[2]).split())[:80])

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    print(seen) if DEBUG else None
    return len(seen)


def cpu_ms(call: Callable[[], object], requests: int) -> float:
    for _ in range(20):
        call()
    times = []
    for _ in range(requests):
        t = time.process_time()
        call()
        times.append(time.process_time() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="pyinstrument, first views")
    parser.add_argument("--label", default="this tree")
    args = parser.parse_args()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": DATABASE,
            "REDIS_URL": "",
            "RATELIMIT_ENABLED": False,
            "QUEUE_EMBEDDED_WORKER": False,
        }
    )
    cases = scenarios(app)
    hello = cpu_ms(cases.pop(next(iter(cases))), args.requests)
    print(f"### {args.label}\n")
    print("| request | CPU ms/request (median) | × hello | SQL statements |")
    print("|---|---:|---:|---:|")
    print(f"| hello (a bare Flask app, same test client) | {hello:.2f} | 1.0 | 0 |")
    for name, call in cases.items():
        ms = cpu_ms(call, args.requests)
        print(f"| {name} | {ms:.2f} | {ms / hello:.1f} | {statements(app, call)} |")
    if args.profile:
        from pyinstrument import Profiler

        fragment = cases["Invoice list fragment, unpaid, page 1, first view"]
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.requests):
            fragment()
        profiler.stop()
        print("\n```")
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        print("```")


if __name__ == "__main__":
    main()
