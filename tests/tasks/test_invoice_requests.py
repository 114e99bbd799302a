"""Request invoice (issue 5): the B2B request, the email job and its failure modes."""

from __future__ import annotations

import email
import os
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from b2bshop import jobs
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from b2bshop.requests import service
from b2bshop.requests.models import B2BRequest, RequestStatus, SentEmail
from tasks import requests as request_jobs

ROOT = Path(__file__).resolve().parents[2]
HX = {"HX-Request": "true"}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _contoso_invoice(app) -> str:
    with app.app_context():
        return db.session.scalar(
            select(Invoice.number)
            .join(Invoice.customer)
            .where(Invoice.customer.has(name="Contoso Group"))
        )


def _requests(app) -> list[B2BRequest]:
    with app.app_context():
        rows = db.session.scalars(select(B2BRequest).order_by(B2BRequest.id)).all()
        db.session.expunge_all()
        return rows


@pytest.fixture
def buyer(client, demo, login):
    return login("buyer@contoso.example")


def test_dialog_shows_the_registered_address(buyer, app):
    number = _contoso_invoice(app)
    fragment = buyer.get(f"/invoices/{number}/request", headers=HX).get_data(as_text=True)
    assert fragment.lstrip().startswith("<dialog open")
    assert "buyer@contoso.example" in fragment and "<html" not in fragment
    page = buyer.get(f"/invoices/{number}/request").get_data(as_text=True)  # without JS
    assert "<html" in page and "Send it to me" in page


def test_request_is_pending_at_once_and_listed(buyer, app):
    number = _contoso_invoice(app)
    response = buyer.post(f"/invoices/{number}/request", headers=HX)
    assert response.status_code == 200
    assert "B2B requests" in response.get_data(as_text=True)
    assert "requestCreated" in response.headers["HX-Trigger"]
    [request] = _requests(app)
    assert request.status == RequestStatus.PENDING and request.email == "buyer@contoso.example"
    listing = buyer.get("/account/requests").get_data(as_text=True)
    assert f'id="request-{request.id}" data-status="pending"' in listing
    assert 'hx-trigger="every 2s"' in listing  # polls while pending


def test_request_without_javascript_redirects_to_the_list(buyer, app):
    number = _contoso_invoice(app)
    response = buyer.post(f"/invoices/{number}/request")
    assert response.status_code == 302 and response.headers["Location"] == "/account/requests"


def test_other_customers_invoice_cannot_be_requested(client, demo, login, app):
    number = _contoso_invoice(app)
    login("buyer@fabrikam.example")
    assert client.get(f"/invoices/{number}/request").status_code == 404
    assert client.post(f"/invoices/{number}/request").status_code == 404
    assert _requests(app) == []


def _make_request(app) -> int:
    with app.test_request_context():
        from b2bshop.accounts.models import User

        user = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        request = service.request_invoice_copy(user, _contoso_invoice(app), "fr")
        db.session.commit()
        return request.id


def _run(app, request_id):
    with app.app_context():
        try:
            return request_jobs.send_invoice_email(request_id)
        finally:
            db.session.remove()


def test_job_sends_one_localized_email_with_the_pdf(app, demo):
    request_id = _make_request(app)
    assert _run(app, request_id) == "sent"
    assert _run(app, request_id) == "nothing to do"  # a second run sends nothing
    messages = _sent(app)
    assert len(messages) == 1
    message = messages[0]
    assert message.to == ["buyer@contoso.example"]
    assert message.subject.startswith("Facture INV-")  # the requester's language
    assert message.attachments[0][0].endswith(".pdf")
    assert message.attachments[0][2] == "application/pdf"
    [request] = _requests(app)
    assert request.status == RequestStatus.COMPLETED and request.completed_at


@pytest.fixture(autouse=True)
def _clear_outbox(outbox):
    return outbox


def _refuse(monkeypatch, error: Exception) -> None:
    """The mail backend refuses every message with `error` (the SMTP path raises the same)."""

    def refuse(self, messages):
        raise error

    monkeypatch.setattr("flask_mailman.backends.locmem.EmailBackend.send_messages", refuse)


