"""Heartbeats of the periodic jobs and of the scheduler that queues them, kept in the database.

Redis can go away, come back empty, or be replaced; the database outlives all of that, so
`/healthz` and `/admin/requests` can still say when each periodic job last ran once an
outage is over. Three rows:

* `scheduler`: written by `flask cron` (or the embedded clock) every SCHEDULER_HEARTBEAT
  seconds, also while Redis is unreachable, with its state ("running" or the Redis error).
* `sync_requests`, `reconcile_payments`: written by the jobs themselves, in a worker, when a
  run ends: the time and summary of the last good run, the time and text of the last error.

A periodic job that has not run for 3 of its intervals makes `/healthz` answer 503
"degraded": something between the scheduler, Redis and the workers is broken, whatever the
scheduler believes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from b2bshop.extensions import db

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
SYNC_REQUESTS = "sync_requests"
RECONCILE_PAYMENTS = "reconcile_payments"
#: Each periodic job and the setting that holds its interval in seconds.
PERIODIC = {SYNC_REQUESTS: "SYNC_INTERVAL", RECONCILE_PAYMENTS: "RECONCILE_INTERVAL"}
#: A periodic job is overdue when its last good run is older than this many intervals.
OVERDUE_INTERVALS = 3


class JobHeartbeat(db.Model):
    __tablename__ = "job_heartbeats"

    #: `scheduler`, or the name of a periodic job.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Job: the end of its last good run. Scheduler: its last tick.
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Job: the start of its last run. Scheduler: when its process started.
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Job: what its last good run did. Scheduler: "running", or why it is waiting.
    detail: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Good runs (jobs) or ticks (scheduler) so far.
    count: Mapped[int] = mapped_column(Integer, default=0)
    #: host:pid of the process that wrote the row last.
    process: Mapped[str | None] = mapped_column(String(200))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _upsert(name: str, values: dict[str, Any], count: bool) -> None:
    """Insert or update the row in one statement: two workers may finish at once."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = JobHeartbeat.__table__
    stmt = insert(table).values(name=name, count=1 if count else 0, **values)
    update = {key: stmt.excluded[key] for key in values}
    if count:
        update["count"] = table.c.count + 1
    db.session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))


def record_success(name: str, started_at: datetime, detail: str) -> None:
    _upsert(
        name,
        {
            "last_ok_at": utcnow(),
            "started_at": started_at,
            "detail": detail[:500],
            "process": process_name(),
        },
        count=True,
    )


def record_failure(name: str, started_at: datetime, error: str) -> None:
    _upsert(
        name,
        {
            "started_at": started_at,
            "last_error_at": utcnow(),
            "last_error": error[:2000],
            "process": process_name(),
        },
        count=False,
    )


def run_periodic(name: str, work: Callable[[], str]) -> str:
    """Run a periodic job's work, then record the run (a good one, or its error) and commit.

    `work` may commit on its own (reconcile commits each resolution). The record of a
    failed run is a transaction of its own; if the database is what failed, that record
    fails too: the original error is raised either way, and the missing heartbeat shows.
    """
    started_at = utcnow()
    try:
        detail = work()
        record_success(name, started_at, str(detail))
        db.session.commit()
        return detail
    except Exception as exc:
        db.session.rollback()
        try:
            record_failure(name, started_at, f"{type(exc).__name__}: {exc}")
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not record the failure of %s", name)
        raise


def scheduler_beat(started_at: datetime, state: str, error: str | None = None) -> None:
    """The scheduler's tick, with its state; committed here (the scheduler has no other
    transaction), and never raised: a scheduler must outlive a database hiccup too."""
    values: dict[str, Any] = {
        "last_ok_at": utcnow(),
        "started_at": started_at,
        "detail": state[:500],
        "process": process_name(),
    }
    if error is not None:
        values.update(last_error_at=utcnow(), last_error=error[:2000])
    try:
        _upsert(SCHEDULER, values, count=True)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("could not write the scheduler heartbeat", exc_info=True)


@dataclass(frozen=True)
class Periodic:
    """What /healthz and /admin/requests show about one periodic job (or the scheduler)."""

    name: str
    #: The job's last good run, or the scheduler's last tick.
    last_ok_at: datetime | None
    detail: str | None
    last_error_at: datetime | None
    last_error: str | None
    #: Seconds between two runs, or two heartbeats of the scheduler.
    interval: int
    overdue: bool
    process: str | None

    @property
    def waiting(self) -> bool:
        """A scheduler that is alive but cannot reach Redis (or its last tick failed)."""
        detail = self.detail or ""
        return self.name == SCHEDULER and bool(detail) and not detail.startswith("running")

    def age(self, now: datetime) -> float | None:
        return None if self.last_ok_at is None else (now - self.last_ok_at).total_seconds()

    def as_json(self, now: datetime) -> dict[str, Any]:
        age = self.age(now)
        return {
            "last_ok_at": self.last_ok_at.isoformat() + "Z" if self.last_ok_at else None,
            "age_seconds": None if age is None else round(age, 1),
            "interval_seconds": self.interval,
            "overdue": self.overdue,
            "detail": self.detail,
            "last_error_at": self.last_error_at.isoformat() + "Z" if self.last_error_at else None,
            "last_error": self.last_error,
            "process": self.process,
        }


def periodic_health(now: datetime | None = None) -> list[Periodic]:
    """The scheduler, then each periodic job, in a fixed order.

    A job is overdue when its last good run is older than OVERDUE_INTERVALS of its
    intervals; a job that never ran, once the scheduler has been up that long (a fresh
    install whose scheduler never started is not flagged: nothing says it should have run).
    The scheduler is overdue when its heartbeat is older than OVERDUE_INTERVALS
    SCHEDULER_HEARTBEATs: its process is gone or stuck.
    """
    now = now or utcnow()
    config = current_app.config
    rows = {row.name: row for row in db.session.scalars(select(JobHeartbeat))}
    scheduler = rows.get(SCHEDULER)
    beat = int(config["SCHEDULER_HEARTBEAT"])
    stopped = _older(scheduler.last_ok_at if scheduler else None, now, beat)
    found = [_periodic(SCHEDULER, scheduler, beat, stopped)]
    for name, setting in PERIODIC.items():
        interval = int(config[setting])
        row = rows.get(name)
        since = row.last_ok_at if row is not None else None
        if since is None and scheduler is not None:
            since = scheduler.started_at
        found.append(_periodic(name, row, interval, _older(since, now, interval)))
    return found


def _older(since: datetime | None, now: datetime, interval: int) -> bool:
    return since is not None and (now - since).total_seconds() > OVERDUE_INTERVALS * interval


def _periodic(name: str, row: JobHeartbeat | None, interval: int, overdue: bool) -> Periodic:
    if row is None:
        return Periodic(name, None, None, None, None, interval, overdue, None)
    return Periodic(
        name,
        row.last_ok_at,
        row.detail,
        row.last_error_at,
        row.last_error,
        interval,
        overdue,
        row.process,
    )
