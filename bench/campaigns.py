"""A campaign to 50,000 contacts drained by two real RQ workers into an SMTP sink, and the
target count query at that size (issue 17).

    .venv/bin/python bench/campaigns.py --contacts 2000     # a quick try first
    .venv/bin/python bench/campaigns.py --write             # into bench/REPORT.md

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379. It
builds its own database (`b2bshop_campaigns_bench`, created and dropped through the `test`
database), uses Redis index 3 (flushed before and after), fills it with `bench-data`
(5,000 customers with invoices and orders) and `bench-contacts` (the contacts, two per
party of leads, prospects and the bench customers), and times the target count query
(campaigns.targets.count_targets) for several saved filters, with its plan. Then it
starts a campaign to every targeted contact as the admin page does (the list frozen, the
batch jobs queued after the commit) and two burst workers
(`flask --app wsgi worker --burst --without-scheduler`) drain it into an aiosmtpd server
in this process, which counts the mail by X-B2B-Key. Each worker's peak resident memory
(VmHWM) is read from /proc while it runs. Every targeted contact must get exactly one
email.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECTION = "## Campaigns (bench/campaigns.py)"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE = "b2bshop_campaigns_bench"
REDIS_URL = "redis://127.0.0.1:6379/3"
WORKERS = 2
WORKER_COMMAND = ["-m", "flask", "--app", "wsgi", "worker", "--burst", "--without-scheduler"]


class Sink:
    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.message_ids: dict[str, set[str]] = {}

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        data = envelope.content
        end = data.find(b"\r\n\r\n")
        headers = BytesHeaderParser().parsebytes(data[: end if end >= 0 else None])
        key = str(headers["X-B2B-Key"])
        self.keys[key] += 1
        self.message_ids.setdefault(key, set()).add(str(headers["Message-ID"]))
        await asyncio.sleep(0)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


def time_query(run, times: int = 15) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    run()  # warm
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    # 57,400 contacts: about 50,000 of them consent and did not unsubscribe (87 %).
    parser.add_argument("--contacts", type=int, default=57_400)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    import redis
    from aiosmtpd.controller import Controller

    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DATABASE}"')
    url = f"{SERVER}/{DATABASE}"
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "FLASK_"))},
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "campaign-bench",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    try:
        report = run(args, env, sink, conn)
    finally:
        controller.stop()
        conn.flushdb()
        admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(report)
    if args.write:
        path = ROOT / "bench" / "REPORT.md"
        current = path.read_text()
        if SECTION in current:
            current = re.sub(
                re.escape(SECTION) + r".*?(?=\n## |\Z)", report.rstrip("\n"), current, flags=re.S
            )
        else:
            current = current.rstrip("\n") + "\n\n" + report
        path.write_text(current)


def run(args, env: dict, sink: Sink, conn) -> str:  # type: ignore[no-untyped-def]
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from b2bshop import benchdata, create_app
    from b2bshop.accounts import service as accounts
    from b2bshop.accounts.models import Role
    from b2bshop.campaigns import service
    from b2bshop.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
    from b2bshop.campaigns.targets import TargetFilter, count_targets, targets
    from b2bshop.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
            "QUEUE_EMBEDDED_WORKER": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    loaded = time.perf_counter()
    with app.app_context():
        upgrade()
        benchdata.generate(benchdata.BenchSize(customers=5_000, invoices=20_000, org_invoices=100))
        db.session.commit()
        counts = benchdata.generate_contacts(args.contacts)
        db.session.commit()
        # Orders of a third of the customers, a year back, for "last order before".
        db.session.execute(
            text(
                "INSERT INTO sales_orders (number, customer_id, legal_entity_id, order_type,"
                " status, order_date, payment_terms_id, currency, total)"
                " SELECT 'BSO-' || id, id, legal_entity_id, 'sales_order', 'invoiced',"
                " CURRENT_DATE - (id % 365), payment_terms_id, 'EUR', 0"
                " FROM customers WHERE id % 3 = 0"
            )
        )
        db.session.commit()
        benchdata.analyze()
    loaded = time.perf_counter() - loaded

    filters = {
        "every kind (all consenting)": TargetFilter(),
        "leads and prospects": TargetFilter(kinds=("lead", "prospect")),
        "French-speaking, in France": TargetFilter(language="fr", country="FR"),
        "customers with open invoices": TargetFilter(kinds=("customer",), open_invoices="yes"),
        "last order before 6 months ago": TargetFilter(
            last_order_before=date.today() - timedelta(days=182)
        ),
    }
    timings = {}
    with app.app_context():
        for label, target in filters.items():
            number = count_targets(target)
            median, worst = time_query(lambda t=target: count_targets(t))
            timings[label] = (number, median, worst)
        compiled = (
            select(func.count())
            .select_from(targets(filters["customers with open invoices"]).subquery())
            .compile(db.engine, compile_kwargs={"literal_binds": True})
        )
        plan = db.session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}")).scalars().all()
        db.session.rollback()

        user = accounts.create_user("admin@bench.example", None, role=Role.STORE_ADMIN)
        campaign = service.save_campaign(
            user,
            None,
            service.CampaignInput(
                name="Bench",
                channel="email",
                target=TargetFilter(),
                messages={
                    lang: (
                        f"Offer {lang}",
                        f"Hello **{lang}**, see [the shop](https://shop.example).",
                    )
                    for lang in ("en", "fr", "nb", "nl")
                },
            ),
        )
        db.session.commit()
        started = time.perf_counter()
        recipients = service.start(user, campaign.id)
        db.session.commit()  # the batch jobs go to Redis now
        freeze = time.perf_counter() - started
        campaign_id = campaign.id
        batches = len(service.unfinished_batches(campaign_id))
        db.session.remove()

    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "campaign-bench"
    logs.mkdir(exist_ok=True)
    procs = []
    peaks = [0.0] * WORKERS
    started = time.perf_counter()
    for i in range(WORKERS):
        log = open(logs / f"worker-{i}.log", "wb")  # noqa: SIM115 (closed below)
        command = [sys.executable, *WORKER_COMMAND]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((process, log))
    while any(p.poll() is None for p, _ in procs):
        for i, (p, _) in enumerate(procs):
            peak = peak_rss_mb(p.pid)
            if peak:
                peaks[i] = max(peaks[i], peak)
        if time.perf_counter() - started > args.timeout:
            for p, _ in procs:
                p.terminate()
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    for p, log in procs:
        p.wait(30)
        log.close()
        if p.returncode:
            raise RuntimeError((logs / "worker-0.log").read_text()[-3000:])

    with app.app_context():
        states = dict(
            db.session.execute(
                select(CampaignRecipient.state, func.count())
                .where(CampaignRecipient.campaign_id == campaign_id)
                .group_by(CampaignRecipient.state)
            ).all()
        )
        status = db.session.get(Campaign, campaign_id).status
        db.session.remove()
    received = sum(sink.keys.values())
    duplicates = sum(n - 1 for n in sink.keys.values() if n > 1)
    assert status == CampaignStatus.DONE, (status, states)
    assert len(sink.keys) == recipients and duplicates == 0, (len(sink.keys), duplicates)

    load = os.getloadavg()
    rows = [
        SECTION,
        "",
        f"{platform.node() or 'this machine'}, nproc {os.cpu_count()}, load average"
        f" {load[0]:.2f} after the run, Python {platform.python_version()}, PostgreSQL,"
        f" Redis. {counts['contacts']:,} contacts of {counts['parties']:,} parties (leads,"
        " prospects, and 5,000 bench customers with 20,000 invoices; 90 % consent, 3 % of"
        f" those unsubscribed); data loaded in {loaded:.0f} s.",
        "",
        "Target count query (`count_targets`, the count the campaign page shows before"
        " sending), median and worst of 15 runs after one warm-up:",
        "",
        "| saved filter | contacts | median | worst |",
        "|---|---:|---:|---:|",
        *(
            f"| {label} | {n:,} | {median:.1f} ms | {worst:.1f} ms |"
            for label, (n, median, worst) in timings.items()
        ),
        "",
        "Plan of the customers-with-open-invoices count (EXPLAIN ANALYZE):",
        "",
        "```",
        *plan,
        "```",
        "",
        f"Sending: the list of {recipients:,} frozen in {freeze:.2f} s (one INSERT ... SELECT,"
        f" {batches} batch jobs of {app.config['CAMPAIGN_BATCH_SIZE']} queued after the"
        f" commit); {WORKERS} burst workers drained it into an aiosmtpd sink in the bench"
        " process, one SMTP conversation per email (as the invoice emails), each recipient"
        " claimed under a lease and committed before its conversation and after it.",
        "",
        "| what | result |",
        "|---|---:|",
        f"| emails accepted by the sink | {received:,} ({len(sink.keys):,} recipients,"
        f" {duplicates} duplicates) |",
        f"| drain time, 2 workers | {seconds:.1f} s |",
        f"| rate | {received / seconds:,.0f} emails/s |",
        f"| peak resident memory per worker (VmHWM) | {', '.join(f'{p:.0f} MB' for p in peaks)} |",
        "",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
