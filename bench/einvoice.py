"""E-invoice build times and the bulk ZIP's rate, in-process (issue 16).

    python bench/einvoice.py [--invoices 500] [--write]

On a scratch SQLite database (or DATABASE_URL): the demo data plus N invoices of three lines
for one buyer (Fabrikam, whose 9 demo invoices come along; the ZIP caps are lifted).
Measures the milliseconds to build one UBL file and one Factur-X PDF (from the stored
invoice: the semantic model, the XML, for Factur-X the PDF/A-3 and the factur-x library's
embedding and XSD check), and the rate of `/invoices.zip` for those invoices in each format,
streamed through the Flask test client as a buyer downloads it. --write puts the
rows into bench/REPORT.md's "E-invoices" section (replaced when present).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECTION = "## E-invoices (bench/einvoice.py)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="einvoice-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.db")
    os.environ.setdefault("SECRET_KEY", "bench")

    from flask_babel import force_locale
    from flask_migrate import upgrade
    from sqlalchemy import select

    from b2bshop import create_app, demo
    from b2bshop.accounts.models import Customer
    from b2bshop.billing.models import Invoice
    from b2bshop.billing.service import LineInput, post_invoice, settlements
    from b2bshop.einvoice import document, ubl
    from b2bshop.einvoice.facturx_pdf import facturx_pdf
    from b2bshop.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
            "QUEUE_EMBEDDED_WORKER": False,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
            "EINVOICE_ZIP_MAX_UBL": args.invoices,
            "EINVOICE_ZIP_MAX_FACTURX": args.invoices,
        }
    )
    n = args.invoices
    with app.app_context():
        upgrade()
        if demo.is_empty():
            demo.load()
        fabrikam = db.session.scalar(select(Customer).where(Customer.number == "C-2001"))
        today = date.today()
        for i in range(n):
            post_invoice(
                fabrikam,
                [
                    LineInput("Copy paper A4", Decimal(1 + i % 9), Decimal("24.90"), Decimal(21)),
                    LineInput("Coffee beans", Decimal(2), Decimal("18.50"), Decimal(9)),
                    LineInput("Training", Decimal(1), Decimal("450.00"), Decimal(0)),
                ],
                today - timedelta(days=i % 60),
            )
        db.session.commit()
        invoices = db.session.scalars(
            select(Invoice).where(Invoice.customer_id == fabrikam.id).limit(100)
        ).all()
        with force_locale("en"):
            for invoice in invoices:  # warm up: lazy loads, fonts, schemas
                ubl.to_xml(document.build(invoice))
            facturx_pdf(invoices[0], settlements(invoices[0]), today)
            ubl_ms = []
            for invoice in invoices:
                start = time.perf_counter()
                ubl.to_xml(document.build(invoice))
                ubl_ms.append((time.perf_counter() - start) * 1000)
            fx_ms = []
            for invoice in invoices[:40]:
                start = time.perf_counter()
                facturx_pdf(invoice, settlements(invoice), today)
                fx_ms.append((time.perf_counter() - start) * 1000)
        count = db.session.scalar(
            select(db.func.count()).select_from(Invoice).where(Invoice.customer_id == fabrikam.id)
        )
    app.config["EINVOICE_ZIP_MAX_UBL"] = app.config["EINVOICE_ZIP_MAX_FACTURX"] = count
    client = app.test_client()
    client.post("/login", data={"email": "buyer@fabrikam.example", "password": "demo"})
    rates = {}
    for fmt in ("ubl", "facturx"):
        start = time.perf_counter()
        response = client.get(f"/invoices.zip?format={fmt}&account=own&sort=number")
        size = sum(len(chunk) for chunk in response.response)
        seconds = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        rates[fmt] = (size, seconds)
    load = os.getloadavg()
    rows = [
        SECTION,
        "",
        f"In-process, {platform.node() or 'this machine'}, nproc {os.cpu_count()}, load average"
        f" {load[0]:.2f} after the run, Python {platform.python_version()},"
        f" {os.environ['DATABASE_URL'].split(':', 1)[0]}. One buyer with {count} invoices of"
        " three lines (21 %, 9 %, 0 %). Build times are medians over 100 UBL and 40 Factur-X"
        " documents; a ZIP is `/invoices.zip` streamed through the test client as the"
        " buyer, `account=own` matching every invoice of the account.",
        "",
        "| what | result |",
        "|---|---:|",
        f"| one UBL 2.1 (Peppol BIS 3) file | {statistics.median(ubl_ms):.1f} ms"
        f" (p90 {statistics.quantiles(ubl_ms, n=10)[-1]:.1f} ms) |",
        f"| one Factur-X PDF (PDF/A-3 + CII, XSD-checked) | {statistics.median(fx_ms):.1f} ms"
        f" (p90 {statistics.quantiles(fx_ms, n=10)[-1]:.1f} ms) |",
    ]
    for fmt, label in (("ubl", "UBL"), ("facturx", "Factur-X")):
        size, seconds = rates[fmt]
        rows.append(
            f"| ZIP of {count} {label} invoices | {size / 1e6:.2f} MB in {seconds:.2f} s:"
            f" {size / 1e6 / seconds:.2f} MB/s, {seconds / count * 1000:.1f} ms per invoice |"
        )
    rows += [
        "",
        "A Factur-X PDF costs what the invoice PDF costs (fpdf2 lays it out and embeds the"
        " fonts, about 40 ms on an idle core) plus about 10 ms for PDF/A and the embedding."
        " A sync gunicorn worker that streams for longer than `GUNICORN_TIMEOUT` (30 s) is"
        " killed, so a Factur-X ZIP is capped at `EINVOICE_ZIP_MAX_FACTURX` (100, about"
        " 5-10 s) and a UBL ZIP at `EINVOICE_ZIP_MAX_UBL` (500, under a second); the 500"
        " Factur-X row above lifts the cap to measure the rate.",
        "",
    ]
    text = "\n".join(rows)
    print(text)
    if args.write:
        report = ROOT / "bench" / "REPORT.md"
        current = report.read_text()
        if SECTION in current:
            current = re.sub(
                re.escape(SECTION) + r".*?(?=\n## |\Z)", text.rstrip("\n"), current, flags=re.S
            )
        else:
            current = current.rstrip("\n") + "\n\n" + text
        report.write_text(current)


if __name__ == "__main__":
    main()
