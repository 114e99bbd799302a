"""Queue access. One code path for both modes:

* REDIS_URL set: real Redis, jobs run by `flask --app wsgi worker` / `rq worker` processes.
* REDIS_URL empty (embedded): an in-process fakeredis server (with Lua, which RQ needs) and
  one RQ worker thread inside the web process. It is the real RQ code, so jobs still run
  asynchronously, after the request that enqueued them.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app, g
from rq import Queue, Retry, SimpleWorker
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from b2bshop import heartbeats
from b2bshop.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAMES = ("default",)
SYNC_REQUESTS = "tasks.requests.sync_requests"
RECONCILE_PAYMENTS = "tasks.payments.reconcile_payments"
#: Quotations past their date, "about to expire" emails, lost email jobs (issue 18).
SWEEP_QUOTATIONS = "tasks.quotations.sweep_quotations"
#: Campaign batches whose worker died, and unsent rejection emails (issue 17).
SYNC_CAMPAIGNS = "tasks.campaigns.sync_campaigns"
_PENDING_KEY = "b2bshop_pending_jobs"

_fake_server = None
_fake_lock = threading.Lock()


def _fake_redis() -> redis.Redis:
    global _fake_server
    import fakeredis

    with _fake_lock:
        if _fake_server is None:
            _fake_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_fake_server)


def connection(app: Flask | None = None) -> redis.Redis:
    app = app or current_app
    conn = app.extensions.get("b2bshop_redis")
    if conn is None:
        url = app.config.get("REDIS_URL")
        if url:
            conn = redis.Redis.from_url(
                url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
        else:
            conn = _fake_redis()
        app.extensions["b2bshop_redis"] = conn
    return conn


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    return Queue(name, connection=connection(app))


def enqueue_after_commit(func: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> None:
    """Enqueue a job once the current transaction commits; drop it if it rolls back.

    Enqueuing before the commit would let a fast worker look for rows that are not
    visible yet, or run for a change that is rolled back. If the queue is down at commit
    time the job is lost here, and the periodic sync job re-enqueues from the database.
    """
    session = db.session()
    if not session.in_transaction():
        # Without a transaction, commit() would have nothing to fire after_commit for.
        session.begin()
    session.info.setdefault(_PENDING_KEY, []).append((func, args, kwargs))


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    queue = get_queue()
    for func, args, kwargs in pending:
        try:
            queue.enqueue(func, *args, **kwargs)
        except redis.RedisError:
            # The data is committed; the sync job picks it up when the queue is back.
            log.warning("queue unavailable, %s left to the sync job", func, exc_info=True)


def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint rolling back leaves the outer transaction's jobs in place.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def init_app(app: Flask) -> None:
    with app.app_context():
        # Flask-SQLAlchemy's scoped session: listen on its session class once.
        session_cls = db.session.session_factory.class_
    if not event.contains(session_cls, "after_commit", _after_commit):
        event.listen(session_cls, "after_commit", _after_commit)
        event.listen(session_cls, "after_soft_rollback", _after_rollback)


def default_retry(app: Flask | None = None) -> Retry | None:
    """One more try per value of REQUEST_RETRY_INTERVALS, backing off (10 s, 1 min, 5 min)."""
    setting = str((app or current_app).config.get("REQUEST_RETRY_INTERVALS", "10,60,300"))
    intervals = [int(value) for value in setting.split(",") if value.strip()]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def queue_health(app: Flask | None = None) -> dict[str, Any]:
    """Counts per state for the health endpoint and the admin monitor."""
    try:
        queue = get_queue(app=app)
        return {
            "ok": True,
            "mode": "redis" if (app or current_app).config.get("REDIS_URL") else "embedded",
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
        }
    except redis.RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}


class AppWorker(SimpleWorker):
    """Runs each job in its own app context, so it gets a fresh database session.

    SimpleWorker (no fork per job): a forked horse would inherit the parent's pooled
    database connections.
    """

    app: Flask

    def perform_job(self, job, queue, execution):  # type: ignore[no-untyped-def]
        with self.app.app_context():
            g.write_transaction = True  # jobs write: SQLite begins them IMMEDIATE
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()


class EmbeddedWorker(AppWorker):
    """The worker thread of the embedded mode: signals belong to the main thread, and it
    stops when asked (stop_embedded_worker) instead of on SIGTERM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):  # type: ignore[no-untyped-def]
        # Wait in one-second slices so a stop request is seen; None ends the work loop.
        while not self._stop_requested:
            result = super().dequeue_job_and_maintain_ttl(1, max_idle_time=1)
            if result is not None:
                return result
        return None


