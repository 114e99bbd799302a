"""Quotations (SPEC B3): create, price, send, accept into a sales order, decline, expire.

Services take the acting user, flush and never commit (DESIGN.md). Every state change locks
the quotation row and re-reads its status: a change that lost a race is refused (409), and
the acceptance a double submit repeats finds its first order again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, false, select
from sqlalchemy.orm import selectinload

from b2bshop import heartbeats
from b2bshop.accounts.credit import billed_account
from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.catalog.models import Product
from b2bshop.core.locks import lock_accounts, lock_rows
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.money import fits_money, quantize
from b2bshop.numbering import next_number
from b2bshop.quotations.models import (
    Quotation,
    QuotationEmail,
    QuotationEmailKind,
    QuotationLine,
    QuotationStatus,
)
from b2bshop.sales.models import SalesOrder

#: The longest a quotation may stay open: a year.
MAX_VALIDITY_DAYS = 366
#: The "about to expire" email goes this many days before the validity date.
REMINDER_DAYS = 3


class QuotationInvalid(DomainError):
    status_code = 422


class QuotationConflict(DomainError):
    """The quotation is no longer in the state the request expected."""

    status_code = 409


class QuotationNotPermitted(DomainError):
    status_code = 403


@dataclass(frozen=True)
class QuoteLineInput:
    product_id: int
    quantity: int
    #: The quoted price; None leaves the line to price (a buyer's request).
    unit_price: Decimal | None = None


# -- queries -----------------------------------------------------------------------------


def visible_quotations(user: User) -> Select:
    """The quotations of the user's own customer; anything else is not found (404)."""
    if user.customer_id is None:
        return select(Quotation).where(false())
    return select(Quotation).where(Quotation.customer_id == user.customer_id)


def get_visible_quotation(user: User, number: str) -> Quotation | None:
    return db.session.scalar(
        visible_quotations(user)
        .where(Quotation.number == number)
        .options(selectinload(Quotation.lines).selectinload(QuotationLine.product))
    )


def _lock(quotation_id: int) -> Quotation:
    """The quotation's row, locked and read afresh (step 3 of core/locks.py)."""
    locked = lock_rows(Quotation, [quotation_id]).get(quotation_id)
    if locked is None:
        raise NotFound(_l("This quotation does not exist."))
    return locked


def refuse_state(quotation: Quotation) -> QuotationConflict:
    number = quotation.number
    status = quotation.status
    if status == QuotationStatus.DRAFT:
        message = _l("Quotation %(number)s has not been sent yet.", number=number)
    elif status == QuotationStatus.SENT:
        message = _l("Quotation %(number)s has already been sent.", number=number)
    elif status == QuotationStatus.ACCEPTED:
        message = _l("Quotation %(number)s has already been accepted.", number=number)
    elif status == QuotationStatus.DECLINED:
        message = _l("Quotation %(number)s has already been declined.", number=number)
    else:
        message = _l("Quotation %(number)s has expired.", number=number)
    return QuotationConflict(message)


def _snapshot(quotation: Quotation) -> dict:
    return audit.snapshot(quotation, ["status", "total", "valid_until", "note"])


# -- creating and pricing ----------------------------------------------------------------


def create_draft(acting_user: User, customer: Customer, *, note: str = "") -> Quotation:
    """A new draft quotation for `customer`, numbered now (gap-free), without lines yet: a
    store admin adds and prices them. Also used by campaigns for an "interested" answer."""
    if not customer.active:
        raise QuotationInvalid(_l("Customer %(name)s is not active.", name=customer.name))
    quotation = Quotation(
        customer=customer,
        status=QuotationStatus.DRAFT,
        currency=customer.currency,
        total=quantize(Decimal(0), customer.currency),
        note=note[:2000],
        created_by_id=acting_user.id,
    )
    quotation.number = next_number("quotation", customer.legal_entity_id)
    db.session.add(quotation)
    db.session.flush()
    audit.record(
        acting_user, "quotation.create", "quotation", quotation.number, after=_snapshot(quotation)
    )
    return quotation


