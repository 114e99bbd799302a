"""The buyer's invoice list: filters, totals and keyset pagination.

Pages are cut by keyset ("after this due date and id"), never by OFFSET, so page 1000 costs
what page 1 costs. The visible accounts (own + invoice account) are queried one branch each,
joined by UNION ALL: each branch walks its own (customer_id, <sort key>, id) index in order
and stops after one page, where a single `customer_id IN (...)` would sort every match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    bindparam,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from b2bshop.accounts.models import Customer, User
from b2bshop.billing.models import (
    Invoice,
    InvoiceAmounts,
    InvoiceStatus,
    InvoiceTotals,
    is_invoice,
    signed_balance,
)
from b2bshop.billing.service import visible_accounts, visible_by_number, visible_by_number_params
from b2bshop.core import listing as core_listing
from b2bshop.core.listing import PAGE_SIZE, BadCursor
from b2bshop.extensions import db
from b2bshop.money import parse_amount, quantize

#: sort name -> (column, descending)
SORTS: dict[str, tuple[Any, bool]] = {
    "due_date": (Invoice.due_date, False),
    "-due_date": (Invoice.due_date, True),
    "amount": (Invoice.total, False),
    "-amount": (Invoice.total, True),
    "number": (Invoice.number, False),
}
STATUSES = {"unpaid", "partially_paid", "paid", "overdue", "open"}

#: What a list row shows (presenters.invoice_rows) and its cursor reads: 14 of the
#: invoice's 22 columns.
LISTED_COLUMNS = (
    Invoice.id,
    Invoice.number,
    Invoice.customer_id,
    Invoice.invoice_date,
    Invoice.due_date,
    Invoice.cash_discount_date,
    Invoice.cash_discount_amount,
    Invoice.currency,
    Invoice.total,
    Invoice.amount_paid,
    Invoice.status,
    Invoice.amount_reserved,
    Invoice.reserved_since,
    Invoice.document_type,
)
_LISTED_KEYS = tuple(column.key for column in LISTED_COLUMNS)


class ListedInvoice(InvoiceAmounts):
    """An invoice as the list shows it: the listed columns as plain attributes, with the
    Invoice model's amount rules (InvoiceAmounts). Loading 25 ORM objects, with identity
    and change tracking nobody uses on a read, was a tenth of a first view."""

    def __init__(self, values: Any) -> None:
        self.__dict__.update(zip(_LISTED_KEYS, values, strict=True))


def listed_invoice(user: User, number: str) -> ListedInvoice | None:
    """One of the user's invoices by number, as the list's plain row, scoped as
    service.get_visible_invoice: for a path that reads the invoice and writes elsewhere
    (adding it to the cart), where its ORM object was a tenth of the request."""
    params = visible_by_number_params(user, number)
    if params is None:
        return None
    row = db.session.connection().execute(_listed_by_number(), params).first()
    return ListedInvoice(row) if row is not None else None


@lru_cache(maxsize=1)
def _listed_by_number() -> Select:
    return select(*LISTED_COLUMNS).where(*visible_by_number())


@dataclass(frozen=True)
class InvoiceFilter:
    status: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    q: str | None = None
    #: "own", "org" (the invoice account) or None for every visible account.
    account: str | None = None
    sort: str = "due_date"

    def query_args(self) -> dict[str, str]:
        """The filter as query-string arguments, empty ones left out (shareable URLs)."""
        args = {
            "status": self.status,
            "due_from": self.due_from.isoformat() if self.due_from else None,
            "due_to": self.due_to.isoformat() if self.due_to else None,
            "q": self.q,
            "account": self.account,
            "sort": self.sort if self.sort != "due_date" else None,
        }
        return {k: v for k, v in args.items() if v}


@dataclass
class InvoicePage:
    invoices: list[ListedInvoice]
    count: int
    balance: Decimal
    currency: str | None
    accounts: list[Customer]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def several_accounts(self) -> bool:
        return len(self.accounts) > 1

    @property
    def account_names(self) -> dict[int, str]:
        return {account.id: account.name for account in self.accounts}


def _account_ids(user: User, accounts: list[Customer], account: str | None) -> list[int]:
    own = [c.id for c in accounts if c.id == user.customer_id]
    org = [c.id for c in accounts if c.id != user.customer_id]
    if account == "own":
        return own
    if account == "org":
        return org  # no invoice account: nothing, never everything
    return own + org


def filter_conditions(flt: InvoiceFilter, today: date) -> list[ColumnElement[bool]]:
    q = Invoice.number.icontains(flt.q, autoescape=True) if flt.q else None
    return _conditions(flt.status, flt.due_from, flt.due_to, q, today)


def _conditions(status: str | None, due_from: Any, due_to: Any, q: Any, today: Any) -> list:
    """The filter's conditions; the values may be literals or bind parameters."""
    conditions: list[ColumnElement[bool]] = []
    if status == "overdue":
        conditions += [Invoice.status != InvoiceStatus.PAID, Invoice.due_date < today, is_invoice()]
    elif status == "open":
        # What the "Open invoices" tiles count: anything not paid in full.
        conditions.append(Invoice.status != InvoiceStatus.PAID)
    elif status in STATUSES:
        conditions.append(Invoice.status == InvoiceStatus(status))
    if due_from is not None:
        conditions.append(Invoice.due_date >= due_from)
    if due_to is not None:
        conditions.append(Invoice.due_date <= due_to)
    if q is not None:
        conditions.append(q)
    return conditions


