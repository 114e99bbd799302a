"""The store dies in the middle of a card checkout; reconcile repairs what it left behind.

A real `flask run` process is started with FAULT_CRASH_AT naming one of the checkout's crash
points (b2bshop/core/faults.py); a buyer signs in, puts an invoice of 100.00 in the cart and
pays it by card, over HTTP with CSRF on, as a browser would. The process SIGKILLs itself at
that point: no response, no rollback, no cleanup. Then `flask --app wsgi payments reconcile`
runs as a process of its own, and a restarted store shows the buyer the right status:

| crash point           | left behind                | after reconcile                   |
|-----------------------|----------------------------|-----------------------------------|
| before_charge         | pending payment, 0 charges | payment failed, invoice unpaid    |
| after_charge          | pending payment, 1 charge  | payment completed, invoice paid   |
| before_outcome_commit | pending payment, 1 charge  | payment completed, invoice paid   |

PostgreSQL only: the store and the CLI are separate processes on one database, and the crash
points do not depend on which database it is.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from http.client import HTTPException
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, ProxyHandler, Request, build_opener

import pytest
from sqlalchemy import func, select

from b2bshop.billing.models import Invoice
from b2bshop.cart.models import CartLine
from b2bshop.extensions import db
from b2bshop.payments.models import Payment, SandboxCharge
from tests import factories
from tests.conftest import ON_POSTGRES, csrf_token_from

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="one database is enough for the fault suite: the crash points do not depend on it",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
APPROVED_CARD = "4242424242424242"
PASSWORD = "fault-pass-1"
KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
SERVER_START_TIMEOUT = 20
CRASH_TIMEOUT = 15


class Client:
    """A cookie-keeping HTTP client that never goes through a proxy (urllib follows
    redirects, a POST's as a GET)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = build_opener(ProxyHandler({}), HTTPCookieProcessor(CookieJar()))

    def request(
        self, path: str, data: dict | None = None, timeout: float = 15
    ) -> tuple[int, str, str]:
        """(status, final path, body) of a GET, or of a form POST when data is given."""
        body = urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(Request(self.base + path, data=body), timeout=timeout) as resp:
                url, html = resp.geturl(), resp.read().decode()
                return resp.status, url.removeprefix(self.base), html
        except HTTPError as error:
            with error:
                return error.code, path, error.read().decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"FAULT_CRASH_AT", "FLASK_DEBUG", "FLASK_APP", "CARD_PENDING_TIMEOUT"}
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "fault-suite-secret",
            "REDIS_URL": "",
            "QUEUE_EMBEDDED_WORKER": "0",
            "SESSION_COOKIE_SECURE": "0",
            "MAIL_FILE_PATH": str(tmp_path / "mail"),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