def stop_embedded_worker(app: Flask, timeout: float = 10) -> None:
    """Stop the embedded worker and clock threads (tests, and a clean shutdown)."""
    stop = app.extensions.pop("b2bshop_clock_stop", None)
    if stop is not None:
        stop.set()
    worker = app.extensions.pop("b2bshop_worker", None)
    thread = app.extensions.pop("b2bshop_worker_thread", None)
    if worker is not None:
        worker._stop_requested = True
    if thread is not None:
        thread.join(timeout)


def make_worker(app: Flask, worker_class: type[AppWorker] = AppWorker, **kwargs: Any) -> AppWorker:
    conn = connection(app)
    worker = worker_class(
        [Queue(n, connection=conn) for n in QUEUE_NAMES], connection=conn, **kwargs
    )
    worker.app = app
    return worker


class Backoff:
    """Seconds to wait before the next try to reach Redis: 1, 2, 4 ... up to a cap, with
    jitter so that many processes do not all come back in the same second."""

    def __init__(self, cap: float) -> None:
        self.cap = max(1.0, cap)
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        delay = min(self.cap, 2.0 ** (self.failures - 1))
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0


def _redis_down(exc: BaseException) -> str:
    return f"Redis unreachable ({type(exc).__name__}: {exc}); retrying"


def _embedded_clock(app: Flask, stop: threading.Event) -> None:
    """The embedded mode's scheduler: moves due retries into the queue every second, queues
    the request sync and the payment reconcile at their intervals, and writes the same
    heartbeat as `flask --app wsgi cron` (Redis mode: `flask --app wsgi worker` and `cron`)."""
    from rq.scheduler import RQScheduler

    conn = connection(app)
    scheduler = RQScheduler([Queue(n, connection=conn) for n in QUEUE_NAMES], connection=conn)
    last_run = {SYNC_REQUESTS: 0.0, RECONCILE_PAYMENTS: 0.0, SYNC_CAMPAIGNS: 0.0}
    last_run[SWEEP_QUOTATIONS] = 0.0
    intervals = {
        SYNC_REQUESTS: app.config["SYNC_INTERVAL"],
        SYNC_CAMPAIGNS: app.config["SYNC_INTERVAL"],
        RECONCILE_PAYMENTS: app.config["RECONCILE_INTERVAL"],
        SWEEP_QUOTATIONS: app.config["QUOTATION_SWEEP_INTERVAL"],
    }
    started_at = heartbeats.utcnow()
    last_beat = 0.0
    state, error = "running (embedded)", None
    while True:
        try:
            scheduler.acquire_locks()
            scheduler.enqueue_scheduled_jobs()
            for job, interval in intervals.items():
                if time.monotonic() - last_run[job] >= interval:
                    get_queue(app=app).enqueue(job)
                    last_run[job] = time.monotonic()
            state, error = "running (embedded)", None
        except Exception as exc:  # keep ticking: one bad tick must not stop the clock
            log.exception("embedded clock tick failed")
            state, error = f"tick failed: {type(exc).__name__}", f"{type(exc).__name__}: {exc}"
        if error is not None or time.monotonic() - last_beat >= app.config["SCHEDULER_HEARTBEAT"]:
            with app.app_context():
                g.write_transaction = True
                heartbeats.scheduler_beat(started_at, state, error)
                db.session.remove()
            last_beat = time.monotonic()
        if stop.wait(1.0):
            return


