"""Jobs under faults, on real processes (issue 14): no email lost, no request stuck, the
scheduler survives Redis outages.

Each case runs the production processes against a private `redis-server` on a free port
(stopped and started again inside the Redis case), this test's PostgreSQL database and an
aiosmtpd sink in this process that counts what it accepted by X-B2B-Key:

* `flask --app wsgi cron`, queueing the request sync every second;
* `flask --app wsgi worker`, first with FAULT_CRASH_AT naming a crash point
  (b2bshop/core/faults.py): it SIGKILLs itself there, no cleanup, no rollback; then a
  worker without the fault, as a process manager would start one.

| case                 | fault                                                      |
|----------------------|------------------------------------------------------------|
| before_connect       | worker killed after committing the intent, before SMTP      |
| during_data          | worker killed with half of the message sent after DATA     |
| after_accept         | worker killed after the 250 to DATA, before the commit     |
| smtp_refuses         | the sink answers DATA with 451, then 554, then takes it    |
| smtp_hangs           | the sink answers DATA only after the client's timeout      |
| postgres_terminated  | pg_terminate_backend on the worker's connections mid-job   |
| redis_outage         | Redis stopped (every page is used meanwhile) and restarted |

For each: every request is completed, each has at least one accepted email and at most two,
and only `after_accept` (the unknown outcome) has a second one, with the same Message-ID.
The figures are printed at the end of the module (and in each test's output).

PostgreSQL only: several processes on one database; the rules do not depend on which.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, func, select, text

from b2bshop.accounts.models import User
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db
from b2bshop.heartbeats import JobHeartbeat
from b2bshop.requests import service
from b2bshop.requests.models import B2BRequest, RequestStatus, SentEmail
from tests.conftest import ON_POSTGRES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="one database is enough for the fault suite: the crash points do not depend on it",
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
BUYER = "buyer@contoso.example"
WORKER_APP_NAME = "b2bshop-fault-worker"
#: Short enough for a fast suite, in the same relation as the defaults: the lease (job
#: timeout plus margin) outlasts any live job; a retry comes a second after a failure.
TIMINGS = {
    "SYNC_INTERVAL": "1",
    "RECONCILE_INTERVAL": "60",
    "REQUEST_JOB_TIMEOUT": "4",
    "REQUEST_LEASE_MARGIN": "2",
    "REQUEST_RETRY_INTERVALS": "1,1,1",
    "MAIL_TIMEOUT": "1",
    "SCHEDULER_HEARTBEAT": "1",
    "SCHEDULER_MAX_BACKOFF": "2",
    "WORKER_MAINTENANCE_INTERVAL": "5",
}
CASE_TIMEOUT = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def _wait_for(predicate, seconds: float, what: str, step: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(step)


class PrivateRedis:
    """A redis-server of this test's own, on a free port, without persistence: stopping it
    loses every queued job, as a Redis restart without AOF does."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
                *("--logfile", str(self.log), "--dir", str(self.log.parent)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        conn = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            assert self.process.poll() is None, f"redis-server exited:\n{_tail(self.log)}"
            with contextlib.suppress(redis.ConnectionError):
                return conn.ping()
            return False

        _wait_for(answers, 10, "redis-server answering")
        conn.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class Sink:
    """aiosmtpd handler. Counts accepted messages by X-B2B-Key (and their Message-IDs);
    `mode` scripts the answers to DATA per key: "accept"; "refuse": 451, then 554, then
    250; "hang": the first answer comes only after the client's timeout; "pause": the first
    DATA waits until the test releases it."""

    def __init__(self) -> None:
        self.reset("accept")

    def reset(self, mode: str) -> None:
        self.mode = mode
        self.accepted: list[tuple[str, str]] = []
        self.refused = 0
        self.hung = 0
        self.tries: Counter[str] = Counter()
        self.data_arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.content
        end = data.find(b"\r\n\r\n")
        headers = BytesHeaderParser().parsebytes(data[: end if end >= 0 else None])
        key = str(headers["X-B2B-Key"])
        self.tries[key] += 1
        if self.mode == "refuse" and self.tries[key] <= 2:
            self.refused += 1
            return "451 4.3.0 Try again later" if self.tries[key] == 1 else "554 5.7.1 Refused"
        if self.mode == "hang" and self.tries[key] == 1:
            self.hung += 1
            await asyncio.sleep(float(TIMINGS["MAIL_TIMEOUT"]) + 2)
            return "451 4.4.2 Timed out"  # the client has gone: nothing was taken
        if self.mode == "pause" and not self.data_arrived.is_set():
            self.data_arrived.set()
            for _ in range(200):
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
        self.accepted.append((key, str(headers["Message-ID"])))
        return "250 2.0.0 OK"


@dataclass
class Stack:
    redis: PrivateRedis
    sink: Sink
    sink_port: int
    database_url: str
    tmp: Path
    processes: list[tuple[subprocess.Popen, Path, str]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FLASK_", "MAIL_", "RQ_", "PG")) and k not in TIMINGS
        }
        env.pop("FAULT_CRASH_AT", None)
        env.update(TIMINGS)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SECRET_KEY="fault-suite-secret",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(self.sink_port),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen:
        """A flask command in a session of its own (its RQ scheduler child too), so the
        end of the case can stop the whole group."""
        log_path = self.tmp / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*FLASK, *args],
                cwd=ROOT,
                env=self.env(**extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((process, log_path, name))
        return process

    def worker(self, name: str, **extra: str) -> subprocess.Popen:
        return self.start(name, "worker", PGAPPNAME=WORKER_APP_NAME, **extra)

    def stop_all(self) -> None:
        for process, _log, _name in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process, log_path, name in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # an orphaned RQ scheduler child
            print(f"--- {name} (exit {process.returncode}) ---\n{_tail(log_path)}")
        self.processes.clear()


@pytest.fixture(scope="module")
def figures(request) -> Iterator[list[dict]]:
    rows: list[dict] = []
    yield rows
    if not rows:
        return
    lines = [
        "",
        "Jobs under faults (tests/faults/test_jobs_faults.py):",
        f"{'case':<20} {'requests':>8} {'completed':>9} {'emails':>6} {'duplicates':>10} "
        f"{'SMTP tries':>10} {'refused':>7} {'seconds':>7}",
    ]
    for r in rows:
        lines.append(
            f"{r['case']:<20} {r['requests']:>8} {r['completed']:>9} {r['emails']:>6} "
            f"{r['duplicates']:>10} {r['conversations']:>10} {r['refused']:>7} "
            f"{r['seconds']:>7.1f}"
        )
    # Shown in `make test`'s output, past pytest's capture of the test's own output.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if reporter is not None:
            reporter.write_line("\n".join(lines))
        else:
            print("\n".join(lines))


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    handler = Sink()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def stack(sink, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    private = PrivateRedis(tmp_path)
    private.start()
    handler, port = sink
    handler.reset("accept")
    built = Stack(private, handler, port, database_url, tmp_path)
    try:
        yield built
    finally:
        built.stop_all()
        private.stop()


@pytest.fixture
def web(make_app, stack: Stack):
    """This process's app on the private Redis, as a web process: it files the requests
    (enqueued after commit) and serves the pages."""
    return make_app(REDIS_URL=stack.redis.url, **{k: _setting(v) for k, v in TIMINGS.items()})


def _setting(value: str) -> object:
    return value if "," in value else int(value)


def file_requests(web, n: int) -> list[int]:
    """N invoice-copy requests by the demo buyer, as the web app files them."""
    with web.test_request_context():
        user = db.session.scalar(select(User).where(User.email == BUYER))
        numbers = db.session.scalars(
            select(Invoice.number).where(Invoice.customer_id == user.customer_id)
        ).all()
        ids = [
            service.request_invoice_copy(user, numbers[i % len(numbers)], "en").id for i in range(n)
        ]
        db.session.commit()
        db.session.remove()
    return ids


def _state(web) -> dict:
    with web.app_context():
        status = dict(db.session.execute(select(B2BRequest.id, B2BRequest.status)).all())
        sends = dict(db.session.execute(select(SentEmail.key, SentEmail.sends)).all())
        db.session.remove()
    return {"status": status, "sends": sends}


def all_completed(web, ids: list[int]) -> bool:
    status = _state(web)["status"]
    return all(status.get(i) == RequestStatus.COMPLETED for i in ids)


def check(case: str, web, stack: Stack, ids: list[int], started: float, figures) -> dict:
    """The issue's bar for one case, and its figures."""
    _wait_for(lambda: all_completed(web, ids), CASE_TIMEOUT, f"{case}: every request completed")
    time.sleep(0.3)  # a late duplicate would arrive now
    state = _state(web)
    per_key = Counter(key for key, _mid in stack.sink.accepted)
    ids_per_key: dict[str, set[str]] = {}
    for key, message_id in stack.sink.accepted:
        ids_per_key.setdefault(key, set()).add(message_id)
    keys = [f"invoice-copy-{i}" for i in ids]
    row = {
        "case": case,
        "requests": len(ids),
        "completed": sum(state["status"][i] == RequestStatus.COMPLETED for i in ids),
        "emails": sum(per_key[k] for k in keys),
        "duplicates": sum(max(0, per_key[k] - 1) for k in keys),
        "conversations": sum(state["sends"].get(k, 0) for k in keys),
        "refused": stack.sink.refused + stack.sink.hung,
        "seconds": time.monotonic() - started,
    }
    figures.append(row)
    print(f"figures: {row}")
    assert row["completed"] == row["requests"], row
    assert set(per_key) == set(keys), (per_key, keys)
    assert all(1 <= per_key[k] <= 2 for k in keys), per_key
    # A second email is the same message: one Message-ID per request, whatever happened.
    assert all(len(ids_per_key[k]) == 1 for k in keys), ids_per_key
    return row


def crash_worker(stack: Stack, point: str) -> None:
    """A worker that dies at `point` on its first request job."""
    crashing = stack.worker(f"worker-crash-{point}", FAULT_CRASH_AT=point)
    code = _wait_for(lambda: crashing.poll(), 30, f"the worker dying at {point}")
    assert code == -signal.SIGKILL, (
        f"exit {code}:\n{_tail(stack.tmp / f'worker-crash-{point}.log')}"
    )


@pytest.mark.parametrize("point", ["before_connect", "during_data", "after_accept"])
def test_a_worker_killed_at_each_step_loses_no_email(point, stack, web, demo, figures):
    started = time.monotonic()
    ids = file_requests(web, 2)
    crash_worker(stack, point)
    state = _state(web)
    assert state["status"][ids[0]] == RequestStatus.PROCESSING  # the dead job's lease
    accepted_before = len(stack.sink.accepted)
    assert accepted_before == (1 if point == "after_accept" else 0)

    stack.start("cron", "cron")
    stack.worker("worker")
    row = check(point, web, stack, ids, started, figures)
    # The killed request went through two SMTP conversations (the intent was committed
    # before the first); only the unknown outcome, after the 250, makes a second email.
    assert row["conversations"] == 3, row
    assert row["duplicates"] == (1 if point == "after_accept" else 0), row


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_a_refusing_or_hanging_mail_server_is_retried(mode, stack, web, demo, figures):
    started = time.monotonic()
    stack.sink.reset(mode)
    ids = file_requests(web, 2)
    stack.start("cron", "cron")
    stack.worker("worker")
    row = check(f"smtp_{mode}s", web, stack, ids, started, figures)
    assert row["duplicates"] == 0 and row["emails"] == 2, row
    if mode == "refuse":  # 451 then 554 for each, then accepted: 3 conversations each
        assert (row["refused"], row["conversations"]) == (4, 6), row
    else:
        assert (row["refused"], row["conversations"]) == (2, 4), row


def test_a_terminated_postgres_connection_mid_job_loses_no_email(
    stack, web, demo, figures, database_url
):
    """The worker's connections are terminated while the mail server holds its first
    message: it records the acceptance on a fresh connection."""
    started = time.monotonic()
    stack.sink.reset("pause")
    ids = file_requests(web, 2)
    stack.start("cron", "cron")
    stack.worker("worker")
    assert stack.sink.data_arrived.wait(30), "no message reached the mail server"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            terminated = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                    "pg_stat_activity WHERE application_name = :name"
                ),
                {"name": WORKER_APP_NAME},
            ).scalar()
            assert terminated >= 1
            _wait_for(
                lambda: (
                    not conn.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                        {"n": WORKER_APP_NAME},
                    ).scalar()
                ),
                10,
                "the terminated backends gone",
            )
    finally:
        admin.dispose()
        stack.sink.release.set()
    row = check("postgres_terminated", web, stack, ids, started, figures)
    assert row["duplicates"] == 0, row
    assert stack.processes[1][0].poll() is None, "the worker survived it"


