"""The cart: items or invoices, never both (SPEC A4, A5, A7, D1).

Services take the acting user, flush and never commit; refusals are domain errors whose
message says why and what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import Insert, Select, Update, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload

from b2bshop.accounts.models import User
from b2bshop.billing.listing import ListedInvoice, listed_invoice
from b2bshop.billing.models import Invoice, InvoiceStatus, is_invoice
from b2bshop.billing.service import visible_invoices
from b2bshop.cart.models import Cart, CartKind, CartLine
from b2bshop.catalog.models import Product
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.money import format_money, parse_amount, quantize
from b2bshop.pricing import service as pricing

MAX_QUANTITY = 9999


class CartConflict(DomainError):
    """The items-or-invoices rule, another currency, a paid invoice: the cart's state."""

    status_code = 409


class AmountRefused(DomainError):
    status_code = 422


class QuantityRefused(DomainError):
    status_code = 422


class NotPermitted(DomainError):
    status_code = 403


def get_cart(user: User, *, lock: bool = False) -> Cart | None:
    """The user's cart with its lines; `lock` holds its row until the commit."""
    cart = db.session.scalar(_cart_statement(lock), {"user_id": user.id})
    if cart is not None:
        price_items(user, cart)
    return cart


@cache
def _cart_statement(lock: bool) -> Select:
    # Built once per kind: every add to the cart locks the cart with it.
    # The lines with their invoice or product in one query (not one more for each).
    stmt = (
        select(Cart)
        .where(Cart.user_id == bindparam("user_id"))
        .options(
            selectinload(Cart.lines).joinedload(CartLine.invoice),
            selectinload(Cart.lines).joinedload(CartLine.product),
        )
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return stmt


def price_items(user: User, cart: Cart) -> None:
    """Price every item line at once (pricing.service, constant queries) for the buyer's
    customer on the cart's requested ship date; each line keeps its Price (CartLine.price)."""
    items = [line for line in cart.lines if line.kind == CartKind.ITEM]
    if not items:
        return
    prices = pricing.price_lines(
        user.customer,
        [pricing.PriceRequest(line.product, line.quantity) for line in items],
        cart.requested_ship_date,
    )
    for line, price in zip(items, prices, strict=True):
        line.__dict__["_price"] = price


#: How far ahead a buyer may ask for shipment.
MAX_SHIP_DAYS = 730


class ShipDateRefused(DomainError):
    status_code = 422


def set_requested_ship_date(user: User, text: str | None, today: date | None = None) -> Cart:
    """The date the buyer wants the items shipped: empty means as soon as possible. Prices
    are for this date, so a sales agreement applies only when it is inside its validity."""
    today = today or date.today()
    if not user.may_order:
        raise NotPermitted(_l("Your user may not place orders."))
    value = (text or "").strip()
    chosen = None
    if value:
        try:
            chosen = date.fromisoformat(value)
        except ValueError:
            raise ShipDateRefused(
                _l("Enter the requested ship date as a date, for example 2027-03-31.")
            ) from None
        if chosen < today:
            raise ShipDateRefused(_l("The requested ship date cannot be in the past."))
        if (chosen - today).days > MAX_SHIP_DAYS:
            raise ShipDateRefused(_l("The requested ship date is at most two years ahead."))
    cart = _cart_for_update(user)
    cart.requested_ship_date = chosen
    db.session.flush()
    price_items(user, cart)
    return cart


def line_count(user: User) -> int:
    return db.session.scalar(_line_count_statement(), {"user_id": user.id}) or 0


@cache
def _line_count_statement() -> Select:
    # Built once: every full page's frame (the cart badge) runs it.
    return (
        select(func.count(CartLine.id))
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(Cart.user_id == bindparam("user_id"))
    )


def _cart_for_update(user: User) -> Cart:
    """The user's cart, created if need be, locked until the commit: two adds at once (a
    double click) run one after the other, so neither fails on a unique constraint (one
    cart per user, one line per invoice) and the second sees the first's line."""
    cart = get_cart(user, lock=True)
    if cart is None:
        _create_cart(user)
        cart = get_cart(user, lock=True)
        assert cart is not None
    return cart


def _create_cart(user: User) -> None:
    """An empty cart for the user, unless another request made it first."""
    upsert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        upsert(Cart).values(user_id=user.id).on_conflict_do_nothing(index_elements=["user_id"])
    )


def payable_amount(invoice: Invoice | ListedInvoice, today: date) -> Decimal:
    """What settles the invoice today (Invoice.payable_amount: pending payments and the
    cash discount taken off)."""
    return invoice.payable_amount(today)


