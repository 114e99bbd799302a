"""Smoke test of the production stack (`make smoke`; a plain `pytest` leaves it out).

deploy/serve.py starts the Procfile's processes (gunicorn with 2 workers, 2 RQ workers, cron)
on a fresh PostgreSQL database (b2bshop_smoke_<pid>, dropped after) and Redis index 12
(SMOKE_REDIS_URL; flushed before and after, nothing else uses it). A buyer then signs in,
filters invoices, pays part of one by card and requests one by email, over HTTP only. Both
services must answer: a missing one fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from tests.conftest import csrf_token_from

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get(
    "SMOKE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/12")
HX = {"HX-Request": "true"}
APPROVED_CARD = "4242424242424242"


class Client:
    """A cookie-keeping HTTP client (urllib follows redirects, a POST's as a GET)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def request(
        self, path: str, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str, str]:
        """(status, final path, body) of a GET, or of a form POST when data is given."""
        body = urlencode(data).encode() if data is not None else None
        req = Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=15) as response:
                url, html = response.geturl(), response.read().decode()
                return response.status, url.removeprefix(self.base), html
        except HTTPError as error:
            with error:
                return error.code, path, error.read().decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parents() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # gone meanwhile
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return parents


def _children(pid: int, parents: dict[int, int]) -> list[int]:
    return [child for child, parent in parents.items() if parent == pid]


def _descendants(pid: int, parents: dict[int, int]) -> list[int]:
    found = _children(pid, parents)
    for child in list(found):
        found += _descendants(child, parents)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture
def database_url() -> Iterator[URL]:
    base = make_url(PG_URL)
    name = f"b2bshop_smoke_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_URL} is not answering: {exc}", pytrace=False)
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.flushdb()
    except redis.ConnectionError as exc:
        conn.close()
        pytest.fail(f"Redis at {REDIS_URL} is not answering: {exc}", pytrace=False)
    try:
        yield conn
    finally:
        conn.flushdb()
        conn.close()


@pytest.fixture
def stack(database_url: URL, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[dict]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "smoke-test-secret",
        "SESSION_COOKIE_SECURE": "0",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "STORE_URL": f"http://127.0.0.1:{port}",
        "MAIL_FILE_PATH": str(tmp_path / "mail"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for command in (["db", "upgrade"], ["demo"]):
        done = subprocess.run(
            ["flask", "--app", "wsgi", *command], cwd=ROOT, env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "deploy/serve.py", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with build_opener().open(base + "/healthz", timeout=2) as response:
                    if json.load(response)["status"] == "ok":
                        break
            except (URLError, OSError):
                pass
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the stack did not answer /healthz in 30 s"
            time.sleep(0.2)
        yield {"base": base, "serve": serve, "mail": tmp_path / "mail", "url": database_url}
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(45)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
        log.close()
        print((tmp_path / "serve.log").read_text()[-3000:])


def _amount_paid(url: URL, number: str) -> Decimal:
    engine = create_engine(url)
    with engine.connect() as conn:
        paid = conn.scalar(
            text("SELECT amount_paid FROM invoices WHERE number = :n"), {"n": number}
        )
    engine.dispose()
    return paid


def test_buyer_flow_on_gunicorn_rq_and_cron(stack: dict, redis_conn: redis.Redis) -> None:
    serve: subprocess.Popen = stack["serve"]
    parents = _parents()
    started = {pid: _cmdline(pid) for pid in _children(serve.pid, parents)}
    (master,) = [pid for pid, command in started.items() if "gunicorn" in command]
    assert len(_children(master, parents)) == 2
    assert sum("wsgi worker" in c for c in started.values()) == 2
    assert sum("wsgi cron" in c for c in started.values()) == 1
    everything = _descendants(serve.pid, parents)
    assert redis_conn.scard("rq:workers") == 2

    buyer = Client(stack["base"])
    status, _, html = buyer.request("/login")
    assert status == 200
    form = {"email": "buyer@contoso.example", "password": "demo"}
    status, path, _ = buyer.request("/login", {**form, "csrf_token": csrf_token_from(html)})
    assert (status, path) == (200, "/")

    # The filter, as htmx asks for it: the list fragment only, partially paid rows only.
    status, _, html = buyer.request("/invoices?status=partially_paid", headers=HX)
    assert status == 200 and "<html" not in html
    rows = re.findall(r'<tr id="invoice-([^"]+)" data-status="([^"]+)"', html)
    assert rows and {row_status for _, row_status in rows} == {"partially_paid"}

    # Pay 1.00 of the first one by card: add it to the cart, then check out.
    number = rows[0][0]
    paid_before = _amount_paid(stack["url"], number)
    added = {"invoice": number, "amount": "1.00", "csrf_token": csrf_token_from(html)}
    status, _, html = buyer.request("/cart/invoices", added, headers=HX)
    assert status == 200 and "In your cart" in html
    status, _, html = buyer.request("/checkout")
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    checkout = {
        "method": "card",
        "card_number": APPROVED_CARD,
        "idempotency_key": key,
        "csrf_token": csrf_token_from(html),
    }
    status, path, html = buyer.request("/checkout", checkout)
    assert status == 200 and path.startswith("/payments/"), html[:2000]
    assert _amount_paid(stack["url"], number) == paid_before + Decimal("1.00")

    # Request it by email: an RQ worker process sends it and completes the request.
    status, _, html = buyer.request(f"/invoices/{number}/request")
    status, path, html = buyer.request(
        f"/invoices/{number}/request", {"csrf_token": csrf_token_from(html)}
    )
    assert (status, path) == (200, "/account/requests")
    deadline = time.monotonic() + 30
    while True:
        status, _, html = buyer.request("/account/requests", headers=HX)
        states = re.findall(r'<tr id="request-\d+" data-status="([a-z]+)"', html)
        if states == ["completed"]:
            break
        assert "failed" not in states and time.monotonic() < deadline, states
        time.sleep(0.5)
    (sent,) = stack["mail"].glob("*.eml")
    message = message_from_bytes(sent.read_bytes())
    assert message["To"] == "buyer@contoso.example" and number in message["Subject"]

    # Ctrl-C: everything stops, warm, and the script says so with status 0.
    serve.send_signal(signal.SIGINT)
    assert serve.wait(45) == 0
    assert not [pid for pid in everything if _running(pid)]
