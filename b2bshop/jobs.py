"""Queue access. One code path for both modes:

* REDIS_URL set: real Redis, jobs run by `flask --app wsgi worker` / `rq worker` processes.
* REDIS_URL empty (embedded): an in-process fakeredis server (with Lua, which RQ needs) and
  one RQ worker thread inside the web process. It is the real RQ code, so jobs still run
  asynchronously, after the request that enqueued them.
"""

from __future__ import annotations

import logging
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

from b2bshop.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAMES = ("default",)
SYNC_REQUESTS = "tasks.requests.sync_requests"
RECONCILE_PAYMENTS = "tasks.payments.reconcile_payments"
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


def default_retry() -> Retry:
    """Three more tries after the first, backing off: 10 s, 1 min, 5 min."""
    return Retry(max=3, interval=[10, 60, 300])


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


def _embedded_clock(app: Flask, stop: threading.Event) -> None:
    """The embedded mode's scheduler: moves due retries into the queue every second, and
    queues the request sync and the payment reconcile at their intervals (Redis mode:
    `rq worker --with-scheduler` and `flask --app wsgi cron`)."""
    from rq.scheduler import RQScheduler

    conn = connection(app)
    scheduler = RQScheduler([Queue(n, connection=conn) for n in QUEUE_NAMES], connection=conn)
    last_run = {SYNC_REQUESTS: 0.0, RECONCILE_PAYMENTS: 0.0}
    intervals = {
        SYNC_REQUESTS: app.config["SYNC_INTERVAL"],
        RECONCILE_PAYMENTS: app.config["RECONCILE_INTERVAL"],
    }
    while not stop.wait(1.0):
        try:
            scheduler.acquire_locks()
            scheduler.enqueue_scheduled_jobs()
            for job, interval in intervals.items():
                if time.monotonic() - last_run[job] >= interval:
                    get_queue(app=app).enqueue(job)
                    last_run[job] = time.monotonic()
        except Exception:  # keep ticking: one bad tick must not stop the clock
            log.exception("embedded clock tick failed")


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
