"""A seeded, randomized concurrency soak of the money paths, over HTTP, with faults.

Buyers (two per customer, each with a second signed-in tab) pay invoices by card and bank
transfer, in full and in part, pay a selection, and order items on account; store admins
confirm, cancel and reverse payments and record manual ones, sometimes several of them at
the same payment at once. Meanwhile the card provider times out before or after charging
(FaultyProvider, seeded), a reconcile job runs every few seconds, and every few seconds all
of the test database's connections are terminated (pg_terminate_backend), as a database
failover or an idle-connection reaper would.

Every response is counted; none may be a 5xx (a request that raises counts as one, with its
traceback). Afterwards reconcile runs as if far in the future, and the books must balance:
each invoice's amount paid is what its completed payments settled, what is reserved is what
pending payments hold, every charge that took money belongs to exactly one completed (or
reversed) payment, numbers have no gaps, and every effect has exactly one audit entry.

SOAK_SEED picks the run (the printed summary names it); the interleaving of threads is not
seeded, so a failure is reproduced by running the same seed again, often more than once.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from b2bshop.accounts.models import Role
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import Invoice, InvoiceStatus, status_for
from b2bshop.catalog.models import Product
from b2bshop.core.unit_of_work import Retries
from b2bshop.extensions import db
from b2bshop.payments.models import (
    ChargeStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    SandboxCharge,
)
from b2bshop.payments.providers import ProviderUnavailable, SandboxCardProvider
from b2bshop.payments.reconcile import reconcile
from b2bshop.payments.service import utcnow
from b2bshop.sales.models import SalesOrder, SalesOrderLine
from tests import factories
from tests.conftest import ON_POSTGRES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]

#: How long buyers and admins keep going (the whole test takes a few seconds more).
SOAK_SECONDS = 45.0
SEED = int(os.environ.get("SOAK_SEED", "20261130"))

CUSTOMERS = 3
INVOICES_PER_CUSTOMER = 4
BUYERS_PER_CUSTOMER = 2
ADMINS = 2
#: The card provider's faults, per charge: no answer before charging, or after charging.
P_UNAVAILABLE_BEFORE = 0.07
P_UNAVAILABLE_AFTER = 0.07
#: Seconds between two rounds of pg_terminate_backend; SOAK_DB_KILLS=0 turns them off (to
#: tell their failures from others' when diagnosing).
DB_KILL_EVERY = (4.0, 9.0)
DB_KILLS = os.environ.get("SOAK_DB_KILLS", "1") != "0"
#: Seconds between two runs of the reconcile job during the soak.
RECONCILE_EVERY = (2.0, 5.0)
#: Card payments older than this are the reconcile job's to resolve.
CARD_PENDING_TIMEOUT = 5

PASSWORD = "pw"
APPROVE, DECLINE, NO_FUNDS = "4242424242424242", "4000000000000002", "4000000000009995"
KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
NUMBER_RE = re.compile(r"/(payments|orders)/((?:PAY|SO)-\d+)$")
CENT = Decimal("0.01")
TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


class FaultyProvider(SandboxCardProvider):
    """The sandbox, except that it sometimes does not answer: before the charge (nothing
    charged) or after it (the charge is in the ledger, the store never hears of it)."""

    rng = random.Random(SEED)
    lock = threading.Lock()
    enabled = True
    faults: Counter[str] = Counter()

    def charge(self, *, amount, currency, card_number, idempotency_key):  # type: ignore[no-untyped-def,override]
        with self.lock:
            roll = self.rng.random()
        if self.enabled and roll < P_UNAVAILABLE_BEFORE:
            with self.lock:
                self.faults["provider_before_charge"] += 1
            raise ProviderUnavailable("injected: timeout before the charge")
        result = super().charge(
            amount=amount,
            currency=currency,
            card_number=card_number,
            idempotency_key=idempotency_key,
        )
        if self.enabled and roll < P_UNAVAILABLE_BEFORE + P_UNAVAILABLE_AFTER:
            with self.lock:
                self.faults["provider_after_charge"] += 1
            raise ProviderUnavailable("injected: timeout after the charge")
        return result


@dataclass
class Answer:
    status: int
    body: str
    location: str | None

    @property
    def number(self) -> str | None:
        match = NUMBER_RE.search(self.location or "")
        return match.group(2) if match else None


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    #: Successful requests (302) by kind, and the numbers they named.
    wins: Counter[str] = field(default_factory=Counter)
    numbers: dict[str, set[str]] = field(default_factory=dict)
    server_errors: Counter[str] = field(default_factory=Counter)
    #: First traceback of each distinct 5xx, and how often it happened.
    tracebacks: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reconcile_runs: Counter[str] = field(default_factory=Counter)
    db_kills: int = 0
    backends_terminated: int = 0

    def op(self, kind: str) -> None:
        with self.lock:
            self.ops[kind] += 1

    def problem(self, text_: str) -> None:
        with self.lock:
            if len(self.problems) < 200:
                self.problems.append(text_)

    def record(self, kind: str, answer: Answer) -> Answer:
        with self.lock:
            self.statuses[f"{kind}:{answer.status}"] += 1
            if answer.status == 302:
                self.wins[kind] += 1
                if answer.number:
                    self.numbers.setdefault(kind, set()).add(answer.number)
            if answer.status >= 500:
                self.server_errors[kind] += 1
                self.server_errors[f"cause: {cause_of(answer.body)}"] += 1
                key = signature(answer.body)
                first, seen = self.tracebacks.get(key, (answer.body, 0))
                self.tracebacks[key] = (first, seen + 1)
        return answer


DROPPED = (
    "terminating connection due to administrator command",
    "server closed the connection",
    "consuming input failed",
    "the connection is closed",
    "the connection is lost",
)


def cause_of(body: str) -> str:
    if any(sign in body for sign in DROPPED):
        return "dropped connection"
    if "deadlock detected" in body:
        return "deadlock"
    return "other"


FRAME_RE = re.compile(r'File "[^"]*/(b2bshop/[^"]+)", line (\d+), in (\w+)')
ANY_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')
ERROR_RE = re.compile(r"^(?:sqlalchemy\.exc\.|psycopg\.)?[\w.]*(?:Error|Exception)\b.*$", re.M)


def signature(body: str) -> str:
    """Where a 5xx came from: the deepest frame in the product, and the error's first line."""
    frames = FRAME_RE.findall(body) or [
        (f"(no b2bshop frame) {path.rsplit('site-packages/', 1)[-1]}", line, function)
        for path, line, function in ANY_FRAME_RE.findall(body)
        if not path.startswith("<")
        and "site-packages/sqlalchemy/" not in path
        and "psycopg" not in path
    ]
    where = ":".join(frames[-1]) if frames else "?"
    errors = ERROR_RE.findall(body)
    return f"{where} {errors[-1][:160] if errors else body.strip().splitlines()[-1][:160]}"