def test_mail_server_refusal_is_retried_then_sent_once(app, demo, monkeypatch):
    request_id = _make_request(app)
    _refuse(
        monkeypatch,
        smtplib.SMTPRecipientsRefused({"buyer@contoso.example": (450, b"mailbox busy")}),
    )
    monkeypatch.setattr(request_jobs, "_last_attempt", lambda: False)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _run(app, request_id)
    [request] = _requests(app)
    assert request.status == RequestStatus.PENDING and "SMTPRecipientsRefused" in request.last_error
    assert request.lease_expires_at is None  # the retry may take it at once
    with app.app_context():
        intent = db.session.scalar(select(SentEmail))
        # The intent stays, with the Message-ID the retry sends again.
        assert (intent.state, intent.sends) == ("sending", 1)
        message_id = intent.message_id
    monkeypatch.undo()
    assert _run(app, request_id) == "sent"
    [message] = _sent(app)
    assert message.extra_headers["Message-ID"] == message_id
    with app.app_context():
        intent = db.session.scalar(select(SentEmail))
        assert (intent.state, intent.sends, intent.message_id) == ("sent", 2, message_id)


def test_last_attempt_fails_the_request_with_the_error_kept(app, demo, monkeypatch):
    request_id = _make_request(app)
    _refuse(monkeypatch, ConnectionRefusedError("no smtp"))
    monkeypatch.setattr(request_jobs, "_last_attempt", lambda: True)
    with pytest.raises(ConnectionRefusedError):
        _run(app, request_id)
    [request] = _requests(app)
    assert request.status == RequestStatus.FAILED and "no smtp" in request.last_error


@pytest.mark.redis
def test_queue_down_keeps_the_request_and_sync_queues_it_later(make_app, demo, app):
    """Redis unreachable: the request is saved pending and the buyer sees no error. Once
    Redis is back, the sync job queues it and a worker completes it."""
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client = down.test_client()
    client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
    number = _contoso_invoice(app)
    response = client.post(f"/invoices/{number}/request", headers=HX)
    assert response.status_code == 200 and "is registered" in response.get_data(as_text=True)
    [request] = _requests(app)
    assert request.status == RequestStatus.PENDING

    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    back = make_app(REDIS_URL=REDIS_URL)
    try:
        with back.app_context():
            assert request_jobs.sync_requests().startswith("1 queued again")
            assert jobs.get_queue().count == 1
            # already queued: not twice
            assert request_jobs.sync_requests().startswith("0 queued again")
            jobs.make_worker(back).work(burst=True)
        [request] = _requests(app)
        assert request.status == RequestStatus.COMPLETED
        assert len(_sent(back)) == 1
    finally:
        conn.flushdb()


def test_requests_page_filters_and_scope(client, demo, login, app):
    _make_request(app)
    login("ap@contoso.example")  # a plain buyer sees only their own requests
    assert 'data-status="pending"' not in client.get("/account/requests").get_data(as_text=True)
    client.post("/logout")
    login("buyer@contoso.example")  # the buyer admin sees the customer's
    html = client.get("/account/requests?status=pending").get_data(as_text=True)
    assert 'data-status="pending"' in html
    assert 'data-status="pending"' not in client.get("/account/requests?status=completed").get_data(
        as_text=True
    )


def test_polling_stops_when_nothing_is_pending(buyer, app):
    request_id = _make_request(app)
    _run(app, request_id)
    fragment = buyer.get("/account/requests", headers=HX).get_data(as_text=True)
    assert 'data-status="completed"' in fragment and "every 2s" not in fragment