def _pages_work_without_redis(web, number: str) -> None:
    """Sign-in, the lists, checkout and a new request, with Redis stopped."""
    client = web.test_client()
    response = client.post("/login", data={"email": BUYER, "password": "demo"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    for path in ("/", "/invoices", "/invoices?status=unpaid", "/account/requests", "/cart"):
        assert client.get(path).status_code == 200, path
    assert client.post("/cart/invoices", data={"invoice": number}).status_code in (200, 302)
    page = client.get("/checkout").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    paid = client.post(
        "/checkout",
        data={"method": "card", "card_number": "4242424242424242", "idempotency_key": key},
    )
    assert paid.status_code == 302 and "/payments/" in paid.headers["Location"], paid.status_code
    assert client.get(paid.headers["Location"]).status_code == 200
    for _ in range(3):
        created = client.post(f"/invoices/{number}/request", headers={"HX-Request": "true"})
        assert created.status_code == 200 and "is registered" in created.get_data(as_text=True)
    # The buyer sees them at once, "Sending".
    listing = client.get("/account/requests", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert listing.count('data-status="pending"') == 3 and "Sending" in listing
    admin = web.test_client()
    admin.post("/login", data={"email": "admin@b2bshop.example", "password": "demo"})
    monitor = admin.get("/admin/requests")
    assert monitor.status_code == 200 and "Unreachable" in monitor.get_data(as_text=True)


def _health(web) -> tuple[int, dict]:
    response = web.test_client().get("/healthz")
    return response.status_code, response.json


def test_redis_outage_keeps_every_page_and_the_scheduler_and_loses_no_request(
    stack, web, demo, figures
):
    started = time.monotonic()
    cron = stack.start("cron", "cron")
    worker = stack.worker("worker")
    _wait_for(lambda: _health(web)[1]["periodic"]["sync_requests"]["last_ok_at"], 30, "a sync")
    assert _health(web)[0] == 200

    stack.redis.stop()  # every queued job is gone with it
    with web.app_context():
        number = db.session.scalar(
            select(Invoice.number)
            .join(User, User.customer_id == Invoice.customer_id)
            .where(User.email == BUYER, Invoice.status == InvoiceStatus.UNPAID)
            .order_by(Invoice.id)
        )
        db.session.remove()
    _pages_work_without_redis(web, number)
    with web.app_context():
        ids = db.session.scalars(select(B2BRequest.id).order_by(B2BRequest.id)).all()
        db.session.remove()
    assert len(ids) == 3

    status, body = _health(web)
    assert status == 503 and body["queue"]["ok"] is False
    # The sync cannot run without Redis: overdue after 3 intervals, said by /healthz.
    _wait_for(lambda: "sync_requests" in _health(web)[1]["overdue"], 15, "the sync overdue")
    # The scheduler is alive, says why it waits, and keeps beating in the database.
    scheduler = _wait_for(
        lambda: (
            (s := _health(web)[1]["periodic"]["scheduler"])["detail"].startswith(
                "Redis unreachable"
            )
            and s
        ),
        15,
        "the scheduler's heartbeat naming the outage",
    )
    time.sleep(2 * float(TIMINGS["SCHEDULER_HEARTBEAT"]) + 0.5)
    assert _health(web)[1]["periodic"]["scheduler"]["last_ok_at"] > scheduler["last_ok_at"]
    assert cron.poll() is None and worker.poll() is None, "a process exited on the outage"

    stack.redis.start()  # empty: the requests made meanwhile were never queued
    row = check("redis_outage", web, stack, ids, started, figures)
    assert row["duplicates"] == 0 and row["emails"] == 3, row
    status, body = _wait_for(lambda: (h := _health(web))[0] == 200 and h, 20, "/healthz ok again")
    assert body["overdue"] == [] and body["periodic"]["scheduler"]["detail"] == "running"
    assert cron.poll() is None and worker.poll() is None
    with web.app_context():
        sync = db.session.get(JobHeartbeat, "sync_requests")
        assert sync.count >= 2 and sync.last_error is None
        assert db.session.scalar(select(func.count(SentEmail.id))) == 3
        db.session.remove()