@contextlib.contextmanager
def store(database_url: str, tmp_path: Path, name: str, **extra: str) -> Iterator[dict]:
    """A `flask run` process on a free port, answering /login; always killed at the end,
    its output printed (pytest shows it when the test fails)."""
    port = _free_port()
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
            cwd=ROOT,
            env=_env(database_url, tmp_path, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert process.poll() is None, f"{name} exited early:\n{_tail(log_path)}"
            try:
                if Client(base).request("/login", timeout=2)[0] == 200:
                    break
            except (URLError, OSError, HTTPException):
                pass
            assert time.monotonic() < deadline, (
                f"{name} did not answer in {SERVER_START_TIMEOUT} s:\n{_tail(log_path)}"
            )
            time.sleep(0.1)
        yield {"base": base, "process": process, "log": log_path}
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(10)
        print(f"--- {name} (exit {process.returncode}) ---\n{_tail(log_path)}")


def reconcile(database_url: str, tmp_path: Path, name: str) -> str:
    """`flask --app wsgi payments reconcile` with every pending card payment stale."""
    done = subprocess.run(
        [*FLASK, "payments", "reconcile"],
        cwd=ROOT,
        env=_env(database_url, tmp_path, CARD_PENDING_TIMEOUT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    (tmp_path / f"{name}.log").write_text(output)
    print(f"--- {name} (exit {done.returncode}) ---\n{output[-4000:]}")
    assert done.returncode == 0, output[-4000:]
    return done.stdout


def sign_in(base: str, email: str) -> Client:
    buyer = Client(base)
    status, _, html = buyer.request("/login")
    assert status == 200
    form = {"email": email, "password": PASSWORD, "csrf_token": csrf_token_from(html)}
    status, path, html = buyer.request("/login", form)
    assert (status, path) == (200, "/"), html[:2000]
    return buyer


def snapshot(app, number: str) -> dict:
    """Payments, provider ledger and the invoice, as the database has them now."""
    with app.app_context():
        try:
            invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
            payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
            charges = db.session.scalars(select(SandboxCharge).order_by(SandboxCharge.id)).all()
            in_carts = db.session.scalar(
                select(func.count(CartLine.id)).where(CartLine.invoice_id == invoice.id)
            )
            return {
                "in_carts": in_carts,
                "invoice": {
                    "status": invoice.status.value,
                    "amount_paid": invoice.amount_paid,
                    "amount_reserved": invoice.amount_reserved,
                    "reserved_since": invoice.reserved_since,
                },
                "payments": [
                    {
                        "number": p.number,
                        "key": p.provider_key,
                        "method": p.method.value,
                        "status": p.status.value,
                        "amount": p.amount,
                        "reference": p.provider_reference,
                        "reason": p.status_reason,
                        "resolved_at": p.resolved_at,
                        "allocations": [(a.invoice.number, a.amount) for a in p.allocations],
                    }
                    for p in payments
                ],
                "charges": [
                    {
                        "key": c.idempotency_key,
                        "reference": c.reference,
                        "status": c.status.value,
                        "amount": c.amount,
                        "refunded_at": c.refunded_at,
                    }
                    for c in charges
                ],
            }
        finally:
            db.session.remove()


@pytest.mark.parametrize("point", ["before_charge", "after_charge", "before_outcome_commit"])
def test_a_crash_in_card_checkout_is_repaired_by_reconcile(
    app, database_url: str, tmp_path: Path, point: str
) -> None:
    charged = point != "before_charge"
    email = f"crash-{point.replace('_', '-')}@example.com"

    # 1. A customer, an unpaid invoice of 100.00, a buyer who may pay it.
    with app.app_context():
        customer = factories.customer("Crash Test")
        number = factories.invoice(customer, "100.00").number
        factories.user(email, customer=customer, password=PASSWORD)
        db.session.commit()
        db.session.remove()

    # 2.-3. The store, set to die at the point; the buyer pays the invoice by card.
    with store(database_url, tmp_path, f"store-{point}", FAULT_CRASH_AT=point) as web:
        buyer = sign_in(web["base"], email)
        status, _, html = buyer.request(f"/invoices/{number}")
        assert status == 200 and "status-unpaid" in html
        status, path, html = buyer.request(
            "/cart/invoices", {"invoice": number, "csrf_token": csrf_token_from(html)}
        )
        assert (status, path) == (200, "/checkout"), html[:2000]
        status, _, html = buyer.request("/checkout")
        assert status == 200 and number in html
        checkout = {
            "method": "card",
            "card_number": APPROVED_CARD,
            "idempotency_key": KEY_RE.search(html).group(1),
            "csrf_token": csrf_token_from(html),
        }
        started = time.monotonic()
        with pytest.raises((URLError, OSError, HTTPException)) as broken:
            answer = buyer.request("/checkout", checkout, timeout=CRASH_TIMEOUT)
            pytest.fail(f"the store answered the checkout at {point}: {answer[:2]}")
        assert time.monotonic() - started < CRASH_TIMEOUT, f"no crash, a timeout: {broken.value}"
        assert web["process"].wait(10) == -signal.SIGKILL

    # 4. What the crash left: a pending payment holding the invoice; a charge or not.
    left = snapshot(app, number)
    (payment,) = left["payments"]
    assert payment["method"] == "card" and payment["status"] == "pending", left
    assert payment["amount"] == Decimal("100.00")
    assert payment["allocations"] == [(number, Decimal("100.00"))]
    assert left["invoice"]["status"] == "unpaid"
    assert left["invoice"]["amount_paid"] == Decimal("0.00")
    assert left["invoice"]["amount_reserved"] == Decimal("100.00"), left
    assert len(left["charges"]) == (1 if charged else 0), left
    if charged:
        (charge,) = left["charges"]
        assert charge["key"] == payment["key"]
        assert (charge["status"], charge["amount"]) == ("succeeded", Decimal("100.00"))

    # 5. Reconcile, as the CLI runs it, with the payment already stale.
    first = reconcile(database_url, tmp_path, f"reconcile-{point}")
    expected = "1 completed, 0 failed" if charged else "0 completed, 1 failed"
    assert f"Reconciled: {expected}, 0 refunded, 0 expired, 0 unanswered." in first

    # 6. One payment per charge that took money; the invoice paid or open again.
    end = snapshot(app, number)
    (payment,) = end["payments"]
    assert end["invoice"]["amount_reserved"] == Decimal("0.00"), end
    assert end["invoice"]["reserved_since"] is None, end
    assert payment["resolved_at"] is not None
    if charged:
        (charge,) = end["charges"]
        assert charge["status"] == "succeeded" and charge["refunded_at"] is None, end
        assert payment["status"] == "completed", end
        assert payment["reference"] == charge["reference"]
        assert end["invoice"]["status"] == "paid"
        assert end["invoice"]["amount_paid"] == Decimal("100.00")
        # The checkout that would have emptied the cart died; reconcile takes the paid
        # invoice out, so the buyer is not offered to pay it again.
        assert end["in_carts"] == 0, end
    else:
        assert end["charges"] == [], end
        assert payment["status"] == "failed", end
        assert end["invoice"]["status"] == "unpaid"
        assert end["invoice"]["amount_paid"] == Decimal("0.00")
        assert end["in_carts"] == 1, end  # still there to pay with another try
    for charge in (c for c in end["charges"] if c["status"] == "succeeded"):
        matched = [p for p in end["payments"] if p["key"] == charge["key"]]
        assert [p["status"] for p in matched] == ["completed"], end

    # A second run changes nothing.
    second = reconcile(database_url, tmp_path, f"reconcile-again-{point}")
    assert "Reconciled: 0 completed, 0 failed, 0 refunded, 0 expired, 0 unanswered." in second
    assert snapshot(app, number) == end

    # 7. The store again, without the fault: the buyer sees the invoice as it is now.
    with store(database_url, tmp_path, f"store-after-{point}") as web:
        buyer = sign_in(web["base"], email)
        status, _, html = buyer.request(f"/invoices/{number}")
        assert status == 200, html[:2000]
        head = re.search(r"<h1>.*?</h1>", html, re.S).group(0)
        if charged:
            assert "status-paid" in head and "status-unpaid" not in head, head
            assert re.search(r'id="invoice-paid">[^<]*100\.00', html)
        else:
            assert "status-unpaid" in head, head
            assert re.search(r'id="invoice-paid">[^<]*0\.00', html)
            assert f'name="invoice" value="{number}"' in html  # it may be paid again
        assert web["process"].poll() is None
