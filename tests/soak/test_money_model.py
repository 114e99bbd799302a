"""The settlement services against a model of the books (Hypothesis, stateful, one thread).

Each step is one unit of work, as a view or a job runs it (core/unit_of_work.run): record a
manual payment (and send its form again), put a bank transfer or a card payment on its way,
pay an invoice in full with its cash discount, confirm, cancel, reverse, complete or fail a
payment, expire old transfers. The model says what must happen, a refusal included; after
every step each invoice's amount paid and reserved, the payments behind them, the numbers
and the audit trail must agree with it. Runs on SQLite and PostgreSQL; seeded, no example
database (nothing is written beside the tests).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import Invoice, status_for
from b2bshop.core import unit_of_work
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.payments import service
from b2bshop.payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from tests import factories
from tests.conftest import _truncate_all

EXAMPLES = 25
STEPS = 30
CENT = Decimal("0.01")
FRACTIONS = st.sampled_from(["0.2", "0.5", "1", "1.3"]).map(Decimal)


@dataclass
class Book:
    """What the model knows of one invoice."""

    id: int
    number: str
    customer_id: int
    total: Decimal
    paid: Decimal = Decimal("0.00")
    reserved: Decimal = Decimal("0.00")

    @property
    def unreserved(self) -> Decimal:
        return self.total - self.paid - self.reserved


@dataclass
class Entry:
    """What the model knows of one payment."""

    id: int
    number: str
    method: PaymentMethod
    status: PaymentStatus
    #: (invoice id, amount + discount) for each allocation.
    settles: list[tuple[int, Decimal]]
    key: str | None = None
    allocations: list[service.Allocation] = field(default_factory=list)


class Books(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.context = Books.app.app_context()
        self.context.push()
        db.session.remove()
        _truncate_all()
        self.admin_id = factories.user(role=Role.STORE_ADMIN).id
        discount = factories.payment_terms(percent="2", days=10)
        self.books: list[Book] = []
        for n, terms in enumerate([discount, None]):
            customer = factories.customer(f"Model {n}", terms=terms)
            for total in ("100.00", "250.50"):
                invoice = factories.invoice(customer, total, days_ago=2)
                self.books.append(Book(invoice.id, invoice.number, customer.id, invoice.total))
        db.session.commit()
        self.payments: list[Entry] = []
        self.audits: Counter[str] = Counter()

    def teardown(self) -> None:
        db.session.remove()
        self.context.pop()

    # -- helpers --------------------------------------------------------------------------

    @property
    def admin(self):  # type: ignore[no-untyped-def]
        from b2bshop.accounts.models import User

        return db.session.get(User, self.admin_id)

    def refused(self, work) -> DomainError:  # type: ignore[no-untyped-def]
        with pytest.raises(DomainError) as caught:
            unit_of_work.run(work)
        return caught.value

    def amount(self, book: Book, fraction: Decimal) -> Decimal:
        share = (book.unreserved * fraction).quantize(CENT, ROUND_HALF_UP)
        return max(share, CENT)

    def entry(self, index: int, pending: bool, method: PaymentMethod | None = None) -> Entry:
        """A payment: a pending one (of `method`) when asked for and there is one (most
        transitions start there), else any (the transition is then mostly refused)."""
        waiting = [
            p
            for p in self.payments
            if p.status == PaymentStatus.PENDING and p.method == (method or p.method)
        ]
        chosen = waiting if pending and waiting else self.payments
        return chosen[index % len(chosen)]

    def add(self, payment: Payment, key: str | None = None, allocations=()) -> Entry:  # type: ignore[no-untyped-def]
        entry = Entry(
            payment.id,
            payment.number,
            payment.method,
            payment.status,
            [(a.invoice_id, a.amount + a.discount_amount) for a in payment.allocations],
            key,
            list(allocations),
        )
        self.payments.append(entry)
        return entry

    def book(self, invoice_id: int) -> Book:
        return next(b for b in self.books if b.id == invoice_id)

    # -- rules ----------------------------------------------------------------------------

    @rule(index=st.integers(0, 3), fraction=FRACTIONS)
    def manual_payment(self, index: int, fraction: Decimal) -> None:
        book = self.books[index]
        amount = self.amount(book, fraction)
        allocations = [service.Allocation(book.id, amount)]
        key = str(uuid.uuid4())

        def work() -> Payment:
            customer = db.session.get(Invoice, book.id).customer
            return service.record_manual_payment(self.admin, customer, allocations, "wire", key)

        if book.paid >= book.total or amount > book.unreserved:
            self.refused(work)
            return
        payment = unit_of_work.run(work)
        book.paid += amount
        self.add(payment, key, allocations)
        self.audits["payment.record"] += 1

    @precondition(lambda self: any(p.key for p in self.payments))
    @rule(index=st.integers(0, 100))
    def manual_payment_sent_again(self, index: int) -> None:
        """The same key and amounts again: the first payment, no second effect."""
        sent = [p for p in self.payments if p.key]
        entry = sent[index % len(sent)]
        customer_id = self.book(entry.settles[0][0]).customer_id

        def work() -> str:
            from b2bshop.accounts.models import Customer

            customer = db.session.get(Customer, customer_id)
            return service.record_manual_payment(
                self.admin, customer, entry.allocations, "wire", entry.key
            ).number

        assert unit_of_work.run(work) == entry.number

    @rule(
        index=st.integers(0, 3),
        fraction=FRACTIONS,
        method=st.sampled_from([PaymentMethod.BANK_TRANSFER, PaymentMethod.CARD]),
    )
    def payment_on_its_way(self, index: int, fraction: Decimal, method: PaymentMethod) -> None:
        """A pending payment (a transfer, or a card charge in flight) with the cash discount
        its amount earns today, as the checkout records it."""
        book = self.books[index]
        amount = self.amount(book, fraction)
        today = date.today()

        def work() -> Payment:
            invoice = db.session.get(Invoice, book.id)
            discount = (
                service.discount_for(invoice, amount, today)
                if invoice.unreserved_balance > 0
                else Decimal(0)
            )
            return service.create_payment(
                None,
                invoice.customer,
                [service.Allocation(book.id, amount, discount)],
                method,
                status=PaymentStatus.PENDING,
            )

        if book.paid >= book.total or amount > book.unreserved:
            self.refused(work)
            return
        entry = self.add(unit_of_work.run(work))
        ((_, settles),) = entry.settles
        assert amount <= settles <= book.unreserved
        book.reserved += settles

    @rule(index=st.integers(0, 3))
    def pay_in_full(self, index: int) -> None:
        """The payable amount and its cash discount settle the whole unreserved balance."""
        book = self.books[index]
        today = date.today()

        def work() -> Payment:
            invoice = db.session.get(Invoice, book.id)
            amount = invoice.payable_amount(today)
            discount = service.discount_for(invoice, amount, today)
            assert amount + discount == book.unreserved, (amount, discount, book)
            return service.create_payment(
                None,
                invoice.customer,
                [service.Allocation(book.id, amount, discount)],
                PaymentMethod.CARD,
            )

        if book.paid >= book.total or book.unreserved <= 0:
            return
        self.add(unit_of_work.run(work))
        book.paid += book.unreserved

    @precondition(lambda self: self.payments)
    @rule(
        index=st.integers(0, 100),
        verb=st.sampled_from(["confirm", "cancel"]),
        pending=st.booleans(),
    )
    def admin_resolves_transfer(self, index: int, verb: str, pending: bool) -> None:
        entry = self.entry(index, pending, PaymentMethod.BANK_TRANSFER)

        def work() -> Payment:
            if verb == "confirm":
                return service.confirm_bank_transfer(self.admin, entry.id)
            return service.cancel_bank_transfer(self.admin, entry.id, "did not come")

        if entry.status != PaymentStatus.PENDING or entry.method != PaymentMethod.BANK_TRANSFER:
            assert isinstance(self.refused(work), service.PaymentStateConflict)
            return
        unit_of_work.run(work)
        self._leave_pending(entry, completed=verb == "confirm")
        entry.status = PaymentStatus.COMPLETED if verb == "confirm" else PaymentStatus.CANCELLED
        self.audits[f"payment.{verb}"] += 1

    @precondition(lambda self: self.payments)
    @rule(index=st.integers(0, 100), approved=st.booleans(), pending=st.booleans())
    def provider_answers(self, index: int, approved: bool, pending: bool) -> None:
        """The card provider's outcome, as record_charge or reconcile applies it."""
        entry = self.entry(index, pending)

        def work() -> Payment:
            if approved:
                return service.complete_pending(entry.id, "ref")
            return service.release_pending(entry.id, PaymentStatus.FAILED, "declined")

        if entry.status != PaymentStatus.PENDING:
            assert isinstance(self.refused(work), service.PaymentStateConflict)
            return
        unit_of_work.run(work)
        self._leave_pending(entry, completed=approved)
        entry.status = PaymentStatus.COMPLETED if approved else PaymentStatus.FAILED

    @precondition(lambda self: self.payments)
    @rule(index=st.integers(0, 100))
    def reverse(self, index: int) -> None:
        entry = self.entry(index, pending=False)

        def work() -> Payment:
            return service.reverse_payment(self.admin, entry.id, "chargeback")

        if entry.status != PaymentStatus.COMPLETED:
            assert isinstance(self.refused(work), service.PaymentStateConflict)
            return
        unit_of_work.run(work)
        for invoice_id, settles in entry.settles:
            self.book(invoice_id).paid -= settles
        entry.status = PaymentStatus.REVERSED
        self.audits["payment.reverse"] += 1

    @precondition(
        lambda self: any(
            p.status == PaymentStatus.PENDING and p.method == PaymentMethod.BANK_TRANSFER
            for p in self.payments
        )
    )
    @rule(now=st.integers(0, 4))
    def transfers_expire(self, now: int) -> None:
        """The expiry cron, now and then (one step in five)."""
        if now:
            return
        expected = [
            p.number
            for p in self.payments
            if p.status == PaymentStatus.PENDING and p.method == PaymentMethod.BANK_TRANSFER
        ]
        later = service.utcnow() + timedelta(days=30)
        expired = unit_of_work.run(lambda: service.expire_bank_transfers(14, later))
        assert expired == expected
        for entry in self.payments:
            if entry.number in expired:
                self._leave_pending(entry, completed=False)
                entry.status = PaymentStatus.EXPIRED
        self.audits["payment.expire"] += len(expired)

    def _leave_pending(self, entry: Entry, completed: bool) -> None:
        for invoice_id, settles in entry.settles:
            book = self.book(invoice_id)
            book.reserved -= settles
            if completed:
                book.paid += settles

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def invoices_agree_with_the_model(self) -> None:
        db.session.rollback()
        for book in self.books:
            invoice = db.session.get(Invoice, book.id, populate_existing=True)
            assert (invoice.amount_paid, invoice.amount_reserved) == (book.paid, book.reserved)
            assert 0 <= invoice.total - invoice.amount_paid <= invoice.total
            assert invoice.amount_paid + invoice.amount_reserved <= invoice.total
            assert invoice.status == status_for(invoice.total, invoice.amount_paid)

    @invariant()
    def payments_agree_with_the_invoices(self) -> None:
        for status, column in (
            (PaymentStatus.COMPLETED, Invoice.amount_paid),
            (PaymentStatus.PENDING, Invoice.amount_reserved),
        ):
            behind = dict(
                db.session.execute(
                    select(
                        PaymentAllocation.invoice_id,
                        func.sum(PaymentAllocation.amount + PaymentAllocation.discount_amount),
                    )
                    .join(Payment)
                    .where(Payment.status == status)
                    .group_by(PaymentAllocation.invoice_id)
                ).all()
            )
            for invoice_id, value in db.session.execute(select(Invoice.id, column)):
                assert value == behind.get(invoice_id, Decimal(0)), (status, invoice_id)
        statuses = dict(db.session.execute(select(Payment.number, Payment.status)).all())
        assert statuses == {p.number: p.status for p in self.payments}

    @invariant()
    def numbers_and_audit_trail(self) -> None:
        numbers = sorted(db.session.scalars(select(Payment.number)))
        assert numbers == [f"PAY-{n:06d}" for n in range(1, len(numbers) + 1)]
        audits = Counter(
            dict(
                db.session.execute(
                    select(AuditEntry.action, func.count(AuditEntry.id))
                    .where(AuditEntry.action.like("payment.%"))
                    .group_by(AuditEntry.action)
                ).all()
            )
        )
        assert audits == self.audits
        db.session.rollback()


def test_settlement_matches_the_model(app):
    Books.app = app  # type: ignore[attr-defined]
    run_state_machine_as_test(
        Books,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
