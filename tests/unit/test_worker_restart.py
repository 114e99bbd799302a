"""`flask worker` outlives a Redis outage even when the outage begins between two workers:
a worker started again registers with Redis at once, and that must wait like the rest."""

from __future__ import annotations

from types import SimpleNamespace

import redis

from b2bshop import jobs


def test_a_worker_started_during_an_outage_waits_instead_of_exiting(make_app, monkeypatch):
    app = make_app(SCHEDULER_MAX_BACKOFF=0.01)
    attempts: list[str] = []

    def make_worker(app, maintenance_interval):  # type: ignore[no-untyped-def]
        attempts.append("make")
        if len(attempts) < 3:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

        def work(burst, with_scheduler):  # type: ignore[no-untyped-def]
            attempts.append("work")

        # A worker told to stop (SIGTERM noted) ends the loop.
        return SimpleNamespace(work=work, _shutdown_requested_date="now")

    monkeypatch.setattr(jobs, "make_worker", make_worker)
    jobs.run_worker(app, burst=False, with_scheduler=False)
    assert attempts == ["make", "make", "make", "work"]