def request_quote(acting_user: User, *, note: str = "") -> Quotation:
    """The buyer's item cart becomes a quotation request (a draft without prices) for a
    store admin to price; the cart is emptied. Locks follow core/locks.py: the cart first,
    then the number sequence."""
    from b2bshop.cart.models import CartKind
    from b2bshop.cart.service import get_cart

    if not acting_user.may_order:
        raise QuotationNotPermitted(_l("You may not order for your company."))
    customer = acting_user.customer
    cart = get_cart(acting_user, lock=True)
    if cart is None or not cart.lines or cart.kind != CartKind.ITEM:
        raise QuotationInvalid(_l("Add products to the cart to ask for a quote."))
    if not customer.active:
        raise QuotationInvalid(_l("Customer %(name)s is not active.", name=customer.name))
    for line in cart.lines:
        if line.product.currency != customer.currency:
            raise QuotationInvalid(
                _l(
                    "%(name)s is priced in %(product_currency)s and the account buys in "
                    "%(currency)s: it cannot be on this order.",
                    name=line.product.name,
                    product_currency=line.product.currency,
                    currency=customer.currency,
                )
            )
    quotation = Quotation(
        customer=customer,
        status=QuotationStatus.DRAFT,
        currency=customer.currency,
        total=quantize(Decimal(0), customer.currency),
        request_note=note.strip()[:2000],
        created_by_id=acting_user.id,
        requested_by_id=acting_user.id,
    )
    for line_no, line in enumerate(cart.lines, start=1):
        quotation.lines.append(
            QuotationLine(line_no=line_no, product_id=line.product_id, quantity=line.quantity)
        )
    cart.lines.clear()
    db.session.flush()
    cart.kind = None
    quotation.number = next_number("quotation", customer.legal_entity_id)
    db.session.add(quotation)
    db.session.flush()
    audit.record(
        acting_user, "quotation.request", "quotation", quotation.number, after=_snapshot(quotation)
    )
    return quotation


def default_prices(
    customer: Customer, lines: list[QuotationLine], today: date
) -> dict[int, Decimal]:
    """What each line's price field offers before the admin types the quoted price: the
    customer's price from the one pricing service (agreements, else the list price), for
    the line's quantity. The quoted price is what the admin enters."""
    from b2bshop.pricing.service import PriceRequest, price_lines

    if not lines:
        return {}
    prices = price_lines(customer, [PriceRequest(ln.product, ln.quantity) for ln in lines], today)
    return {line.id: price.unit.amount for line, price in zip(lines, prices, strict=True)}


def save_quotation(
    acting_user: User,
    quotation: Quotation,
    lines: list[QuoteLineInput],
    *,
    valid_until: date | None,
    note: str,
    today: date | None = None,
) -> Quotation:
    """Replace a draft's lines, validity date and note (a store admin pricing it)."""
    today = today or date.today()
    quotation = _lock(quotation.id)
    if quotation.status != QuotationStatus.DRAFT:
        raise refuse_state(quotation)
    before = _snapshot(quotation)
    lines = [line for line in lines if line.quantity]
    if any(line.quantity < 0 for line in lines):
        raise QuotationInvalid(_l("Quantities must be whole numbers greater than zero."))
    if any(line.unit_price is not None and line.unit_price < 0 for line in lines):
        raise QuotationInvalid(_l("A price cannot be negative."))
    if valid_until is not None:
        _check_validity(valid_until, today)
    products = {
        p.id: p
        for p in db.session.scalars(
            # Another entity's product is not for sale to this customer (as in place_order).
            select(Product).where(
                Product.id.in_([line.product_id for line in lines]),
                Product.legal_entity_id == quotation.customer.legal_entity_id,
            )
        )
    }
    currency = quotation.currency
    quotation.lines.clear()
    db.session.flush()
    total = quantize(Decimal(0), currency)
    for line_no, line in enumerate(lines, start=1):
        product = products.get(line.product_id)
        if product is None or not product.active:
            raise QuotationInvalid(_l("This product is not for sale."))
        if product.currency != currency:
            raise QuotationInvalid(
                _l(
                    "%(name)s is priced in %(product_currency)s and the account buys in "
                    "%(currency)s: it cannot be on this order.",
                    name=product.name,
                    product_currency=product.currency,
                    currency=currency,
                )
            )
        price = None if line.unit_price is None else quantize(line.unit_price, currency)
        if price is not None:
            total += quantize(price * line.quantity, currency)
        quotation.lines.append(
            QuotationLine(
                line_no=line_no, product=product, quantity=line.quantity, unit_price=price
            )
        )
    if not fits_money(total):
        raise QuotationInvalid(
            _l("This order's total is more than one order can hold. Split it into several.")
        )
    quotation.total = total
    quotation.valid_until = valid_until
    quotation.note = note.strip()[:2000]
    db.session.flush()
    audit.record(
        acting_user, "quotation.update", "quotation", quotation.number, before, _snapshot(quotation)
    )
    return quotation