def pending_message(invoice: Invoice | ListedInvoice) -> object:
    """Why an invoice whose balance a pending payment holds cannot go in the cart."""
    return _l(
        "A payment of %(amount)s for invoice %(number)s is pending since %(since)s. The "
        "invoice is settled when it arrives; it is not paid twice.",
        amount=format_money(invoice.amount_reserved, invoice.currency),
        number=invoice.number,
        since=format_date(invoice.reserved_since) if invoice.reserved_since else "—",
    )


def check_amount(invoice: Invoice | ListedInvoice, text: str | None, today: date) -> Decimal:
    """A buyer-typed amount for an invoice: > 0, at most the payable amount, in cents."""
    amount = parse_amount(text, invoice.currency)
    if amount is None:
        raise AmountRefused(_l("Enter an amount such as 120.50, with at most two decimals."))
    if amount <= 0:
        raise AmountRefused(_l("The amount must be greater than zero."))
    maximum = payable_amount(invoice, today)
    if maximum <= 0:
        raise CartConflict(pending_message(invoice))
    if amount > maximum:
        raise AmountRefused(
            _l(
                "The amount is more than the balance: at most %(max)s.",
                max=format_money(maximum, invoice.currency),
            )
        )
    return quantize(amount, invoice.currency)


def _ensure_kind(cart: Cart, kind: CartKind) -> None:
    """The cart takes `kind` when it is empty; a cart of the other kind refuses it."""
    if _takes_kind(cart.kind, kind, has_lines=bool(cart.lines)):
        cart.kind = kind
        db.session.flush()


def _takes_kind(current: CartKind | None, kind: CartKind, *, has_lines: bool) -> bool:
    """Whether a cart of kind `current` must be set to `kind` (it is empty and of another
    kind or none); a cart holding the other kind refuses it (CartConflict)."""
    if current is None or not has_lines:
        return current != kind
    if current == kind:
        return False
    if kind == CartKind.INVOICE:
        raise CartConflict(
            _l(
                "Your cart holds items. Place that order or empty the cart before paying "
                "invoices: a cart holds either items or invoices, never both."
            )
        )
    raise CartConflict(
        _l(
            "Your cart holds invoices to pay. Finish that payment or empty the cart before "
            "ordering items: a cart holds either items or invoices, never both."
        )
    )


def _visible_invoice(user: User, number: str) -> ListedInvoice:
    invoice = listed_invoice(user, number)
    if invoice is None:
        raise NotFound(_l("There is no invoice %(number)s.", number=number))
    return invoice


def add_invoice(
    user: User, number: str, amount: str | None = None, today: date | None = None
) -> InvoiceInCart:
    """Pay invoice (SPEC A4): put an open invoice in the cart, or change its amount."""
    today = today or date.today()
    if not user.may_pay_invoices:
        raise NotPermitted(_l("Your user may not pay invoices."))
    invoice = _visible_invoice(user, number)
    if invoice.credit_note:
        raise CartConflict(
            _l(
                "%(number)s is a credit note: its credit is settled against invoices.",
                number=number,
            )
        )
    if invoice.status == InvoiceStatus.PAID:
        raise CartConflict(_l("Invoice %(number)s is already paid.", number=number))
    if payable_amount(invoice, today) <= 0:
        raise CartConflict(pending_message(invoice))
    chosen = (
        check_amount(invoice, amount, today)
        if amount not in (None, "")
        else payable_amount(invoice, today)
    )
    # From the lock to the commit, other adds to this cart wait: the cart is locked, its
    # lines read and the line written with plain statements, not as ORM objects (the cart,
    # its lines' invoices and products cost a third of this request, all of it inside the
    # lock).
    connection = db.session.connection()
    cart_id, kind, lines = _lock_cart_with_invoice_lines(user)
    if _takes_kind(kind, CartKind.INVOICE, has_lines=bool(lines)):
        connection.execute(_set_kind_statement(), {"cart_id": cart_id, "kind": CartKind.INVOICE})
    for line_id, invoice_id, _currency in lines:
        if invoice_id == invoice.id:
            connection.execute(_change_amount_statement(), {"line_id": line_id, "amount": chosen})
            return InvoiceInCart(invoice, chosen)
    currencies = {currency for _id, _invoice_id, currency in lines}
    if currencies and invoice.currency not in currencies:
        raise CartConflict(
            _l(
                "Invoice %(number)s is in %(currency)s, the invoices in your cart are not. "
                "Pay them separately.",
                number=number,
                currency=invoice.currency,
            )
        )
    params = {"cart_id": cart_id, "invoice_id": invoice.id, "amount": chosen}
    connection.execute(_add_line_statement(), params)
    return InvoiceInCart(invoice, chosen)