def ask(stats: Stats, kind: str, call: Callable[[], Any]) -> Answer:
    """One HTTP request; an exception that escapes the app is a 5xx answer."""
    try:
        response = call()
        answer = Answer(
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Location"),
        )
    except Exception:
        answer = Answer(599, f"[{kind}] " + traceback.format_exc(), None)
    return stats.record(kind, answer)


def at_once(stats: Stats, calls: list[tuple[str, Callable[[], Any]]]) -> list[Answer]:
    """The calls from threads released together (a double submit, admins racing)."""
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)

    def run(index: int, kind: str, call: Callable[[], Any]) -> None:
        barrier.wait()
        answers[index] = ask(stats, kind, call)

    threads = [
        threading.Thread(target=run, args=(i, kind, call)) for i, (kind, call) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if any(thread.is_alive() for thread in threads):
        stats.problem(f"concurrent requests {[k for k, _ in calls]} hung for 120 s")
    return [a for a in answers if a is not None]


def read(app: Flask, query: Callable[[], Any]) -> Any:
    """The actors' own look at the database (which invoice to pay, which payment to
    reverse): retried when the fault thread dropped its connection."""
    for attempt in range(5):
        with app.app_context():
            try:
                return query()
            except DBAPIError:
                if attempt == 4:
                    raise
            finally:
                # The rollback of a dropped connection fails; the pool replaces it.
                with contextlib.suppress(DBAPIError):
                    db.session.remove()
        time.sleep(0.05)
    return None


def checkout_key(page: Answer) -> str | None:
    match = KEY_RE.search(page.body)
    return match.group(1) if match else None


def part_of(amount: Decimal, rng: random.Random) -> Decimal:
    """A random amount in cents from 0.01 to `amount`."""
    part = (amount * Decimal(str(rng.uniform(0.1, 0.9)))).quantize(CENT, ROUND_DOWN)
    return max(part, CENT)


@dataclass
class World:
    app: Flask
    stats: Stats
    deadline: float
    customer_ids: list[int]
    skus: list[str]


class Actor:
    def __init__(self, world: World, name: str, clients: list[FlaskClient], seed: int) -> None:
        self.world = world
        self.name = name
        self.clients = clients
        self.rng = random.Random(seed)

    @property
    def stats(self) -> Stats:
        return self.world.stats

    def post(self, kind: str, url: str, data: dict | None = None, client: int = 0) -> Answer:
        c = self.clients[client]
        return ask(self.stats, kind, lambda: c.post(url, data=data or {}))

    def get(self, kind: str, url: str) -> Answer:
        c = self.clients[0]
        return ask(self.stats, kind, lambda: c.get(url))

    def run(self) -> None:
        while time.monotonic() < self.world.deadline:
            try:
                self.step()
            except Exception:
                self.stats.problem(f"{self.name}: the test's own code failed:\n" + (
                    traceback.format_exc()
                ))  # fmt: skip
                time.sleep(0.1)

    def step(self) -> None:
        raise NotImplementedError


BUYER_OPS = {
    "card": 30,
    "card_partial": 12,
    "transfer": 12,
    "transfer_partial": 6,
    "bulk": 12,
    "order": 16,
}


class Buyer(Actor):
    def __init__(self, world: World, name: str, clients: list[FlaskClient], seed: int,
                 customer_id: int) -> None:  # fmt: skip
        super().__init__(world, name, clients, seed)
        self.customer_id = customer_id

    def open_invoices(self) -> list[tuple[str, Decimal]]:
        today = date.today()

        def query() -> list[tuple[str, Decimal]]:
            invoices = db.session.scalars(
                select(Invoice)
                .where(
                    Invoice.customer_id == self.customer_id,
                    Invoice.status != InvoiceStatus.PAID,
                )
                .order_by(Invoice.id)
            ).all()
            return [
                (i.number, i.payable_amount(today)) for i in invoices if i.payable_amount(today) > 0
            ]

        return read(self.world.app, query)

    def step(self) -> None:
        rng = self.rng
        kind = rng.choices(list(BUYER_OPS), list(BUYER_OPS.values()))[0]
        self.post("cart.empty", "/cart/empty")
        invoices = [] if kind == "order" else self.open_invoices()
        if not invoices:
            kind = "order"
        self.stats.op(f"buyer.{kind}")
        if kind == "order":
            sku = rng.choice(self.world.skus)
            added = self.post("cart.item", "/cart/items", {"sku": sku, "qty": rng.randint(1, 6)})
            method = "on_account"
        elif kind == "bulk":
            chosen = rng.sample(invoices, k=min(len(invoices), rng.randint(2, 3)))
            data: dict[str, Any] = {"invoice": [number for number, _ in chosen]}
            if rng.random() < 0.5:
                data["total"] = str(part_of(sum(p for _, p in chosen), rng))
            added = self.post("cart.bulk", "/cart/invoices/bulk", data)
            method = rng.choice(["card", "card", "bank_transfer"])
        else:
            number, payable = rng.choice(invoices)
            data = {"invoice": number}
            if kind.endswith("_partial"):
                data["amount"] = str(part_of(payable, rng))
            added = self.post("cart.invoice", "/cart/invoices", data)
            method = "card" if kind.startswith("card") else "bank_transfer"
        if added.status != 302:
            return
        page = self.get("checkout.form", "/checkout")
        key = checkout_key(page)
        if key is None:
            if page.status == 200:
                self.stats.problem(f"{self.name}: no idempotency key on the checkout page")
            return
        data = {"method": method, "idempotency_key": key}
        if method == "card":
            data["card_number"] = rng.choices([APPROVE, DECLINE, NO_FUNDS], [85, 10, 5])[0]
        kind = f"checkout.{method}"
        if rng.random() < 0.12:
            # Two tabs of the same user submit the same form at once.
            first, second = self.clients
            answers = at_once(
                self.stats,
                [
                    (kind, lambda: first.post("/checkout", data=data)),
                    (kind, lambda: second.post("/checkout", data=data)),
                ],
            )
            names = {a.number for a in answers if a.status == 302}
            if len(names) > 1:
                self.stats.problem(f"one checkout key made two effects: {sorted(names)}")
            return
        answer = self.post(kind, "/checkout", data)
        if answer.status == 302 and rng.random() < 0.1:
            again = self.post(f"{kind}.replay", "/checkout", data)
            if (again.status, again.number) != (302, answer.number):
                self.stats.problem(
                    f"a replayed checkout ({method}) answered {again.status} "
                    f"{again.number or again.body[-300:]!r}, not {answer.number}"
                )


ADMIN_OPS = {"confirm": 30, "cancel": 12, "reverse": 20, "manual": 18}


class Admin(Actor):
    def payments(self, status: PaymentStatus, method: PaymentMethod | None = None) -> list[str]:
        def query() -> list[str]:
            stmt = select(Payment.number).where(Payment.status == status)
            if method is not None:
                stmt = stmt.where(Payment.method == method)
            return list(db.session.scalars(stmt.order_by(Payment.id)))

        return read(self.world.app, query)

    def open_invoices(self, customer_id: int) -> list[tuple[int, Decimal]]:
        def query() -> list[tuple[int, Decimal]]:
            invoices = db.session.scalars(
                select(Invoice)
                .where(Invoice.customer_id == customer_id, Invoice.status != InvoiceStatus.PAID)
                .order_by(Invoice.id)
            ).all()
            return [(i.id, i.unreserved_balance) for i in invoices if i.unreserved_balance > 0]

        return read(self.world.app, query)

    def transition(self, number: str, verb: str, client: int = 0) -> tuple[str, Callable]:
        c = self.clients[client]
        data = {} if verb == "confirm" else {"reason": f"soak {verb} by {self.name}"}
        return f"admin.{verb}", lambda: c.post(f"/admin/payments/{number}/{verb}", data=data)

    def step(self) -> None:
        rng = self.rng
        kind = rng.choices(list(ADMIN_OPS), list(ADMIN_OPS.values()))[0]
        if kind in ("confirm", "cancel", "reverse"):
            if kind == "reverse":
                candidates = self.payments(PaymentStatus.COMPLETED)
            else:
                candidates = self.payments(PaymentStatus.PENDING, PaymentMethod.BANK_TRANSFER)
            if not candidates:
                self.stats.op("admin.idle")
                time.sleep(0.05)
                return
            else:
                number = rng.choice(candidates)
                self.stats.op(f"admin.{kind}")
                if rng.random() < 0.3:
                    # Three admins at the same payment; the transfer ones mix verbs.
                    verbs = [kind] * 3 if kind == "reverse" else rng.choices(
                        ["confirm", "cancel"], k=3
                    )  # fmt: skip
                    self.stats.op("admin.burst")
                    answers = at_once(
                        self.stats,
                        [self.transition(number, verb, i) for i, verb in enumerate(verbs)],
                    )
                    wins = [a for a in answers if a.status == 302]
                    if len(wins) > 1:
                        self.stats.problem(f"{len(wins)} admins changed {number} at once ({verbs})")
                else:
                    ask(self.stats, *self.transition(number, kind))
                return
        self.stats.op("admin.manual")
        customer_id = rng.choice(self.world.customer_ids)
        invoices = self.open_invoices(customer_id)
        if not invoices:
            self.stats.op("admin.idle")
            time.sleep(0.05)
            return
        chosen = rng.sample(invoices, k=min(len(invoices), rng.choice([1, 1, 2])))
        data = {
            "customer_id": str(customer_id),
            "idempotency_key": str(uuid.uuid4()),
            "reference": f"wire {rng.randint(1000, 9999)}",
        }
        for invoice_id, balance in chosen:
            amount = balance if rng.random() < 0.4 else part_of(balance, rng)
            data[f"amount-{invoice_id}"] = str(amount)
        answer = self.post("admin.manual", "/admin/payments/new", data)
        if answer.status == 302 and rng.random() < 0.15:
            # The same form submitted again (back button, a retry after a timeout).
            again = self.post("admin.manual.replay", "/admin/payments/new", data)
            if (again.status, again.number) != (302, answer.number):
                self.stats.problem(
                    f"a replayed manual payment form answered {again.status}, not the first "
                    f"payment {answer.number}: {_flash(again.body)!r} (sent {data})"
                )


def _flash(body: str) -> str:
    match = re.search(r'<p class="flash flash-error"[^>]*>(.*?)</p>', body, re.S)
    return match.group(1).strip() if match else body[-200:]


def db_killer(world: World, database_url: str, stop: threading.Event, seed: int) -> None:
    """Every few seconds: drop every other connection to the test database."""
    rng = random.Random(seed)
    engine = create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        while not stop.wait(rng.uniform(*DB_KILL_EVERY)):
            with engine.connect() as conn:
                killed = conn.execute(text(TERMINATE)).scalars().all()
            with world.stats.lock:
                world.stats.db_kills += 1
                world.stats.backends_terminated += sum(1 for k in killed if k)
    finally:
        engine.dispose()


def reconciler(world: World, stop: threading.Event, seed: int) -> None:
    """The periodic reconcile job, racing the checkouts (it may hit a dropped connection
    too; the next run picks up what this one left, so that is counted, not failed)."""
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(*RECONCILE_EVERY)):
        with world.app.app_context():
            try:
                report = reconcile()
            except Exception as error:
                with world.stats.lock:
                    world.stats.reconcile_runs[f"error {type(error).__name__}"] += 1
                continue
            finally:
                db.session.remove()
        with world.stats.lock:
            world.stats.reconcile_runs["runs"] += 1
            for name, items in report.__dict__.items():
                world.stats.reconcile_runs[name] += len(items)


