"""Issue 14 in-process: at-least-once delivery with one Message-ID, leases, the periodic jobs'
heartbeats and what /healthz and /admin/requests make of them. The same rules on real
processes killed with SIGKILL are in tests/faults/test_jobs_faults.py."""

from __future__ import annotations

import asyncio
import email
import smtplib
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from b2bshop import heartbeats, jobs
from b2bshop.extensions import db
from b2bshop.heartbeats import JobHeartbeat
from b2bshop.requests import delivery, service
from b2bshop.requests.models import B2BRequest, RequestStatus, SentEmail
from tasks import requests as request_jobs
from tests.tasks.test_invoice_requests import _make_request, _requests, _run, _sent

HX = {"HX-Request": "true"}


class WorkerKilled(BaseException):
    """A worker that dies on the spot: nothing after this line runs, nothing is caught."""


@pytest.fixture(autouse=True)
def _clear_outbox(outbox):
    return outbox


def _intent(app) -> SentEmail:
    with app.app_context():
        intent = db.session.scalar(select(SentEmail))
        db.session.expunge_all()
        return intent


def _expire_leases(app) -> None:
    """Time passes beyond every lease (the job timeout plus the margin)."""
    with app.app_context():
        db.session.execute(
            update(B2BRequest)
            .where(B2BRequest.lease_expires_at.is_not(None))
            .values(lease_expires_at=heartbeats.utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def _sync(app) -> str:
    with app.app_context():
        try:
            return request_jobs.sync_requests()
        finally:
            db.session.remove()


def _status_label(client, request_id: int) -> str:
    html = client.get("/account/requests", headers=HX).get_data(as_text=True)
    row = html.split(f'id="request-{request_id}"', 1)[1].split("</tr>", 1)[0]
    return row.split('class="status', 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_a_worker_dying_after_the_server_accepted_sends_again_with_the_same_message_id(
    app, demo, monkeypatch, client, login
):
    """The unknown outcome: the server has the message, the worker died before recording
    it. The request is not completed, so it is sent again, with the same Message-ID."""
    request_id = _make_request(app)

    def die(*args):
        raise WorkerKilled

    monkeypatch.setattr(request_jobs, "_record_accepted", die)
    with pytest.raises(WorkerKilled):
        _run(app, request_id)
    monkeypatch.undo()
    [first] = _sent(app)
    [request] = _requests(app)
    assert request.status == RequestStatus.PROCESSING and request.lease_expires_at
    login("buyer@contoso.example")
    assert _status_label(client, request_id) == "Sending"  # never Completed before

    assert _run(app, request_id) == "nothing to do"  # the dead job's lease still holds it
    assert _sync(app).startswith("0 queued again, 0 leases expired")
    _expire_leases(app)
    assert _sync(app) == "0 queued again, 1 leases expired, 0 failed"
    [request] = _requests(app)
    assert request.status == RequestStatus.PENDING and "lease expired" in request.last_error
    with app.app_context():
        assert request.job_id in jobs.get_queue().get_job_ids()  # queued again

    assert _run(app, request_id) == "sent"
    first_again, second = _sent(app)
    assert first_again is first
    assert second.extra_headers["Message-ID"] == first.extra_headers["Message-ID"]
    [request] = _requests(app)
    assert request.status == RequestStatus.COMPLETED and request.attempts == 2
    assert request.lease_expires_at is None and request.last_error is None
    intent = _intent(app)
    assert (intent.state, intent.sends, intent.sent_at is not None) == ("sent", 2, True)
    assert _status_label(client, request_id) == "Completed"


def test_a_worker_dying_before_the_server_accepted_sends_it_later(app, demo, monkeypatch):
    """Killed during the SMTP conversation: nothing was accepted, the intent (and its
    Message-ID) was committed before it; once the lease expires the email goes out once."""
    request_id = _make_request(app)

    def die(message):
        raise WorkerKilled

    monkeypatch.setattr(delivery, "send", die)
    with pytest.raises(WorkerKilled):
        _run(app, request_id)
    monkeypatch.undo()
    assert _sent(app) == []
    intent = _intent(app)
    assert (intent.state, intent.sends) == ("sending", 1)  # committed before the conversation
    _expire_leases(app)
    assert "1 leases expired" in _sync(app)
    assert _run(app, request_id) == "sent"
    [message] = _sent(app)
    assert message.extra_headers["Message-ID"] == intent.message_id
    assert _requests(app)[0].status == RequestStatus.COMPLETED


def test_one_job_at_a_time_holds_a_request(app, demo, monkeypatch):
    """A second job (the sync's, RQ's retry of an abandoned one, an admin's retry) finds
    the request under a live lease and leaves it."""
    request_id = _make_request(app)
    seen = []

    def send_while_another_job_starts(message):
        with app.app_context():
            seen.append(request_jobs.send_invoice_email(request_id))
            db.session.remove()
        raise smtplib.SMTPDataError(451, b"try again later")

    monkeypatch.setattr(delivery, "send", send_while_another_job_starts)
    monkeypatch.setattr(request_jobs, "_last_attempt", lambda: False)
    with pytest.raises(smtplib.SMTPDataError):
        _run(app, request_id)
    assert seen == ["nothing to do"]
    monkeypatch.undo()
    assert _run(app, request_id) == "sent"  # released for the retry: taken again at once
    assert len(_sent(app)) == 1


def test_a_request_whose_worker_keeps_dying_fails_after_max_attempts(make_app, demo, app):
    limited = make_app(REQUEST_MAX_ATTEMPTS=2)
    request_id = _make_request(app)
    with limited.app_context():
        for _ in range(2):
            request = db.session.get(B2BRequest, request_id)
            service.take(request, None, heartbeats.utcnow() - timedelta(days=1))
            db.session.commit()
            request_jobs.sync_requests()
        db.session.remove()
    [request] = _requests(app)
    assert request.status == RequestStatus.FAILED and request.attempts == 2
    assert "Gave up after 2 attempts" in request.last_error


def test_a_processing_request_without_a_lease_is_swept(app, demo):
    """Requests left processing by the code before leases (issue 14: never swept)."""
    request_id = _make_request(app)
    with app.app_context():
        request = db.session.get(B2BRequest, request_id)
        request.status = RequestStatus.PROCESSING
        db.session.commit()
    assert "1 leases expired" in _sync(app)
    assert _run(app, request_id) == "sent"


def test_the_periodic_jobs_record_their_runs(app, monkeypatch):
    assert _sync(app).startswith("0 queued again")
    with app.app_context():
        from tasks.payments import reconcile_payments

        assert "0 completed" in reconcile_payments()
        rows = {r.name: r for r in db.session.scalars(select(JobHeartbeat))}
        assert set(rows) == {"sync_requests", "reconcile_payments"}
        sync = rows["sync_requests"]
        assert sync.count == 1 and sync.last_ok_at >= sync.started_at
        assert sync.detail == "0 queued again, 0 leases expired, 0 failed"
        assert sync.last_error is None

        def broken():
            raise RuntimeError("registry unreadable")

        monkeypatch.setattr(request_jobs, "_sync", broken)
        with pytest.raises(RuntimeError):
            request_jobs.sync_requests()
        db.session.expire_all()
        sync = db.session.get(JobHeartbeat, "sync_requests")
        assert sync.count == 1 and sync.last_error == "RuntimeError: registry unreadable"
        assert sync.last_error_at >= sync.last_ok_at
        db.session.remove()


def _beat(name: str, seconds_ago: float, **values) -> None:
    when = heartbeats.utcnow() - timedelta(seconds=seconds_ago)
    row = db.session.get(JobHeartbeat, name) or JobHeartbeat(name=name, count=1)
    row.last_ok_at = when
    row.started_at = values.pop("started_at", when)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.commit()


def test_healthz_is_degraded_when_a_periodic_job_has_not_run_for_3_intervals(client, app):
    body = client.get("/healthz").json
    assert body["status"] == "ok"  # a fresh install: nothing says a job should have run
    assert body["periodic"]["sync_requests"]["last_ok_at"] is None
    with app.app_context():
        _beat("scheduler", 1, detail="running", started_at=heartbeats.utcnow())
        _beat("sync_requests", 30, detail="0 queued again")
        _beat("reconcile_payments", 100)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    sync = response.json["periodic"]["sync_requests"]
    assert sync["overdue"] is False and sync["interval_seconds"] == 60
    assert 29 <= sync["age_seconds"] < 40 and sync["detail"] == "0 queued again"
    assert response.json["periodic"]["scheduler"]["detail"] == "running"

    with app.app_context():
        _beat("sync_requests", 3 * 60 + 5)  # missed 3 runs: the stuck cron
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "degraded" and response.json["overdue"] == ["sync_requests"]
    assert response.json["database"] == "ok" and response.json["queue"]["ok"] is True

    with app.app_context():
        _beat("sync_requests", 1)
        _beat("reconcile_payments", 3 * 300 + 5)  # the reconcile job: the same rule
    response = client.get("/healthz")
    assert (response.status_code, response.json["overdue"]) == (503, ["reconcile_payments"])

    with app.app_context():
        _beat("reconcile_payments", 1)
        _beat("scheduler", 31, detail="running")  # no heartbeat for 3 x 10 s: cron is gone
    response = client.get("/healthz")
    assert (response.status_code, response.json["overdue"]) == (503, ["scheduler"])


def test_a_job_that_never_ran_is_overdue_once_the_scheduler_has_been_up_3_intervals(client, app):
    with app.app_context():
        _beat("scheduler", 1, detail="running", started_at=heartbeats.utcnow())
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        _beat("scheduler", 1, started_at=heartbeats.utcnow() - timedelta(minutes=16))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["overdue"] == ["sync_requests", "reconcile_payments"]


def test_admin_requests_shows_the_periodic_jobs_and_each_email(client, demo, login, app):
    request_id = _make_request(app)
    _run(app, request_id)
    _sync(app)
    with app.app_context():
        _beat(
            "scheduler",
            2,
            detail="Redis unreachable (ConnectionError: refused); retrying",
            process="host:42",
        )
        _beat("reconcile_payments", 3 * 300 + 5, last_error="RuntimeError: provider down")
        db.session.get(JobHeartbeat, "reconcile_payments").last_error_at = heartbeats.utcnow()
        db.session.commit()
    login("admin@b2bshop.example")
    html = client.get("/admin/requests", headers=HX).get_data(as_text=True)
    scheduler = html.split('id="periodic-scheduler"', 1)[1].split('id="periodic-sync', 1)[0]
    assert "tile-warn" in html.split('id="periodic-scheduler"', 1)[0].rsplit("<div", 1)[1]
    assert "Redis unreachable" in scheduler and "host:42" in scheduler
    sync = html.split('id="periodic-sync_requests"', 1)[1].split('id="periodic-reconcile', 1)[0]
    assert 'data-overdue="false"' in sync and "0 queued again" in sync
    reconcile = html.split('id="periodic-reconcile_payments"', 1)[1].split("</div>", 1)[0]
    assert 'data-overdue="true"' in reconcile and "provider down" in reconcile
    mail = html.split(f'id="admin-request-{request_id}-email"', 1)[1].split("</td>", 1)[0]
    intent = _intent(app)
    assert "Accepted by the mail server" in mail and "1 SMTP conversation" in mail
    assert intent.message_id.strip("<>") in mail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_sink():
    """A real SMTP server (aiosmtpd); `replies` scripts its answers to DATA, in order,
    then 250; `quit_hangs` makes it answer QUIT only after the client's timeout."""
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.replies: list[str] = []
            self.accepted: list[bytes] = []
            self.quit_hangs = False

        async def handle_DATA(self, server, session, envelope):
            if self.replies:
                return self.replies.pop(0)
            self.accepted.append(envelope.content)
            return "250 OK"

        async def handle_QUIT(self, server, session, envelope):
            if self.quit_hangs:
                await asyncio.sleep(2)
            return "221 Bye"

    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_smtp_delivery_returns_on_the_reply_to_data(make_app, demo, app, smtp_sink):
    """Accepted means the 250 to DATA: a QUIT that times out afterwards changes nothing; a
    4xx or 5xx to DATA raises, so the job retries."""
    handler, port = smtp_sink
    smtp_app = make_app(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=1
    )
    request_id = _make_request(app)
    with smtp_app.app_context():
        request = db.session.get(B2BRequest, request_id)
        message = request_jobs.build_invoice_email(request, "<one@b2bshop.local>", "k-1")
        handler.replies = ["451 4.3.0 try again", "554 5.7.1 refused"]
        with pytest.raises(smtplib.SMTPDataError) as first:
            delivery.send(message)
        assert first.value.smtp_code == 451
        with pytest.raises(smtplib.SMTPDataError) as second:
            delivery.send(message)
        assert second.value.smtp_code == 554
        handler.quit_hangs = True
        started = time.monotonic()
        delivery.send(message)  # accepted; QUIT timed out after 1 s: not an error
        assert time.monotonic() - started >= 0.9
        db.session.remove()
    [accepted] = handler.accepted
    assert email.message_from_bytes(accepted)["Message-ID"] == "<one@b2bshop.local>"


def test_cron_waits_out_an_unreachable_redis_and_keeps_beating(make_app):
    """`flask cron`'s loop with Redis refusing: no exception, a heartbeat saying so, and it
    stops when asked."""
    cron_app = make_app(
        REDIS_URL="redis://127.0.0.1:1/0", SCHEDULER_MAX_BACKOFF=1, SCHEDULER_HEARTBEAT=1
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        with cron_app.app_context():
            try:
                jobs.run_cron(cron_app, stop)
            except BaseException as exc:  # the test fails on any
                failures.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        row = None
        while time.monotonic() < deadline:
            with cron_app.app_context():
                row = db.session.get(JobHeartbeat, "scheduler")
                count = row.count if row else 0
                db.session.remove()
            if count >= 3:
                break
            time.sleep(0.2)
        assert thread.is_alive() and not failures
        assert row is not None and row.count >= 3, "no heartbeats while Redis was down"
        assert row.detail.startswith("Redis unreachable (ConnectionError")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and not failures