@dataclass(frozen=True)
class _Shape:
    """What decides the SQL text of a list's two queries; the values are parameters."""

    accounts: int
    status: str | None
    due_from: bool
    due_to: bool
    q: bool
    sort: str
    cursor: bool
    forward: bool
    limit: int


def _like_escaped(text: str) -> str:
    """`text` for a LIKE with ESCAPE '/', as icontains(autoescape=True) escapes it."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


@lru_cache(maxsize=256)
def _statements(shape: _Shape) -> Select:
    """The list's one statement for a shape, built once: building it took a tenth of a
    first view's time (SQLAlchemy constructs, for every branch and condition), and its
    values change from request to request while the shapes are few.

    The totals (one row) are joined to the page's rows, so one round trip brings both: each
    row carries the count and balance, and an empty page is one row of totals with no
    invoice (LEFT JOIN ... ON TRUE)."""
    ids = [bindparam(f"account_{n}", type_=Integer) for n in range(shape.accounts)]
    q = Invoice.number.icontains(bindparam("q", type_=String), escape="/") if shape.q else None
    conditions = _conditions(
        shape.status,
        bindparam("due_from", type_=Date) if shape.due_from else None,
        bindparam("due_to", type_=Date) if shape.due_to else None,
        q,
        bindparam("today", type_=Date),
    )
    column, _ = SORTS[shape.sort]
    cursor = (bindparam("cursor_value", type_=column.type), bindparam("cursor_id", type_=Integer))
    flt = InvoiceFilter(status=shape.status, q="q" if shape.q else None)
    if shape.due_from or shape.due_to:
        flt = InvoiceFilter(status=shape.status, due_from=date.min)  # any: sums the invoices
    totals = _totals_statement(ids, flt, conditions, bindparam("today", type_=Date))
    page = _page_statement(
        ids, conditions, shape.sort, cursor if shape.cursor else None, shape.forward, shape.limit
    ).subquery("page")
    kept = totals.subquery("totals")
    column, descending = SORTS[shape.sort]
    reverse = descending != (not shape.forward)
    key, last = page.c[column.key], page.c.id
    order = [key.desc(), last.desc()] if reverse else [key.asc(), last.asc()]
    return (
        select(kept.c.n, kept.c.b, *(page.c[k] for k in _LISTED_KEYS))
        .select_from(kept.outerjoin(page, true()))
        .order_by(*order)
    )


def _amount(text: str) -> Decimal:
    """An amount sort value from a cursor, as a MONEY column holds it."""
    value = parse_amount(text)
    if value is None:
        raise ValueError(text)
    return value


_PARSERS = {"due_date": date.fromisoformat, "total": _amount, "number": str}


def encode_cursor(invoice: Invoice | ListedInvoice, sort: str) -> str:
    column, _ = SORTS[sort]
    return core_listing.encode_cursor(getattr(invoice, column.key), invoice.id)


def decode_cursor(token: str, sort: str) -> tuple[Any, int]:
    column, _ = SORTS[sort]
    return core_listing.decode_cursor(token, _PARSERS[column.key])


def _page_statement(
    ids: list[int],
    conditions: list,
    sort: str,
    cursor: tuple[Any, int] | None,
    forward: bool,
    limit: int,
) -> Select:
    column, descending = SORTS[sort]
    # Walking backwards (the previous page) reverses the order and the comparison.
    reverse = descending != (not forward)
    keyset = []
    if cursor is not None:
        key = tuple_(column, Invoice.id)
        keyset.append(key < tuple_(*cursor) if reverse else key > tuple_(*cursor))
    order = [column.desc(), Invoice.id.desc()] if reverse else [column.asc(), Invoice.id.asc()]
    branches = [
        select(Invoice.id)
        .where(Invoice.customer_id == customer_id, *conditions, *keyset)
        .order_by(*order)
        .limit(limit + 1)
        .subquery()
        for customer_id in ids
    ]
    if len(branches) == 1:
        page_ids = branches[0]
    else:
        page_ids = union_all(*(select(b.c.id) for b in branches)).subquery()
    return (
        select(*LISTED_COLUMNS)
        .join(page_ids, Invoice.id == page_ids.c.id)
        .order_by(*order)
        .limit(limit + 1)
    )


def _totals_statement(ids: list[int], flt: InvoiceFilter, conditions: list, today: date) -> Select:
    """Count and balance of everything the filter matches.

    A filter by status alone reads the trigger-kept InvoiceTotals rows. "Overdue" is the
    open totals less the open invoices not yet due, which are few (one payment term's
    worth) and sit together at the end of the open-invoice index. Other filters sum the
    matching invoices.
    """
    if flt.due_from or flt.due_to or flt.q:
        return select(
            func.count().label("n"), func.coalesce(func.sum(signed_balance()), 0).label("b")
        ).where(Invoice.customer_id.in_(ids), *conditions)
    open_statuses = [InvoiceStatus.UNPAID.value, InvoiceStatus.PARTIALLY_PAID.value]
    if flt.status in ("overdue", "open"):
        statuses = open_statuses
    else:
        statuses = [flt.status] if flt.status else [s.value for s in InvoiceStatus]
    kept = select(
        func.coalesce(func.sum(InvoiceTotals.invoice_count), 0).label("n"),
        func.coalesce(func.sum(InvoiceTotals.total - InvoiceTotals.amount_paid), 0).label("b"),
    ).where(InvoiceTotals.customer_id.in_(ids), InvoiceTotals.status.in_(statuses))
    if flt.status != "overdue":
        return kept
    kept = kept.subquery()
    # Open credit notes are never overdue: they count here with the invoices not yet due.
    not_due = (
        select(
            func.count().label("n"),
            func.coalesce(func.sum(signed_balance()), 0).label("b"),
        )
        .where(
            Invoice.customer_id.in_(ids),
            Invoice.status != InvoiceStatus.PAID,
            or_(Invoice.due_date >= today, ~is_invoice()),
        )
        .subquery()
    )
    # Each side is one row: join them side by side.
    return select(
        (kept.c.n - not_due.c.n).label("n"), (kept.c.b - not_due.c.b).label("b")
    ).select_from(kept.join(not_due, true()))


def list_invoices(
    user: User,
    flt: InvoiceFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    today: date | None = None,
    limit: int = PAGE_SIZE,
) -> InvoicePage:
    """One page of the invoices the user may see, with the totals of everything matched.

    One query whatever the page or the number of invoices: the totals with the page's rows
    (the visible accounts come loaded with the user).
    """
    today = today or date.today()
    accounts = visible_accounts(user)
    ids = _account_ids(user, accounts, flt.account)
    page = InvoicePage([], 0, Decimal(0), accounts[0].currency if accounts else None, accounts)
    if not ids:
        return page
    token, forward = (before, False) if before else (after, True)
    cursor = None
    if token:
        try:
            cursor = decode_cursor(token, flt.sort)
        except BadCursor:
            page.errors.append("cursor")
            token = None
    shape = _Shape(
        accounts=len(ids),
        status=flt.status,
        due_from=flt.due_from is not None,
        due_to=flt.due_to is not None,
        q=bool(flt.q),
        sort=flt.sort,
        cursor=cursor is not None,
        forward=forward,
        limit=limit,
    )
    statement = _statements(shape)
    params: dict[str, Any] = {f"account_{n}": account_id for n, account_id in enumerate(ids)}
    params |= {"today": today, "due_from": flt.due_from, "due_to": flt.due_to}
    if flt.q:
        params["q"] = _like_escaped(flt.q)
    if cursor is not None:
        params |= {"cursor_value": cursor[0], "cursor_id": cursor[1]}

    # Core rows, run on the session's connection: the ORM's execute adds a quarter.
    result = db.session.connection().execute(statement, params).all()
    count, balance = result[0][:2]
    page.count = count
    page.balance = quantize(Decimal(str(balance)), page.currency or "EUR")
    # An empty page is the totals' row alone, its invoice columns NULL.
    rows = [ListedInvoice(row[2:]) for row in result if row[2] is not None]
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    page.invoices = rows
    if rows:
        has_next = more if forward else True
        has_prev = (token is not None) if forward else more
        page.next_cursor = encode_cursor(rows[-1], flt.sort) if has_next else None
        page.prev_cursor = encode_cursor(rows[0], flt.sort) if has_prev else None
    return page


def iter_invoices(user: User, flt: InvoiceFilter, *, today: date | None = None, batch: int = 1000):
    """Every invoice the filter matches, in the filter's order (the CSV export)."""
    today = today or date.today()
    accounts = visible_accounts(user)
    ids = _account_ids(user, accounts, flt.account)
    if not ids:
        return
    column, descending = SORTS[flt.sort]
    order = [column.desc(), Invoice.id.desc()] if descending else [column.asc(), Invoice.id.asc()]
    names = {c.id: c.name for c in accounts}
    stmt = (
        select(Invoice)
        .where(Invoice.customer_id.in_(ids), *filter_conditions(flt, today))
        .order_by(*order)
        .execution_options(yield_per=batch)
    )
    for invoice in db.session.scalars(stmt):
        yield invoice, names[invoice.customer_id]