def _check_validity(valid_until: date, today: date) -> None:
    if valid_until < today:
        raise QuotationInvalid(_l("The validity date cannot be in the past."))
    if valid_until > today + timedelta(days=MAX_VALIDITY_DAYS):
        raise QuotationInvalid(_l("A quotation can be valid for one year at most."))


def send_quotation(
    acting_user: User, quotation: Quotation, *, today: date | None = None
) -> Quotation:
    """draft -> sent: priced, with a validity date; the buyer gets an email (queued after
    the commit; the email row is the intent)."""
    today = today or date.today()
    quotation = _lock(quotation.id)
    if quotation.status != QuotationStatus.DRAFT:
        raise refuse_state(quotation)
    if not quotation.lines:
        raise QuotationInvalid(_l("Add at least one line with a quantity."))
    if not quotation.priced:
        raise QuotationInvalid(_l("Enter a quoted price on every line before sending."))
    if quotation.valid_until is None:
        raise QuotationInvalid(_l("Enter the date until which the quotation is valid."))
    _check_validity(quotation.valid_until, today)
    before = _snapshot(quotation)
    quotation.status = QuotationStatus.SENT
    quotation.sent_at = heartbeats.utcnow()
    _queue_email(quotation, QuotationEmailKind.SENT)
    db.session.flush()
    audit.record(
        acting_user, "quotation.send", "quotation", quotation.number, before, _snapshot(quotation)
    )
    return quotation


def _queue_email(quotation: Quotation, kind: QuotationEmailKind) -> QuotationEmail:
    """The email's intent, committed with the change that owes it; the job is queued after
    the commit, and the sweep queues it again if the queue was down."""
    from tasks.quotations import enqueue_email

    email = QuotationEmail(quotation=quotation, kind=kind, state="pending", attempts=0)
    db.session.add(email)
    db.session.flush()
    enqueue_email(email.id)
    return email


# -- the buyer's decision ----------------------------------------------------------------


def _check_buyer(acting_user: User, quotation: Quotation) -> None:
    if acting_user.customer_id != quotation.customer_id:
        raise NotFound(_l("This quotation does not exist."))
    if not acting_user.may_order:
        raise QuotationNotPermitted(_l("You may not order for your company."))