def build_world(app: Flask) -> tuple[list[int], list[str], list[tuple[str, int]], list[str]]:
    """3 customers (two with a 2 % cash discount for 10 days), 12 invoices, two products,
    two buyers per customer and the admins. Amounts come from the seed."""
    rng = random.Random(SEED)
    customer_ids, buyers = [], []
    with app.app_context():
        discount = factories.payment_terms(percent="2", days=10)
        for n in range(CUSTOMERS):
            customer = factories.customer(
                f"Soak {n}",
                terms=discount if n != 1 else None,
                # The last one buys close to its limit: some orders are refused for credit.
                credit_limit="6000" if n == CUSTOMERS - 1 else "100000",
            )
            for _ in range(INVOICES_PER_CUSTOMER):
                amount = Decimal(rng.randint(8000, 150000)) / 100
                factories.invoice(
                    customer,
                    str(amount),
                    days_ago=rng.choice([1, 3, 6, 15]),
                    tax_rate=rng.choice(["0", "21"]),
                )
            for b in range(BUYERS_PER_CUSTOMER):
                email = f"soak-buyer{n}-{b}@example.com"
                factories.user(email, customer=customer, password=PASSWORD)
                buyers.append((email, customer.id))
            customer_ids.append(customer.id)
        widget = factories.product("SOAK-WIDGET", price="40.00", stock=60)
        gadget = factories.product("SOAK-GADGET", price="15.50", stock=25)
        gadget.tax_rate = Decimal("21")
        admins = []
        for a in range(ADMINS):
            email = f"soak-admin{a}@store.example"
            factories.user(email, role=Role.STORE_ADMIN, password=PASSWORD)
            admins.append(email)
        db.session.commit()
        skus = [widget.sku, gadget.sku]
    return customer_ids, skus, buyers, admins


