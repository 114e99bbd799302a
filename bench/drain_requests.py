"""Drain rate of invoice-copy emails through real RQ workers (issue 5, item 8).

    .venv/bin/python bench/drain_requests.py -n 200     # a quick try first
    .venv/bin/python bench/drain_requests.py            # N = 5,000

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379. It
builds its own database (`b2bshop_drain`, created and dropped through the `test` database)
and uses one Redis index of its own (13, flushed before and after), loads the demo data,
and files N invoice-copy requests by buyer@contoso.example in bulk, queued through
`b2bshop.requests.service.enqueue` as the web app does. An aiosmtpd server in this process
takes the mail and counts it by X-B2B-Key. Two burst workers
(`flask --app wsgi worker --burst --without-scheduler`) drain the queue, timed from their
start until both have exited; then every request must be completed, every email received
exactly once, each with its PDF.

N no-op jobs (bench.jobs_noop.noop) are drained the same way in the same run: the machine
is shared and noisy, so the email rate is also given as a ratio to the queue's own rate.

When the email drain outlasts --timeout, the workers are stopped warm (SIGTERM: each
finishes its job) and the rate is measured on the emails sent so far; the checks then
cover those requests.
"""

from __future__ import annotations

import argparse
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flask_migrate
import redis
from aiosmtpd.controller import Controller
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import create_engine, event, func, insert, select, text

from b2bshop import create_app, demo
from b2bshop.accounts.models import User
from b2bshop.billing import pdf
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import settlements, visible_invoices
from b2bshop.extensions import db
from b2bshop.requests import service
from b2bshop.requests.models import B2BRequest, RequestKind, RequestStatus, SentEmail
from tasks import requests as request_jobs

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE = "b2bshop_drain"
SECRET_KEY = "drain-bench-not-a-secret"
REQUESTER = "buyer@contoso.example"
NOOP = "bench.jobs_noop.noop"
WORKERS = 2
SAMPLE = 50  # received emails whose PDF attachment is opened
PROBES = 20  # emails built and sent in-process to time their parts
WORKER_COMMAND = ["-m", "flask", "--app", "wsgi", "worker", "--burst", "--without-scheduler"]