@cache
def _change_amount_statement() -> Update:
    # Built once, like the insert below: statements built per call cost their cache key.
    lines = CartLine.__table__
    changed = lines.c.id == bindparam("line_id")
    return update(lines).where(changed).values(amount=bindparam("amount"))


@cache
def _add_line_statement() -> Insert:
    return insert(CartLine.__table__).values(
        cart_id=bindparam("cart_id"),
        kind=CartKind.INVOICE,
        invoice_id=bindparam("invoice_id"),
        amount=bindparam("amount"),
    )


@dataclass(frozen=True)
class InvoiceInCart:
    """What add_invoice put in the cart: the invoice (as the list's plain row) and the
    amount to pay on it."""

    invoice: ListedInvoice
    amount: Decimal


def _lock_cart_with_invoice_lines(
    user: User,
) -> tuple[int, CartKind | None, list[tuple[int, int | None, str | None]]]:
    """The user's cart row locked until the commit (created if need be), as get_cart(lock=
    True) locks it: its id, its kind and its lines (id, invoice id, the invoice's currency;
    an item line has neither)."""
    connection = db.session.connection()
    row = connection.execute(_locked_cart_statement(), {"user_id": user.id}).first()
    if row is None:
        _create_cart(user)
        row = connection.execute(_locked_cart_statement(), {"user_id": user.id}).first()
    cart_id, kind = row
    # The lines in a statement of their own, begun after the lock is ours: under READ
    # COMMITTED a statement sees what was committed when it began, so the lock and the lines
    # read in one statement missed the line of an add that held the lock meanwhile, and this
    # add then inserted it again (tests/web/test_concurrent_payments.py).
    lines = connection.execute(_invoice_lines_statement(), {"cart_id": cart_id}).all()
    return cart_id, kind, [tuple(line) for line in lines]


@cache
def _locked_cart_statement() -> Select:
    # Built once: every add of an invoice runs it.
    carts = Cart.__table__
    return (
        select(carts.c.id, carts.c.kind)
        .where(carts.c.user_id == bindparam("user_id"))
        .with_for_update()
    )


@cache
def _invoice_lines_statement() -> Select:
    # Built once: every add of an invoice runs it, inside the cart's lock.
    return (
        select(CartLine.id, CartLine.invoice_id, Invoice.currency)
        .outerjoin(Invoice, Invoice.id == CartLine.invoice_id)
        .where(CartLine.cart_id == bindparam("cart_id"))
    )


@cache
def _set_kind_statement() -> Update:
    carts = Cart.__table__
    return update(carts).where(carts.c.id == bindparam("cart_id")).values(kind=bindparam("kind"))


@dataclass(frozen=True)
class BulkResult:
    added: list[str]
    skipped: list[str]


def add_invoices(
    user: User,
    numbers: list[str] | None = None,
    *,
    overdue: bool = False,
    total: str | None = None,
    today: date | None = None,
) -> BulkResult:
    """Pay selected / pay all overdue (SPEC D1). With a total, the money goes to the oldest
    due date first; invoices it does not reach stay out of the cart."""
    today = today or date.today()
    if not user.may_pay_invoices:
        raise NotPermitted(_l("Your user may not pay invoices."))
    stmt = visible_invoices(user).where(
        is_invoice(),
        Invoice.status != InvoiceStatus.PAID,
        # Held whole by a pending payment: nothing to pay.
        Invoice.total - Invoice.amount_paid - Invoice.amount_reserved > 0,
    )
    if overdue:
        stmt = stmt.where(Invoice.due_date < today)
    else:
        if not numbers:
            raise AmountRefused(_l("Select at least one invoice."))
        stmt = stmt.where(Invoice.number.in_(numbers))
    invoices = list(db.session.scalars(stmt.order_by(Invoice.due_date, Invoice.id)))
    if not invoices:
        message = (
            _l("No overdue invoices to pay.") if overdue else _l("Select at least one invoice.")
        )
        raise AmountRefused(message)
    if numbers and not overdue:
        found = {i.number for i in invoices}
        missing = [n for n in numbers if n not in found]
        if missing:
            raise NotFound(_l("There is no open invoice %(number)s.", number=missing[0]))
    remaining = None
    if total not in (None, ""):
        remaining = parse_amount(total, invoices[0].currency)
        if remaining is None or remaining <= 0:
            raise AmountRefused(_l("Enter a total greater than zero, with at most two decimals."))
        most = sum((payable_amount(i, today) for i in invoices), Decimal(0))
        if remaining > most:
            raise AmountRefused(
                _l(
                    "The total is more than these invoices' balance: at most %(max)s.",
                    max=format_money(most, invoices[0].currency),
                )
            )
    chosen, skipped = [], []
    for invoice in invoices:  # the money goes to the oldest due date first
        amount = payable_amount(invoice, today)
        if remaining is not None:
            if remaining <= 0:
                skipped.append(invoice.number)
                continue
            amount = min(amount, remaining)
            remaining -= amount
        chosen.append((invoice, amount))
    # Lines go in by invoice id: each insert share-locks its invoice (the foreign key), and
    # payments lock invoices in id order (core/locks.py), so any other order can deadlock.
    for invoice, amount in sorted(chosen, key=lambda pair: pair[0].id):
        add_invoice(user, invoice.number, str(amount), today)
    return BulkResult([invoice.number for invoice, _ in chosen], skipped)