def login(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def settled_sums(status: PaymentStatus) -> dict[int, Decimal]:
    rows = db.session.execute(
        select(
            PaymentAllocation.invoice_id,
            func.sum(PaymentAllocation.amount + PaymentAllocation.discount_amount),
        )
        .join(Payment)
        .where(Payment.status == status)
        .group_by(PaymentAllocation.invoice_id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def check_books(stats: Stats, after_reconcile: bool) -> list[str]:
    problems = []
    completed = settled_sums(PaymentStatus.COMPLETED)
    pending = settled_sums(PaymentStatus.PENDING)
    for invoice in db.session.scalars(select(Invoice).order_by(Invoice.id)):
        name = f"{invoice.number} (total {invoice.total})"
        if invoice.amount_paid != completed.get(invoice.id, Decimal(0)):
            problems.append(
                f"{name}: amount_paid {invoice.amount_paid} but completed payments settled "
                f"{completed.get(invoice.id, 0)}"
            )
        if invoice.amount_reserved != pending.get(invoice.id, Decimal(0)):
            problems.append(
                f"{name}: amount_reserved {invoice.amount_reserved} but pending payments hold "
                f"{pending.get(invoice.id, 0)}"
            )
        if not 0 <= invoice.total - invoice.amount_paid <= invoice.total:
            problems.append(f"{name}: balance {invoice.total - invoice.amount_paid}")
        if invoice.status != status_for(invoice.total, invoice.amount_paid):
            problems.append(f"{name}: status {invoice.status} with {invoice.amount_paid} paid")
        if after_reconcile and invoice.amount_reserved:
            problems.append(f"{name}: still reserves {invoice.amount_reserved} after reconcile")
    for payment in db.session.scalars(select(Payment).order_by(Payment.id)):
        allocated = sum((a.amount for a in payment.allocations), Decimal(0))
        if allocated != payment.amount:
            problems.append(f"{payment.number}: amount {payment.amount}, allocated {allocated}")
        if after_reconcile and payment.status == PaymentStatus.PENDING:
            problems.append(f"{payment.number} ({payment.method}) still pending after reconcile")
    return problems


def check_ledger() -> tuple[list[str], int]:
    """Charges against payments; also counts the charges whose payment failed (the buyer
    was told "declined" or saw "being confirmed", the money was refunded by reconcile)."""
    problems, refunded_after_failure = [], 0
    payments = {p.provider_key: p for p in db.session.scalars(select(Payment))}
    charges = db.session.scalars(select(SandboxCharge).order_by(SandboxCharge.id)).all()
    by_key = {c.idempotency_key: c for c in charges}
    for charge in charges:
        payment = payments.get(charge.idempotency_key)
        if payment is None:
            problems.append(f"charge {charge.reference} has no payment at all")
            continue
        settled = payment.status in (PaymentStatus.COMPLETED, PaymentStatus.REVERSED)
        if charge.status == ChargeStatus.SUCCEEDED:
            if not settled:
                problems.append(
                    f"charge {charge.reference} took {charge.amount} but {payment.number} "
                    f"is {payment.status}"
                )
            if charge.amount != payment.amount:
                problems.append(f"charge {charge.reference} {charge.amount} != {payment.number}")
        elif charge.status == ChargeStatus.REFUNDED:
            if settled:
                problems.append(f"{payment.number} is {payment.status}, its charge refunded")
            refunded_after_failure += 1
    for key, payment in payments.items():
        if payment.method != PaymentMethod.CARD:
            continue
        if payment.status in (PaymentStatus.COMPLETED, PaymentStatus.REVERSED):
            charge = by_key.get(key)
            if charge is None or charge.status != ChargeStatus.SUCCEEDED:
                problems.append(
                    f"card payment {payment.number} is {payment.status} without a charge "
                    f"({charge.status if charge else 'none'})"
                )
    return problems, refunded_after_failure


def check_numbers() -> list[str]:
    problems = []
    for label, column in (("payment", Payment.number), ("order", SalesOrder.number)):
        numbers = sorted(db.session.scalars(select(column)))
        prefix = "PAY-" if label == "payment" else "SO-"
        expected = [f"{prefix}{n:06d}" for n in range(1, len(numbers) + 1)]
        if numbers != expected:
            missing = sorted(set(expected) - set(numbers))[:5]
            problems.append(f"{label} numbers have gaps or extras: missing {missing}")
    return problems


def check_audit(stats: Stats, expired: int) -> list[str]:
    problems = []
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.entity_id).where(AuditEntry.action.like("payment.%"))
    ).all()
    counts = Counter(action for action, _ in rows)
    for (action, entity_id), n in Counter(tuple(row) for row in rows).items():
        if n > 1:
            problems.append(f"{n} audit entries {action} for {entity_id}")

    def count(status: PaymentStatus, method: PaymentMethod | None = None) -> int:
        stmt = select(func.count(Payment.id)).where(Payment.status == status)
        if method is not None:
            stmt = stmt.where(Payment.method == method)
        return db.session.scalar(stmt) or 0

    transfer = PaymentMethod.BANK_TRANSFER
    by_state = {
        "payment.confirm": db.session.scalar(
            select(func.count(Payment.id)).where(
                Payment.method == transfer,
                Payment.status.in_([PaymentStatus.COMPLETED, PaymentStatus.REVERSED]),
            )
        ),
        "payment.cancel": count(PaymentStatus.CANCELLED),
        "payment.reverse": count(PaymentStatus.REVERSED),
        "payment.record": db.session.scalar(
            select(func.count(Payment.id)).where(Payment.method == PaymentMethod.MANUAL)
        ),
        "payment.expire": count(PaymentStatus.EXPIRED),
    }
    by_requests = {
        "payment.confirm": ("admin.confirm", stats.wins["admin.confirm"]),
        "payment.cancel": ("admin.cancel", stats.wins["admin.cancel"]),
        "payment.reverse": ("admin.reverse", stats.wins["admin.reverse"]),
        "payment.record": ("admin.manual", len(stats.numbers.get("admin.manual", ()))),
        "payment.expire": ("reconcile", expired),
    }
    for action, expected in by_state.items():
        if counts[action] != expected:
            problems.append(f"{counts[action]} {action} audit entries for {expected} payments")
        kind, succeeded = by_requests[action]
        errors = stats.server_errors[kind]
        # A request that died after its commit may have made an effect without a 302.
        if not succeeded <= counts[action] <= succeeded + errors:
            problems.append(
                f"{counts[action]} {action} audit entries for {succeeded} successful {kind} "
                f"requests ({errors} died)"
            )
    return problems


def check_totals_and_stock(initial_stock: dict[int, int]) -> list[str]:
    problems = []
    expected = {
        (c, s.value if hasattr(s, "value") else s): (n, t, p)
        for c, s, n, t, p in db.session.execute(
            select(
                Invoice.customer_id,
                Invoice.status,
                func.count(Invoice.id),
                func.sum(Invoice.total),
                func.sum(Invoice.amount_paid),
            ).group_by(Invoice.customer_id, Invoice.status)
        )
    }
    actual = {
        (c, s): (n, t, p)
        for c, s, n, t, p in db.session.execute(
            text(
                "SELECT customer_id, status, invoice_count, total, amount_paid "
                "FROM invoice_totals WHERE invoice_count <> 0"
            )
        )
    }
    if expected != actual:
        problems.append(f"invoice_totals {actual} but the invoices say {expected}")
    for product in db.session.scalars(select(Product)):
        reserved = db.session.scalar(
            select(
                func.coalesce(
                    func.sum(SalesOrderLine.quantity - SalesOrderLine.backorder_quantity), 0
                )
            ).where(SalesOrderLine.product_id == product.id)
        )
        if product.stock_on_hand + reserved != initial_stock[product.id]:
            problems.append(
                f"{product.sku}: {product.stock_on_hand} on hand + {reserved} reserved "
                f"!= {initial_stock[product.id]}"
            )
    return problems


def test_money_soak(app, make_app, database_url):
    started = time.monotonic()
    soak_app = make_app(
        CARD_PROVIDER="tests.soak.test_money_soak.FaultyProvider",
        CARD_PENDING_TIMEOUT=CARD_PENDING_TIMEOUT,
        # Up to ~20 requests at once, each with a session and a ledger connection.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 10},
    )
    provider = FaultyProvider()
    soak_app.extensions["b2bshop_card_provider"] = provider
    FaultyProvider.rng.seed(SEED)
    FaultyProvider.faults.clear()
    FaultyProvider.enabled = True
    retries_before = Retries.count

    customer_ids, skus, buyers, admins = build_world(soak_app)
    with soak_app.app_context():
        initial_stock = dict(db.session.execute(select(Product.id, Product.stock_on_hand)).all())
        db.session.remove()
    stats = Stats()
    world = World(soak_app, stats, time.monotonic() + SOAK_SECONDS, customer_ids, skus)
    actors: list[Actor] = [
        Buyer(world, email, [login(soak_app, email), login(soak_app, email)], SEED + i, cid)
        for i, (email, cid) in enumerate(buyers)
    ]
    actors += [
        Admin(world, email, [login(soak_app, email) for _ in range(3)], SEED + 100 + i)
        for i, email in enumerate(admins)
    ]
    stop = threading.Event()
    helpers = [threading.Thread(target=reconciler, args=(world, stop, SEED + 300))]
    if DB_KILLS:
        helpers.append(
            threading.Thread(target=db_killer, args=(world, database_url, stop, SEED + 200))
        )
    threads = [threading.Thread(target=actor.run, name=actor.name) for actor in actors]
    for thread in threads + helpers:
        thread.start()
    for thread in threads:
        thread.join(SOAK_SECONDS + 120)
        if thread.is_alive():
            stats.problem(f"{thread.name} still running 120 s after the deadline (hung)")
    stop.set()
    for thread in helpers:
        thread.join(60)
    FaultyProvider.enabled = False
    soak_seconds = time.monotonic() - started

    with soak_app.app_context():
        db.session.remove()
        problems = [f"before reconcile: {p}" for p in check_books(stats, after_reconcile=False)]
        db.session.rollback()
        report = reconcile(now=far_future())
        db.session.remove()
        problems += check_books(stats, after_reconcile=True)
        ledger_problems, refunded = check_ledger()
        problems += ledger_problems
        problems += check_numbers()
        problems += check_audit(stats, len(report.expired))
        problems += check_totals_and_stock(initial_stock)
        for kind, names in stats.numbers.items():
            column = SalesOrder.number if kind.startswith("checkout.on_account") else Payment.number
            known = set(db.session.scalars(select(column).where(column.in_(sorted(names)))))
            if names - known:
                problems.append(f"{kind} answered with unknown numbers {sorted(names - known)}")
        db.session.remove()
    soak_app.extensions.pop("b2bshop_card_provider", None)
    with soak_app.app_context():
        db.engine.dispose()

    conflicts = sum(n for key, n in stats.statuses.items() if key.endswith(":409"))
    server_errors = sum(n for k, n in stats.server_errors.items() if not k.startswith("cause"))
    summary = (
        f"SOAK seed={SEED} seconds={soak_seconds:.1f} db_kills={'on' if DB_KILLS else 'off'} "
        f"requests={sum(stats.statuses.values())} "
        f"ops={dict(sorted(stats.ops.items()))} conflicts409={conflicts} "
        f"retries={Retries.count - retries_before} 5xx={server_errors} {dict(stats.server_errors)} "
        f"faults={{{', '.join(f'{k}: {v}' for k, v in sorted(FaultyProvider.faults.items()))}, "
        f"db_kills: {stats.db_kills}, backends_terminated: {stats.backends_terminated}}} "
        f"reconcile_job={dict(stats.reconcile_runs)} final_reconcile=[{report.summary()}] "
        f"refunded_after_failure={refunded} "
        f"statuses={dict(sorted(stats.statuses.items()))}"
    )
    print("\n" + summary)
    problems = stats.problems + problems
    if server_errors:
        problems.append(
            f"{server_errors} requests answered 5xx: {dict(stats.server_errors)}; where "
            "they died (the deepest frame in b2bshop), then the three commonest tracebacks:"
        )
        ranked = sorted(stats.tracebacks.items(), key=lambda item: -item[1][1])
        if dump := os.environ.get("SOAK_TRACEBACKS"):  # a file for all of them, whole
            with open(dump, "w") as fh:
                fh.writelines(f"=== {seen} x {where}\n{first}\n" for where, (first, seen) in ranked)
        problems += [f"  {seen} x {where}" for where, (_, seen) in ranked]
        problems += [f"--- {where}\n{first[-2500:]}" for where, (first, _) in ranked[:3]]
    sanity = {
        "completed card checkouts": stats.wins["checkout.card"],
        "bank transfers": stats.wins["checkout.bank_transfer"],
        "orders": stats.wins["checkout.on_account"],
        "confirms": stats.wins["admin.confirm"],
        "manual payments": stats.wins["admin.manual"],
    }
    problems += [f"the soak made no {what}" for what, n in sanity.items() if n == 0]
    assert not problems, summary + "\n\n" + "\n".join(problems)


def far_future() -> datetime:
    """Ten years on: every pending card payment and bank transfer is reconcile's to resolve."""
    return utcnow() + timedelta(days=3650)
