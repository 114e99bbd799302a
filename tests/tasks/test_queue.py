"""The queue (issue 2.8): one real job in each mode, enqueued only after commit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from b2bshop import jobs
from b2bshop.accounts.models import Customer
from b2bshop.extensions import db
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _customer_name(app, customer_id):
    with app.app_context():
        name = db.session.get(Customer, customer_id).name
        db.session.remove()
        return name


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_embedded_mode_runs_a_job_in_the_worker_thread(make_app):
    app = make_app(QUEUE_EMBEDDED_WORKER=True, REDIS_URL="")
    with app.app_context():
        customer_id = factories.customer("Before").id
        db.session.commit()
    app.test_client().get("/healthz")  # the first request starts the worker thread
    assert app.extensions["b2bshop_worker_thread"].is_alive()
    with app.app_context():
        jobs.enqueue_after_commit("tests.tasks.sample_jobs.rename_customer", customer_id, "After")
        # Not queued before the commit: a worker must never see uncommitted rows.
        assert _customer_name(app, customer_id) == "Before"
        db.session.commit()
    assert _wait_for(lambda: _customer_name(app, customer_id) == "After")
    jobs.stop_embedded_worker(app)
    assert "b2bshop_worker_thread" not in app.extensions


def test_rollback_drops_the_job(make_app):
    app = make_app(QUEUE_EMBEDDED_WORKER=False, REDIS_URL="")
    with app.app_context():
        customer_id = factories.customer("Before").id
        db.session.commit()
        queue = jobs.get_queue()
        queue.empty()
        jobs.enqueue_after_commit("tests.tasks.sample_jobs.rename_customer", customer_id, "X")
        db.session.rollback()
        db.session.commit()
        assert queue.count == 0


def test_queue_down_at_commit_keeps_the_data(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", QUEUE_EMBEDDED_WORKER=False)
    with app.app_context():
        customer = factories.customer("Saved")
        jobs.enqueue_after_commit("tests.tasks.sample_jobs.rename_customer", customer.id, "X")
        db.session.commit()  # no exception: the sync job re-enqueues later
        assert db.session.get(Customer, customer.id).name == "Saved"
    health = app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.json["queue"]["ok"] is False
    assert health.json["database"] == "ok"


@pytest.fixture
def real_redis():
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis at {REDIS_URL} is not answering: run ../shared/services-up")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.mark.redis
def test_redis_mode_runs_a_job_in_flask_worker(make_app, real_redis, database_url):
    app = make_app(REDIS_URL=REDIS_URL, QUEUE_EMBEDDED_WORKER=False)
    with app.app_context():
        customer_id = factories.customer("Before").id
        db.session.commit()
        jobs.enqueue_after_commit("tests.tasks.sample_jobs.rename_customer", customer_id, "After")
        db.session.commit()
        assert jobs.get_queue().count == 1
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _customer_name(app, customer_id) == "After"
    with app.app_context():
        health = jobs.queue_health()
    assert health["ok"] and health["mode"] == "redis"
    assert health["queued"] == 0 and health["failed"] == 0


def test_worker_command_refuses_without_redis(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output