def accept_quotation(
    acting_user: User, quotation: Quotation, *, today: date | None = None
) -> SalesOrder:
    """sent -> accepted: one sales order at exactly the quoted prices, through the one
    order-placement service (credit checked, stock reserved, confirmed).

    Lock order (core/locks.py): the billed account (step 2), then the quotation (step 3,
    with the sales orders), then place_order's products and number sequences. A second
    accept (double submit, another tab) waits for the first and gets its order back.
    """
    from b2bshop.sales.service import OrderLineInput, place_order

    today = today or date.today()
    _check_buyer(acting_user, quotation)
    customer = quotation.customer
    lock_accounts([billed_account(customer).id])
    quotation = _lock(quotation.id)
    if quotation.status == QuotationStatus.ACCEPTED:
        assert quotation.order is not None
        return quotation.order
    if quotation.status == QuotationStatus.SENT and quotation.expired_on(today):
        raise QuotationConflict(
            _l(
                "Quotation %(number)s was valid until %(date)s and can no longer be accepted. "
                "Ask for a new quote.",
                number=quotation.number,
                date=quotation.valid_until.isoformat(),  # type: ignore[union-attr]
            )
        )
    if quotation.status != QuotationStatus.SENT:
        raise refuse_state(quotation)
    before = _snapshot(quotation)
    order = place_order(
        acting_user,
        customer,
        [
            OrderLineInput(
                line.product_id,
                line.quantity,
                unit_price=line.unit_price,
                price_reference=quotation.number,
            )
            for line in quotation.lines
        ],
        today=today,
        idempotency_key=f"quotation-{quotation.number}",
        confirm=True,
    )
    quotation.status = QuotationStatus.ACCEPTED
    quotation.order = order
    quotation.decided_at = heartbeats.utcnow()
    quotation.decided_by_id = acting_user.id
    db.session.flush()
    audit.record(
        acting_user, "quotation.accept", "quotation", quotation.number, before, _snapshot(quotation)
    )
    return order


def decline_quotation(
    acting_user: User, quotation: Quotation, *, today: date | None = None
) -> Quotation:
    """sent -> declined. Declining twice is the same decline."""
    _check_buyer(acting_user, quotation)
    quotation = _lock(quotation.id)
    if quotation.status == QuotationStatus.DECLINED:
        return quotation
    if quotation.status != QuotationStatus.SENT:
        raise refuse_state(quotation)
    before = _snapshot(quotation)
    quotation.status = QuotationStatus.DECLINED
    quotation.decided_at = heartbeats.utcnow()
    quotation.decided_by_id = acting_user.id
    db.session.flush()
    audit.record(
        acting_user,
        "quotation.decline",
        "quotation",
        quotation.number,
        before,
        _snapshot(quotation),
    )
    return quotation


# -- the periodic sweep ------------------------------------------------------------------


def expire_quotations(today: date) -> int:
    """Sent quotations past their validity date become expired; each under its lock, so an
    acceptance that got there first wins and is left alone."""
    ids = db.session.scalars(
        select(Quotation.id)
        .where(Quotation.status == QuotationStatus.SENT, Quotation.valid_until < today)
        .order_by(Quotation.id)
    ).all()
    expired = 0
    for quotation_id in ids:
        quotation = _lock(quotation_id)
        if quotation.status == QuotationStatus.SENT and quotation.expired_on(today):
            before = _snapshot(quotation)
            quotation.status = QuotationStatus.EXPIRED
            audit.record(
                None,
                "quotation.expire",
                "quotation",
                quotation.number,
                before,
                _snapshot(quotation),
            )
            expired += 1
    db.session.flush()
    return expired


def queue_reminders(today: date) -> int:
    """Sent quotations whose validity ends within REMINDER_DAYS get one "about to expire"
    email each (reminder_queued_at, set under the row lock, makes it once)."""
    ids = db.session.scalars(
        select(Quotation.id)
        .where(
            Quotation.status == QuotationStatus.SENT,
            Quotation.reminder_queued_at.is_(None),
            and_(
                Quotation.valid_until >= today,
                Quotation.valid_until <= today + timedelta(days=REMINDER_DAYS),
            ),
        )
        .order_by(Quotation.id)
    ).all()
    queued = 0
    for quotation_id in ids:
        quotation = _lock(quotation_id)
        if quotation.status == QuotationStatus.SENT and quotation.reminder_queued_at is None:
            quotation.reminder_queued_at = heartbeats.utcnow()
            _queue_email(quotation, QuotationEmailKind.EXPIRING)
            queued += 1
    db.session.flush()
    return queued


def unsent_emails(older_than: datetime) -> list[QuotationEmail]:
    """Emails still owed whose job may have been lost (the queue was down at the commit)."""
    return list(
        db.session.scalars(
            select(QuotationEmail)
            .where(QuotationEmail.state == "pending", QuotationEmail.created_at < older_than)
            .order_by(QuotationEmail.id)
        )
    )
