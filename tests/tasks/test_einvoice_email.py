"""The invoice email attaches what the billed customer prefers (issue 16): the PDF, the PDF
and the UBL file, or the Factur-X PDF. A real `flask worker` process on the machine's Redis
sends it to a real SMTP server (aiosmtpd), as the request tests do."""

from __future__ import annotations

import email
import io
import os
import socket
import subprocess
import sys
import time

import pytest
import redis
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from b2bshop.accounts.models import Customer, EInvoiceFormat
from b2bshop.extensions import db
from b2bshop.requests.models import RequestStatus
from tests.tasks.test_invoice_requests import REDIS_URL, ROOT, _contoso_invoice, _requests


def _send_with_a_real_worker(make_app, app, database_url) -> list[bytes]:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    received: list[bytes] = []

    class Collect(Sink):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(envelope.content)
            return "250 OK"

    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        client = make_app(REDIS_URL=REDIS_URL).test_client()
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
    [request] = _requests(app)
    assert request.status == RequestStatus.COMPLETED
    return received


def _attachments(raw: bytes) -> dict[str, tuple[str, bytes]]:
    message = email.message_from_bytes(raw)
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.walk()
        if part.get_filename()
    }


@pytest.mark.parametrize("preference", list(EInvoiceFormat))
def test_the_invoice_email_attaches_the_customers_preference(
    make_app, demo, database_url, app, preference
):
    with app.app_context():
        group = db.session.scalar(select(Customer).where(Customer.name == "Contoso Group"))
        group.einvoice_format = preference
        db.session.commit()
    [raw] = _send_with_a_real_worker(make_app, app, database_url)
    number = _contoso_invoice(app)
    files = _attachments(raw)
    if preference == EInvoiceFormat.FACTURX:
        assert list(files) == [f"{number}.facturx.pdf"]
        kind, body = files[f"{number}.facturx.pdf"]
        assert kind == "application/pdf"
        embedded = PdfReader(io.BytesIO(body)).attachments
        assert b"CrossIndustryInvoice" in embedded["factur-x.xml"][0]
        return
    assert files[f"{number}.pdf"][0] == "application/pdf"
    assert files[f"{number}.pdf"][1].startswith(b"%PDF")
    if preference == EInvoiceFormat.PDF:
        assert list(files) == [f"{number}.pdf"]
    else:
        assert list(files) == [f"{number}.pdf", f"{number}.ubl.xml"]
        kind, body = files[f"{number}.ubl.xml"]
        assert kind == "application/xml"
        root = etree.fromstring(body)
        assert etree.QName(root).localname == "Invoice"
        assert root.findtext("{*}ID") == number