class MailSink:
    """aiosmtpd handler: counts messages by X-B2B-Key and Message-ID, keeps a sample.

    It shares the machine's CPU with the workers, so it only parses each message's
    headers; the sample is opened after the drain.
    """

    def __init__(self) -> None:
        self.reset(1)

    def reset(self, expected: int) -> None:
        self.keys: Counter[str | None] = Counter()
        self.message_ids: Counter[str | None] = Counter()
        self.without_pdf = 0
        self.size = 0
        self.arrivals: list[float] = []
        self.sample: list[bytes] = []
        self.step = max(1, expected // SAMPLE)

    @property
    def received(self) -> int:
        return self.keys.total()

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.content
        end = data.find(b"\r\n\r\n")
        headers = BytesHeaderParser().parsebytes(data[: end if end >= 0 else None])
        self.keys[headers["X-B2B-Key"]] += 1
        self.message_ids[headers["Message-ID"]] += 1
        self.size += len(data)
        self.arrivals.append(time.perf_counter())
        if b"application/pdf" not in data:
            self.without_pdf += 1
        if self.received % self.step == 0 and len(self.sample) < SAMPLE:
            self.sample.append(data)
        return "250 OK"


def has_pdf(data: bytes) -> bool:
    message = message_from_bytes(data, policy=policy.default)
    return any(
        part.get_content_type() == "application/pdf" and part.get_content().startswith(b"%PDF-")
        for part in message.iter_attachments()
    )


@dataclass
class Drain:
    seconds: float  # from starting the workers until the last one exited
    finished: bool  # False: stopped at the timeout
    jobs: int = 0  # jobs that finished
    cpu: float = 0.0  # CPU seconds (user + system) of the workers, start-up included
    busy: float | None = None  # first job's start to last job's end: start-up left out

    def rate(self) -> float:
        return max(1, self.jobs) / self.seconds

    def busy_rate(self) -> str:
        return f"{self.jobs / self.busy:,.1f}" if self.busy else "n/a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(statement: str) -> None:
    engine = create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def drain(label: str, env: dict, logs: Path, timeout: float, profile: bool = False) -> Drain:
    """Run WORKERS burst workers until they exit, or until the timeout: then stop them warm
    (SIGTERM, each finishes its job), killing any left after 30 s. With profile each runs
    under cProfile into logs/<label>-<i>.prof."""
    procs = []
    finished = True
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        for i in range(WORKERS):
            prefix = ["-m", "cProfile", "-o", str(logs / f"{label}-{i}.prof")] if profile else []
            log = open(logs / f"{label}-{i}.log", "wb")  # noqa: SIM115 (closed below)
            proc = subprocess.Popen(
                [sys.executable, *prefix, *WORKER_COMMAND],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append((proc, log))
        for proc, _ in procs:
            try:
                proc.wait(timeout=max(0.1, started + timeout - time.perf_counter()))
            except subprocess.TimeoutExpired:
                finished = False
                break
        if not finished:
            for proc, _ in procs:
                proc.send_signal(signal.SIGTERM)
            for proc, _ in procs:
                proc.wait(timeout=30)
        seconds = time.perf_counter() - started
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    for i, (proc, _) in enumerate(procs):
        if proc.returncode:
            tail = (logs / f"{label}-{i}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{label} worker {i} exited with {proc.returncode}:\n{tail}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Drain(seconds, finished, cpu=cpu)


def count_jobs(result: Drain, conn: redis.Redis, job_ids: list[str]) -> Drain:
    """Fill in how many of the jobs finished and their busy window, from the jobs' hashes."""
    ran = [
        job
        for job in Job.fetch_many(job_ids, connection=conn)
        if job is not None and job.get_status(refresh=False) == JobStatus.FINISHED
    ]
    result.jobs = len(ran)
    if ran:
        first = min(job.started_at for job in ran)
        result.busy = (max(job.ended_at for job in ran) - first).total_seconds()
    return result


def queue_problems(queue: Queue, finished: bool) -> list[str]:
    problems = []
    if queue.count and finished:
        problems.append(f"{queue.count} jobs still queued")
    for name in ("failed_job_registry", "scheduled_job_registry", "started_job_registry"):
        if count := getattr(queue, name).count:
            problems.append(f"{count} jobs in {name}")
    return problems


def create_requests(n: int) -> tuple[list[int], int]:
    """N pending invoice-copy requests in one bulk insert, not queued yet. Returns their
    ids and how many invoices they cycle over."""
    buyer = db.session.scalar(select(User).where(User.email == REQUESTER))
    invoice_ids = [i.id for i in db.session.scalars(visible_invoices(buyer).order_by(Invoice.id))]
    rows = [
        {
            "kind": RequestKind.INVOICE_COPY,
            "status": RequestStatus.PENDING,
            "customer_id": buyer.customer_id,
            "requester_id": buyer.id,
            "invoice_id": invoice_ids[i % len(invoice_ids)],
            "email": buyer.email,
            "locale": buyer.locale or "en",
            "attempts": 0,
        }
        for i in range(n)
    ]
    ids = db.session.scalars(insert(B2BRequest).returning(B2BRequest.id), rows).all()
    db.session.commit()
    return ids, len(invoice_ids)


def enqueue_requests() -> list[str]:
    """Queue every request as the web app does: service.enqueue, jobs sent after commit."""
    requests = db.session.scalars(select(B2BRequest).order_by(B2BRequest.id)).all()
    for request in requests:
        service.enqueue(request)
    db.session.commit()
    return [r.job_id for r in requests]


def probe_email_parts(count: int) -> dict[str, float]:
    """Median ms of the parts of one email, in this process while no worker runs. Nothing
    is committed; the probe emails (keys probe-*) go out before the sink is reset."""
    ids = db.session.scalars(select(B2BRequest.id).order_by(B2BRequest.id).limit(count)).all()
    statements: list[str] = []

    def on_execute(*args: object) -> None:
        statements.append(str(args[2]))

    parts: dict[str, list[float]] = {"pdf": [], "build": [], "send": [], "queries": []}
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        for i, request_id in enumerate([ids[0]] * 3 + ids):  # 3 warm-ups
            db.session.expire_all()
            request = db.session.get(B2BRequest, request_id)
            t0 = time.perf_counter()
            pdf.invoice_pdf(request.invoice, settlements(request.invoice), date.today())
            t1 = time.perf_counter()
            db.session.expire_all()
            request = db.session.get(B2BRequest, request_id)
            del statements[:]
            t2 = time.perf_counter()
            message = request_jobs.build_invoice_email(request, make_msgid("probe"), f"probe-{i}")
            t3 = time.perf_counter()
            message.send()
            t4 = time.perf_counter()
            if i >= 3:
                parts["pdf"].append((t1 - t0) * 1000)
                parts["build"].append((t3 - t2) * 1000)
                parts["send"].append((t4 - t3) * 1000)
                parts["queries"].append(len(statements))
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        db.session.rollback()
    return {k: statistics.median(v) for k, v in parts.items()}


def check_emails(sink: MailSink, result: Drain, request_ids: list[int]) -> tuple[list[str], dict]:
    """Every request whose job ran is completed, its email received once, with its PDF."""
    statuses = dict(
        db.session.execute(
            select(B2BRequest.status, func.count()).group_by(B2BRequest.status)
        ).all()
    )
    marker_ids = set(db.session.scalars(select(SentEmail.message_id)))
    sent = db.session.scalar(select(func.count()).where(SentEmail.state == "sent"))
    errors = db.session.scalars(
        select(B2BRequest.last_error).where(B2BRequest.last_error.is_not(None)).limit(3)
    ).all()
    n = len(request_ids)
    expected = result.jobs if not result.finished else n
    completed = statuses.get(RequestStatus.COMPLETED, 0)
    keys = set(sink.keys)
    facts = {
        "completed": completed,
        "received": sink.received,
        "duplicates": sink.received - len(keys),
        "pdfs": sum(has_pdf(data) for data in sink.sample),
        "sampled": len(sink.sample),
    }
    problems = []
    if completed != expected or sent != expected or sink.received != expected:
        problems.append(
            f"{expected:,} jobs finished but {completed:,} requests completed, {sent:,} markers "
            f"sent, {sink.received:,} emails received; statuses {statuses}, errors {errors}"
        )
    elif errors:
        problems.append(f"completed with errors noted: {errors}")
    if facts["duplicates"]:
        problems.append(f"{facts['duplicates']} duplicate emails (same X-B2B-Key)")
    if unexpected := len(keys - {f"invoice-copy-{rid}" for rid in request_ids}):
        problems.append(f"{unexpected} emails with an unexpected X-B2B-Key")
    if set(sink.message_ids) != marker_ids:
        problems.append("the Message-IDs received differ from the sent_emails markers")
    if sink.without_pdf:
        problems.append(f"{sink.without_pdf} emails without an application/pdf part")
    if facts["pdfs"] != facts["sampled"]:
        problems.append(f"{facts['pdfs']} of {facts['sampled']} sampled attachments are PDFs")
    return problems, facts


def print_profile(logs: Path) -> None:
    stats = pstats.Stats(*(str(p) for p in sorted(logs.glob("emails-*.prof"))))
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


def report(n: int, machine: str, invoices: int, probe: dict, runs: dict, facts: dict) -> str:
    idle, noop, emails = runs["idle"], runs["noop"], runs["emails"]
    ratio = emails.rate() / noop.rate()
    busy_ratio = emails.jobs / emails.busy / (noop.jobs / noop.busy) if noop.busy else None
    per_email = emails.seconds / max(1, emails.jobs) * 1000
    per_noop = noop.seconds / max(1, noop.jobs) * 1000
    # Worker CPU per job, less the start-up (the empty-queue drain): the figure least
    # disturbed by other tenants of the machine.
    cpu_email = (emails.cpu - idle.cpu) / max(1, emails.jobs) * 1000
    cpu_noop = (noop.cpu - idle.cpu) / max(1, noop.jobs) * 1000
    fifths = [runs["arrivals"][round(i * len(runs["arrivals"]) / 5) :] for i in range(5)]
    by_fifth = ", ".join(
        f"{(len(f) - len(g)) / (f[-len(g) - 1] - f[0]):.1f}"
        for f, g in zip(fifths, [*fifths[1:], []], strict=True)
        if len(f) - len(g) > 1
    )
    lines = [
        f"# Draining invoice-copy requests, {date.today()}",
        "",
        f"Machine: {machine}. N = {n:,} jobs per drain, {WORKERS} burst workers "
        f"(`flask --app wsgi worker --burst --without-scheduler`), timed from their start "
        f"until both exited. Mail to an aiosmtpd server in the benchmark process; requests "
        f"by {REQUESTER} cycling over {invoices} demo invoices.",
        "",
    ]
    if not emails.finished:
        lines += [
            f"**The email drain was stopped at the timeout**: {emails.jobs:,} of {n:,} emails "
            f"in {emails.seconds:.0f} s; all {n:,} would take about "
            f"{n / emails.rate() / 60:.1f} minutes at this rate.",
            "",
        ]
    lines += [
        "| drain | jobs | seconds | jobs/s | ms per job, per worker | jobs/s, busy window "
        "| worker CPU s | worker CPU ms per job |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| empty queue (start-up and exit) | 0 | {idle.seconds:.2f} | | | | {idle.cpu:.1f} | |",
        f"| no-op jobs | {noop.jobs:,} | {noop.seconds:.2f} | {noop.rate():,.1f} | "
        f"{per_noop * WORKERS:.2f} | {noop.busy_rate()} | {noop.cpu:.1f} | {cpu_noop:.2f} |",
        f"| invoice-copy emails | {emails.jobs:,} | {emails.seconds:.2f} | "
        f"{emails.rate():,.2f} | {per_email * WORKERS:.1f} | {emails.busy_rate()} | "
        f"{emails.cpu:.1f} | {cpu_email:.1f} |",
        "",
        f"- Emails per second: **{emails.rate():,.2f}**; no-op jobs per second: "
        f"**{noop.rate():,.1f}**; ratio email / no-op throughput: **{ratio:.4f}** (one email "
        f"costs as much as {1 / ratio:,.0f} no-op jobs)"
        + (f"; in the busy windows: {busy_ratio:.4f}" if busy_ratio else "")
        + f"; by worker CPU per job (start-up left out): {cpu_noop / cpu_email:.4f}.",
        f"- Emails per second by fifth of the drain: {by_fifth}. Load average (1 min) "
        f"before and after the email drain: {runs['load'][0]:.1f}, {runs['load'][1]:.1f} "
        f"({os.cpu_count()} cores; other tenants included).",
        f"- Time per email: {per_email:.0f} ms of wall time with {WORKERS} workers, "
        f"{per_email * WORKERS:.0f} ms of one worker's time, of which the queue itself "
        f"(a no-op job) takes {per_noop * WORKERS:.1f} ms.",
        f"- One email in the benchmark process, no worker running (median of {PROBES}): "
        f"invoice PDF {probe['pdf']:.0f} ms; build (templates + PDF) {probe['build']:.0f} ms "
        f"with {probe['queries']:.0f} SQL queries; SMTP send {probe['send']:.1f} ms.",
        f"- Emails received: {facts['received']:,}, duplicates (same X-B2B-Key): "
        f"**{facts['duplicates']}**, all with an application/pdf part, {facts['pdfs']} of "
        f"{facts['sampled']} sampled attachments open as %PDF; "
        f"{runs['size'] / max(1, facts['received']) / 1024:.0f} KiB per email. Requests "
        f"completed: {facts['completed']:,}.",
    ]
    return "\n".join(lines) + "\n"


def _figures(report_text: str) -> dict[str, str] | None:
    """The date, emails per second and worker CPU ms per email of a drain-requests.md."""
    day = re.search(r"^# Draining invoice-copy requests, (\S+)", report_text, re.M)
    rate = re.search(r"Emails per second: \*\*([\d,.]+)\*\*", report_text)
    cpu = re.search(r"^\| invoice-copy emails \|(?:[^|]*\|){6} *([\d,.]+) *\|", report_text, re.M)
    if not (day and rate and cpu):
        return None
    return {"day": day.group(1), "rate": rate.group(1), "cpu": cpu.group(1)}


def compare_with_previous(new_text: str, old_text: str) -> str:
    """A line setting this run's email rate next to the last recorded one: the SMTP round
    trip dominates, so a drop of more than 10 % needs a reason."""
    new, old = _figures(new_text), _figures(old_text)
    if new is None or old is None:
        return ""
    rate = float(new["rate"].replace(",", "")) / float(old["rate"].replace(",", "")) - 1
    cpu = float(new["cpu"].replace(",", "")) / float(old["cpu"].replace(",", "")) - 1
    return (
        f"- Against the last recorded run ({old['day']}): **{new['rate']}** emails per second "
        f"against {old['rate']} ({rate:+.1%}); worker CPU per email {new['cpu']} ms against "
        f"{old['cpu']} ms ({cpu:+.1%}). Wall-time rates move with the machine's other "
        f"tenants; the CPU per email does much less.\n"
    )


def redis_version(conn: redis.Redis) -> str:
    return conn.info("server")["redis_version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="requests and no-op jobs (5000)")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis index to use (13)")
    parser.add_argument(
        "--timeout", type=float, default=420, help="seconds the email drain may take (420)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the email workers under cProfile, print where their time goes, and "
        "write no report (cProfile slows them down several times)",
    )
    args = parser.parse_args()
    n = args.n

    database_url = f"{SERVER}/{DATABASE}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    conn = redis.Redis.from_url(redis_url)
    port = free_port()
    os.environ["SECRET_KEY"] = SECRET_KEY  # create_app reads it before the overrides
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "QUEUE_EMBEDDED_WORKER": False,
            "SECRET_KEY": SECRET_KEY,
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
        }
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "MAIL_", "RQ_")) and k != "QUEUE_EMBEDDED_WORKER"
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(port),
        SECRET_KEY=SECRET_KEY,
    )
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="sink.local")
    logs = Path(tempfile.mkdtemp(prefix="drain-bench-"))

    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DATABASE}"')
    if stale := conn.dbsize():
        print(f"Redis index {args.redis_db} held {stale} keys: flushed")
    conn.flushdb()
    runs: dict = {}
    try:
        controller.start()
        with app.app_context():
            flask_migrate.upgrade()
            demo.load()
            db.session.commit()
            pg_version = db.session.scalar(text("show server_version"))
            started = time.perf_counter()
            request_ids, invoices = create_requests(n)
            print(f"{n:,} requests created in {time.perf_counter() - started:.1f} s")
            probe = probe_email_parts(min(PROBES, n))
        print(
            f"in-process, one email: PDF {probe['pdf']:.0f} ms, build (templates + PDF) "
            f"{probe['build']:.0f} ms with {probe['queries']:.0f} queries, SMTP send "
            f"{probe['send']:.1f} ms"
        )
        queue = Queue("default", connection=conn)

        # The queue's own cost: the same workers and app, jobs that do nothing.
        runs["idle"] = drain("idle", env, logs, 120)
        print(f"start-up: {WORKERS} burst workers, empty queue: {runs['idle'].seconds:.2f} s")
        noop_ids = [
            job.id for job in queue.enqueue_many([Queue.prepare_data(NOOP, (i,)) for i in range(n)])
        ]
        runs["noop"] = count_jobs(drain("noop", env, logs, 300), conn, noop_ids)
        problems = queue_problems(queue, finished=True)
        if runs["noop"].jobs != n or not runs["noop"].finished:
            problems.append(f"{runs['noop'].jobs:,} of {n:,} no-op jobs finished")
        print(f"no-op: {n:,} jobs in {runs['noop'].seconds:.2f} s")

        with app.app_context():
            started = time.perf_counter()
            email_job_ids = enqueue_requests()
            print(f"{n:,} email jobs queued in {time.perf_counter() - started:.1f} s")
        assert queue.count == n, f"{queue.count} email jobs queued, expected {n}"
        sink.reset(n)
        load_before = os.getloadavg()[0]
        emails = drain("emails", env, logs, args.timeout, profile=args.profile)
        runs["emails"] = count_jobs(emails, conn, email_job_ids)
        runs["size"] = sink.size
        runs["arrivals"] = sink.arrivals
        runs["load"] = (load_before, os.getloadavg()[0])
        print(f"emails: {emails.jobs:,} in {emails.seconds:.2f} s")
        problems += queue_problems(queue, emails.finished)
        with app.app_context():
            email_problems, facts = check_emails(sink, emails, request_ids)
        problems += email_problems
    except BaseException:
        print(f"worker logs kept in {logs}", file=sys.stderr)
        raise
    else:
        if args.profile:
            print_profile(logs)
        shutil.rmtree(logs)
    finally:
        if controller.loop.is_running():
            controller.stop()
        conn.flushdb()
        with app.app_context():
            db.engine.dispose()
        admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')

    machine = (
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {pg_version}, Redis {redis_version(conn)}"
    )
    text_ = report(n, machine, invoices, probe, runs, facts)
    if problems:
        text_ += f"- **Problems:** {'; '.join(problems)}\n"
    print("\n" + text_)
    if problems:
        sys.exit(1)
    if args.profile:
        print("(profiled run: report not written)")
        return
    out = Path(__file__).with_name("drain-requests.md")
    if out.exists():
        text_ += compare_with_previous(text_, out.read_text())
    out.write_text(text_)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