def run_cron(app: Flask, stop: threading.Event | None = None) -> None:
    """`flask --app wsgi cron`: queue the request sync every SYNC_INTERVAL seconds and the
    payment reconcile every RECONCILE_INTERVAL on RQ's CronScheduler, until SIGTERM or
    SIGINT (or `stop`, for tests).

    RQ's own `CronScheduler.start()` ends on the first Redis error; this loop drives the same
    scheduler tick by tick instead, and when Redis is unreachable it waits (1 s, 2 s, 4 s ...
    up to SCHEDULER_MAX_BACKOFF) and tries again, for ever. A job whose time came while
    Redis was down is queued as soon as it is back. Every SCHEDULER_HEARTBEAT seconds, and
    while waiting for Redis, it writes its heartbeat to the database (b2bshop/heartbeats.py).
    """
    from rq.cron import CronScheduler

    from tasks.campaigns import sync_campaigns
    from tasks.payments import reconcile_payments
    from tasks.quotations import sweep_quotations
    from tasks.requests import sync_requests

    log_to_stderr()
    stop = stop or _stop_on_signals()
    scheduler = CronScheduler(connection=connection(app))
    scheduler.register(sync_requests, "default", interval=app.config["SYNC_INTERVAL"])
    scheduler.register(sync_campaigns, "default", interval=app.config["SYNC_INTERVAL"])
    scheduler.register(reconcile_payments, "default", interval=app.config["RECONCILE_INTERVAL"])
    scheduler.register(sweep_quotations, "default", interval=app.config["QUOTATION_SWEEP_INTERVAL"])
    backoff = Backoff(app.config["SCHEDULER_MAX_BACKOFF"])
    heartbeat = app.config["SCHEDULER_HEARTBEAT"]
    started_at = heartbeats.utcnow()
    registered = False
    last_beat = 0.0
    try:
        while not stop.is_set():
            error = None
            try:
                if not registered:  # again after an outage: Redis may have come back empty
                    scheduler.register_birth()
                    registered = True
                if scheduler.enqueue_jobs():
                    scheduler.save()
                scheduler.heartbeat()
                if backoff.failures:
                    log.warning("cron: Redis is back")
                backoff.reset()
                state = "running"
                delay = min(scheduler.calculate_sleep_interval(), heartbeat)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                registered = False
                delay = backoff.next()
                state = error = _redis_down(exc)
                log.warning("cron: %s in %.1f s", state, delay)
            except Exception as exc:  # a bug or a bad reply: log it and keep the schedule
                registered = False
                delay = backoff.next()
                state = error = f"tick failed ({type(exc).__name__}: {exc}); retrying"
                log.exception("cron: tick failed; retrying in %.1f s", delay)
            if error is not None or time.monotonic() - last_beat >= heartbeat:
                heartbeats.scheduler_beat(started_at, state, error)
                last_beat = time.monotonic()
            stop.wait(max(delay, 0.05))
    finally:
        with contextlib.suppress(redis.RedisError):
            scheduler.register_death()
        log.info("cron: stopped")


def run_worker(app: Flask, burst: bool = False, with_scheduler: bool = True) -> None:
    """`flask --app wsgi worker`: an RQ worker in the app, started again when it stops on
    an error instead of a request to stop.

    RQ's worker waits out a Redis outage while it waits for a job, but quits on a Redis
    error anywhere else (registering, after a job, its housekeeping), and its scheduler
    process quits too. So: a worker that stopped without being asked is replaced after a
    backoff, and housekeeping runs every WORKER_MAINTENANCE_INTERVAL seconds (RQ's default
    is 10 minutes), which also restarts the scheduler process after an outage.
    """
    log_to_stderr()
    backoff = Backoff(app.config["SCHEDULER_MAX_BACKOFF"])
    stop = threading.Event()
    while True:
        try:
            # Inside the try: a new worker registers with Redis at once (CLIENT SETNAME), so
            # one started again while Redis is still down must wait like the rest.
            worker = make_worker(
                app, maintenance_interval=app.config["WORKER_MAINTENANCE_INTERVAL"]
            )
            worker.work(burst=burst, with_scheduler=with_scheduler)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if burst:
                raise
            log.warning("worker: %s", _redis_down(exc))
        else:
            # RQ notes the time of a SIGTERM or SIGINT, whether it was busy or idle then.
            if burst or worker._shutdown_requested_date is not None:
                return
            log.warning("worker: RQ's work loop ended on an error; starting it again")
        # RQ's signal handlers belong to the worker that stopped: ours until the next one.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if stop.wait(backoff.next()):
            return


def log_to_stderr() -> None:
    """`flask cron` and `flask worker` print the app's own lines (Redis outages, retries,
    leases) the way RQ prints its own, unless logging is configured already."""
    for name in ("b2bshop", "tasks"):
        logger = logging.getLogger(name)
        if logger.handlers or logging.getLogger().handlers:
            continue
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("cron: signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def start_embedded_worker(app: Flask) -> threading.Thread:
    """One RQ worker thread for the embedded mode (idempotent per app)."""
    existing = app.extensions.get("b2bshop_worker_thread")
    if existing is not None and existing.is_alive():
        return existing
    worker = make_worker(app, EmbeddedWorker)

    def run() -> None:
        worker.work(logging_level="WARNING")

    thread = threading.Thread(target=run, name="rq-embedded-worker", daemon=True)
    thread.start()
    stop = threading.Event()
    threading.Thread(
        target=_embedded_clock, args=(app, stop), name="rq-embedded-clock", daemon=True
    ).start()
    app.extensions["b2bshop_clock_stop"] = stop
    app.extensions["b2bshop_worker_thread"] = thread
    app.extensions["b2bshop_worker"] = worker
    return thread