@pytest.mark.redis
def test_real_worker_and_smtp_server_deliver_the_pdf(make_app, demo, database_url, app):
    """A real `flask worker` process on the machine's Redis, a real SMTP server (aiosmtpd)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    received = []

    class Collect(Sink):
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queued_app = make_app(REDIS_URL=REDIS_URL)
        client = queued_app.test_client()
        client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
        number = _contoso_invoice(app)
        assert client.post(f"/invoices/{number}/request").status_code == 302
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "test",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(port),
            "PYTHONPATH": str(ROOT),
        }
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        controller.stop()
        conn.flushdb()
    assert len(received) == 1
    message = email.message_from_bytes(received[0])
    assert message["To"] == "buyer@contoso.example"
    pdfs = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1 and pdfs[0].get_payload(decode=True).startswith(b"%PDF")
    [request] = _requests(app)
    assert request.status == RequestStatus.COMPLETED


def test_embedded_mode_completes_a_request_by_itself(make_app, demo, app, tmp_path):
    embedded = make_app(
        QUEUE_EMBEDDED_WORKER=True,
        REDIS_URL="",
        MAIL_BACKEND="b2bshop.mailing.EmlFileEmailBackend",
        MAIL_FILE_PATH=str(tmp_path),
    )
    client = embedded.test_client()
    client.post("/login", data={"email": "buyer@contoso.example", "password": "demo"})
    number = _contoso_invoice(app)
    client.post(f"/invoices/{number}/request", headers=HX)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        [request] = _requests(app)
        if request.status == RequestStatus.COMPLETED:
            break
        time.sleep(0.1)
    assert request.status == RequestStatus.COMPLETED
    jobs.stop_embedded_worker(embedded)
    [eml] = list(tmp_path.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes())
    assert any(p.get_content_type() == "application/pdf" for p in message.walk())


@pytest.mark.redis
def test_cron_command_queues_the_sync_on_redis(make_app, database_url):
    """`flask --app wsgi cron` queues every periodic job right away (the request sync, the
    payment reconcile, the quotation sweep, the campaign sync), then every interval."""
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "cron"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = make_app(REDIS_URL=REDIS_URL)
        with app.app_context():
            queue = jobs.get_queue()
            deadline = time.monotonic() + 20
            while queue.count < 4 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert sorted(job.func_name for job in queue.get_jobs()) == [
                "tasks.campaigns.sync_campaigns",
                "tasks.payments.reconcile_payments",
                "tasks.quotations.sweep_quotations",
                "tasks.requests.sync_requests",
            ]
    finally:
        process.terminate()
        process.wait(10)
        conn.flushdb()


def _sent(app) -> list:
    return app.extensions["mailman"].outbox


def test_embedded_clock_runs_the_sync_and_completes_a_lost_request(make_app, demo, app):
    """A pending request whose job was lost: the embedded clock queues the sync job, which
    queues the request again, which the worker thread completes."""
    with app.app_context():
        from b2bshop.accounts.models import User

        user = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        invoice = db.session.scalar(select(Invoice).where(Invoice.customer_id == user.customer_id))
        lost = B2BRequest(
            kind="invoice_copy",
            customer_id=user.customer_id,
            requester=user,
            invoice=invoice,
            email=user.email,
            job_id="lost-job",
        )
        db.session.add(lost)
        db.session.commit()
    embedded = make_app(QUEUE_EMBEDDED_WORKER=True, REDIS_URL="", SYNC_INTERVAL=1)
    embedded.test_client().get("/healthz")  # starts the worker and the clock

    def periodic() -> dict:
        return app.test_client().get("/healthz").json["periodic"]

    # The clock queues the sync and the payment reconcile; the worker runs them (and the
    # request the sync queued again) one after the other, in whatever order they came.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        _requests(app)[0].status != RequestStatus.COMPLETED
        or periodic()["reconcile_payments"]["last_ok_at"] is None
    ):
        time.sleep(0.2)
    jobs.stop_embedded_worker(embedded)
    assert _requests(app)[0].status == RequestStatus.COMPLETED
    assert len(_sent(embedded)) == 1
    # The same heartbeats as `flask cron` and its jobs write, for /healthz (asked of the
    # test app: a request to the stopped embedded app would start its worker again).
    health = periodic()
    assert health["scheduler"]["detail"] == "running (embedded)"
    assert "queued again" in health["sync_requests"]["detail"]
    assert health["reconcile_payments"]["last_ok_at"] is not None