def add_item(user: User, sku: str, quantity: str | int | None) -> CartLine:
    if not user.may_order:
        raise NotPermitted(_l("Your user may not place orders."))
    product = db.session.scalar(
        select(Product).where(
            Product.sku == (sku or "").strip(),
            Product.active.is_(True),
            Product.legal_entity_id == user.customer.legal_entity_id,
        )
    )
    if product is None:
        raise NotFound(_l("There is no product %(sku)s.", sku=sku))
    try:
        qty = int(str(quantity).strip())
    except (TypeError, ValueError):
        qty = 0
    if not 1 <= qty <= MAX_QUANTITY:
        raise QuantityRefused(_l("Enter a quantity from 1 to %(max)s.", max=MAX_QUANTITY))
    if product.currency != user.customer.currency:
        raise CartConflict(
            _l(
                "%(name)s is priced in %(product_currency)s and your account buys in "
                "%(currency)s, so it cannot go in your cart.",
                name=product.name,
                product_currency=product.currency,
                currency=user.customer.currency,
            )
        )
    cart = _cart_for_update(user)
    _ensure_kind(cart, CartKind.ITEM)
    currencies = {line.currency for line in cart.lines}
    if currencies and product.currency not in currencies:
        # An older cart line in another currency (the account changed since): one total
        # in one currency, or none.
        raise CartConflict(
            _l(
                "Your cart holds items in %(currency)s; %(name)s is priced in "
                "%(product_currency)s. Order them separately.",
                currency=", ".join(sorted(currencies)),
                name=product.name,
                product_currency=product.currency,
            )
        )
    for line in cart.lines:
        if line.product_id == product.id:
            if line.quantity + qty > MAX_QUANTITY:
                raise QuantityRefused(_l("Enter a quantity from 1 to %(max)s.", max=MAX_QUANTITY))
            line.quantity += qty
            db.session.flush()
            return line
    line = CartLine(cart=cart, kind=CartKind.ITEM, product=product, quantity=qty)
    db.session.add(line)
    db.session.flush()
    return line


def set_item_quantity(user: User, line_id: int, quantity: str) -> None:
    cart = get_cart(user, lock=True)
    line = next((ln for ln in (cart.lines if cart else []) if ln.id == line_id), None)
    if line is None or line.kind != CartKind.ITEM:
        raise NotFound(_l("That line is not in your cart."))
    try:
        qty = int(str(quantity).strip())
    except ValueError:
        qty = -1
    if qty == 0:
        remove_line(user, line_id)
        return
    if not 1 <= qty <= MAX_QUANTITY:
        raise QuantityRefused(_l("Enter a quantity from 1 to %(max)s.", max=MAX_QUANTITY))
    line.quantity = qty
    db.session.flush()


def remove_line(user: User, line_id: int) -> None:
    cart = get_cart(user, lock=True)
    line = next((ln for ln in (cart.lines if cart else []) if ln.id == line_id), None)
    if line is None:
        raise NotFound(_l("That line is not in your cart."))
    cart.lines.remove(line)
    db.session.flush()
    if not cart.lines:
        cart.kind = None
        db.session.flush()


def remove_invoices(user: User, invoice_ids: list[int]) -> None:
    """Take settled invoices out of the user's cart (reconcile completed their payment)."""
    cart = get_cart(user, lock=True)
    if cart is None:
        return
    for line in [ln for ln in cart.lines if ln.invoice_id in set(invoice_ids)]:
        cart.lines.remove(line)
    db.session.flush()
    if not cart.lines:
        cart.kind = None
        db.session.flush()


def empty_cart(user: User) -> None:
    cart = get_cart(user, lock=True)
    if cart is None:
        return
    cart.lines.clear()
    db.session.flush()
    cart.kind = None
    cart.requested_ship_date = None
    db.session.flush()
