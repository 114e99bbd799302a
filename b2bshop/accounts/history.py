"""My account history (issue 18): the buyer's own sales orders and payments, filterable,
keyset-paged and exportable to CSV through the shared list machinery (core/listing.py).

Scoped in the query: a user sees their own customer's orders and payments only.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, false, select
from sqlalchemy.orm import selectinload
from wtforms import DateField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from b2bshop.accounts.access import buyer_required
from b2bshop.accounts.models import User
from b2bshop.billing.models import Invoice
from b2bshop.core.csv_safe import streamed_csv, streamed_scalars, text_cell
from b2bshop.core.listing import ListFilterForm, keyset_page, list_response, parse_filter
from b2bshop.core.read_only import read_only
from b2bshop.extensions import db
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.sales.models import OrderStatus, PackingSlip, SalesOrder, SalesOrderLine

bp = Blueprint("history", __name__, url_prefix="/account")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


ORDER_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("open", _l("Placed")),
    SelectChoice("confirmed", _l("Confirmed")),
    SelectChoice("delivered", _l("Delivered")),
    SelectChoice("invoiced", _l("Invoiced")),
    SelectChoice("cancelled", _l("Cancelled")),
]
PAYMENT_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("pending", _l("Pending")),
    SelectChoice("completed", _l("Completed")),
    SelectChoice("failed", _l("Failed")),
    SelectChoice("reversed", _l("Reversed")),
    SelectChoice("cancelled", _l("Cancelled")),
    SelectChoice("expired", _l("Expired")),
]
PAYMENT_METHOD_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("card", _l("Card")),
    SelectChoice("bank_transfer", _l("Bank transfer")),
    SelectChoice("manual", _l("Manual")),
    SelectChoice("credit_note", _l("Credit note")),
]


class OrderHistoryFilterForm(ListFilterForm):
    status = SelectField(
        _l("Status"), choices=ORDER_STATUS_CHOICES, default="", validate_choice=True
    )
    date_from = DateField(_l("Ordered from"), validators=[Optional()])
    date_to = DateField(_l("Ordered to"), validators=[Optional()])
    q = SearchField(
        _l("Order number"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        render_kw={"maxlength": 20, "placeholder": _l("e.g. SO-000123")},
    )


class PaymentHistoryFilterForm(ListFilterForm):
    status = SelectField(
        _l("Status"), choices=PAYMENT_STATUS_CHOICES, default="", validate_choice=True
    )
    method = SelectField(
        _l("Method"), choices=PAYMENT_METHOD_CHOICES, default="", validate_choice=True
    )
    q = SearchField(
        _l("Payment number"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        render_kw={"maxlength": 20, "placeholder": _l("e.g. PAY-000123")},
    )


# -- scoped queries ----------------------------------------------------------------------


def visible_orders(user: User) -> Select:
    """The user's own customer's sales orders; any other is not found."""
    if user.customer_id is None:
        return select(SalesOrder).where(false())
    return select(SalesOrder).where(SalesOrder.customer_id == user.customer_id)


def visible_payments(user: User) -> Select:
    """Payments made for the user's own customer (as /payments/<number> shows them)."""
    if user.customer_id is None:
        return select(Payment).where(false())
    return select(Payment).where(Payment.customer_id == user.customer_id)


def filtered_orders(user: User, form: ListFilterForm) -> Select:
    stmt = visible_orders(user)
    if status := form.valid_value("status"):
        stmt = stmt.where(SalesOrder.status == OrderStatus(status))
    if date_from := form.valid_value("date_from"):
        stmt = stmt.where(SalesOrder.order_date >= date_from)
    if date_to := form.valid_value("date_to"):
        stmt = stmt.where(SalesOrder.order_date <= date_to)
    if q := form.valid_value("q"):
        stmt = stmt.where(SalesOrder.number.icontains(q, autoescape=True))
    return stmt


def filtered_payments(user: User, form: ListFilterForm) -> Select:
    stmt = visible_payments(user)
    if status := form.valid_value("status"):
        stmt = stmt.where(Payment.status == PaymentStatus(status))
    if method := form.valid_value("method"):
        stmt = stmt.where(Payment.method == PaymentMethod(method))
    if q := form.valid_value("q"):
        stmt = stmt.where(Payment.number.icontains(q, autoescape=True))
    return stmt


#: Everything an order row shows, loaded per page in a fixed number of queries.
ORDER_OPTIONS = (
    selectinload(SalesOrder.lines).selectinload(SalesOrderLine.product),
    selectinload(SalesOrder.packing_slips).selectinload(PackingSlip.invoice),
)


def order_invoices(orders: Iterable[SalesOrder]) -> dict[int, list[Invoice]]:
    """The invoices each order produced: those that bill it and those that bill its
    deliveries (an invoice may bill several orders' packing slips). One query."""
    orders = list(orders)
    found: dict[int, dict[int, Invoice]] = {order.id: {} for order in orders}
    for order in orders:
        for slip in order.packing_slips:
            if slip.invoice is not None:
                found[order.id][slip.invoice.id] = slip.invoice
    if orders:
        for invoice in db.session.scalars(
            select(Invoice).where(Invoice.sales_order_id.in_(list(found)))
        ):
            found[invoice.sales_order_id][invoice.id] = invoice  # type: ignore[index]
    return {
        order_id: sorted(invoices.values(), key=lambda i: i.id)
        for order_id, invoices in found.items()
    }


# -- views -------------------------------------------------------------------------------


@bp.route("/orders")
@read_only
@buyer_required()
def list_orders():
    form = parse_filter(OrderHistoryFilterForm)
    page = keyset_page(
        filtered_orders(current_user, form),
        SalesOrder.id,
        SalesOrder.id,
        after=request.args.get("after"),
        before=request.args.get("before"),
        options=ORDER_OPTIONS,
    )
    return list_response(
        "accounts/orders.html",
        "accounts/_orders.html",
        "history.list_orders",
        form.query_args(),
        form=form,
        page=page,
        invoices=order_invoices(page.items),
    )


ORDER_CSV_HEADER = [
    "number",
    "order_date",
    "status",
    "currency",
    "total",
    "lines",
    "backordered",
    "packing_slips",
    "invoices",
]


@bp.route("/orders.csv")
@buyer_required()
def export_orders():
    form = parse_filter(OrderHistoryFilterForm)

    def rows():  # type: ignore[no-untyped-def]
        # In batches: each batch's lines, slips and invoices in a fixed number of queries.
        stmt = filtered_orders(current_user, form).options(*ORDER_OPTIONS)
        after = None
        while True:
            batch_stmt = stmt.order_by(SalesOrder.id.desc()).limit(500)
            if after is not None:
                batch_stmt = batch_stmt.where(SalesOrder.id < after)
            batch = list(db.session.scalars(batch_stmt))
            if not batch:
                return
            invoices = order_invoices(batch)
            for order in batch:
                yield order, invoices[order.id]
            after = batch[-1].id

    return streamed_csv(
        "orders",
        ORDER_CSV_HEADER,
        rows(),
        lambda item: [
            text_cell(item[0].number),
            item[0].order_date.isoformat(),
            item[0].status.value,
            item[0].currency,
            f"{item[0].total:.2f}",
            len(item[0].lines),
            sum(line.backorder_quantity for line in item[0].lines),
            " ".join(slip.number for slip in item[0].packing_slips),
            " ".join(invoice.number for invoice in item[1]),
        ],
    )


@bp.route("/payments")
@read_only
@buyer_required()
def list_payments():
    form = parse_filter(PaymentHistoryFilterForm)
    page = keyset_page(
        filtered_payments(current_user, form),
        Payment.id,
        Payment.id,
        after=request.args.get("after"),
        before=request.args.get("before"),
        options=(selectinload(Payment.allocations),),
    )
    return list_response(
        "accounts/payments.html",
        "accounts/_payments.html",
        "history.list_payments",
        form.query_args(),
        form=form,
        page=page,
    )


PAYMENT_CSV_HEADER = ["number", "date", "method", "status", "currency", "amount"]


@bp.route("/payments.csv")
@buyer_required()
def export_payments():
    form = parse_filter(PaymentHistoryFilterForm)
    stmt = filtered_payments(current_user, form).order_by(Payment.id.desc())

    return streamed_csv(
        "payments",
        PAYMENT_CSV_HEADER,
        streamed_scalars(stmt),
        lambda p: [
            text_cell(p.number),
            p.created_at.date().isoformat(),
            p.method.value,
            p.status.value,
            p.currency,
            f"{p.amount:.2f}",
        ],
    )


__all__ = ["bp"]
