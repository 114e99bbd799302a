"""Sales orders (SPEC B5): create, change type, confirm, deliver on packing slips, invoice
(SPEC B8), pro forma."""

from __future__ import annotations

import re
import uuid
from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    customer_matches,
    pdf_response,
    refuse,
)
from b2bshop.admin.forms import ORDER_TYPE_CHOICES, OrderFilterForm, OrderTypeForm
from b2bshop.billing import pdf
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id, parse_int
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.payments.forms import UUID_RE
from b2bshop.sales import service
from b2bshop.sales.models import OrderStatus, OrderType, PackingSlip, SalesOrder

#: Line rows on the new-order form.
ORDER_FORM_LINES = 6


#: The most units one order line or packing slip line takes from the form.
MAX_LINE_QUANTITY = 999_999


def _whole_number(raw: str | None) -> int | None:
    """A quantity field: blank is 0, anything but a whole number from 0 to
    MAX_LINE_QUANTITY is None (refused)."""
    raw = (raw or "").strip()
    if not raw:
        return 0
    return parse_int(raw, maximum=MAX_LINE_QUANTITY)


@bp.route("/orders")
@store_admin_required
def list_orders():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(SalesOrder).join(Customer, Customer.id == SalesOrder.customer_id)
        if status := form.valid_value("status"):
            stmt = stmt.where(SalesOrder.status == OrderStatus(status))
        if order_type := form.valid_value("type"):
            stmt = stmt.where(SalesOrder.order_type == OrderType(order_type))
        if customer := form.valid_value("customer"):
            stmt = stmt.where(customer_matches(Customer.number, Customer.name, customer))
        return stmt

    return admin_list(
        OrderFilterForm,
        build,
        SalesOrder.id,
        SalesOrder.id,
        "admin/_orders.html",
        "admin.list_orders",
        title=_("Sales orders"),
        options=(contains_eager(SalesOrder.customer),),
        new_url=url_for(".new_order"),
        type_labels=dict((c.value, c.label) for c in ORDER_TYPE_CHOICES),
    )


@bp.route("/orders/new", methods=["GET", "POST"])
@store_admin_required
def new_order():
    customers = list(
        db.session.scalars(
            scope_to_entity(select(Customer).where(Customer.active), admin_entity_id()).order_by(
                Customer.name
            )
        )
    )
    products = list(
        db.session.scalars(
            scope_to_entity(select(Product).where(Product.active), admin_entity_id()).order_by(
                Product.sku
            )
        )
    )
    values = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        customer_id = parse_id(values.get("customer_id"))
        customer = db.session.get(Customer, customer_id) if customer_id else None
        type_values = {c.value for c in ORDER_TYPE_CHOICES}
        key = values.get("idempotency_key", "")
        idempotency_key = key if re.fullmatch(UUID_RE, key) else None
        order_type = values.get("order_type")
        lines = []
        bad_quantity = False
        for i in range(ORDER_FORM_LINES):
            quantity = _whole_number(values.get(f"quantity-{i}"))
            product_id = parse_id(values.get(f"product-{i}"))
            if quantity is None:
                bad_quantity = True
            elif quantity and product_id:
                lines.append(service.OrderLineInput(product_id, quantity))
        if not idempotency_key:
            flash(_("This form has expired. Reload the page and try again."), "error")
        elif customer is None:
            flash(_("Choose a customer."), "error")
        elif order_type not in type_values:
            flash(_("Choose an order type."), "error")
        elif bad_quantity:
            flash(
                _("Quantities must be whole numbers from 1 to %(max)s.", max=MAX_LINE_QUANTITY),
                "error",
            )
        else:
            customer_id = customer.id
            try:
                number = unit_of_work.run(
                    lambda: (
                        service.create_order(
                            current_user,
                            db.session.get(Customer, customer_id),
                            OrderType(order_type),
                            lines,
                            idempotency_key=idempotency_key,
                        ).number
                    )
                )
            except DomainError as error:
                refuse(error)
            else:
                flash(_("Sales order %(number)s created.", number=number), "success")
                return redirect(url_for(".show_order", number=number))
    return render_template(
        "admin/order_new.html",
        customers=customers,
        products=products,
        values=values,
        idempotency_key=values.get("idempotency_key") or str(uuid.uuid4()),
        type_choices=ORDER_TYPE_CHOICES,
        line_rows=range(ORDER_FORM_LINES),
    ), 422 if request.method == "POST" else 200


def _order_or_404(number: str) -> SalesOrder:
    order = db.session.scalar(
        select(SalesOrder).where(
            SalesOrder.number == number, SalesOrder.legal_entity_id == admin_entity_id()
        )
    )
    if order is None:
        abort(404)
    return order


@bp.route("/orders/<number>")
@store_admin_required
def show_order(number: str):
    order = _order_or_404(number)
    form = OrderTypeForm(order_type=order.order_type.value)
    return render_template(
        "admin/order.html",
        order=order,
        type_form=form,
        type_labels=dict((c.value, c.label) for c in ORDER_TYPE_CHOICES),
    )


def _order_action(number: str, action, success) -> Response:  # type: ignore[no-untyped-def]
    """Run one service call on the order as a unit of work (retried on a deadlock); on
    refusal nothing stays and the admin reads why."""
    order_id = _order_or_404(number).id
    try:
        message = unit_of_work.run(lambda: success(action(db.session.get(SalesOrder, order_id))))
    except DomainError as error:
        refuse(error)
    else:
        flash(message, "success")
    return redirect(url_for(".show_order", number=number))


@bp.route("/orders/<number>/type", methods=["POST"])
@store_admin_required
def change_order_type(number: str):
    form = OrderTypeForm()
    if not form.validate_on_submit():
        flash(_("Choose an order type."), "error")
        return redirect(url_for(".show_order", number=number))
    new_type = OrderType(form.order_type.data)
    return _order_action(
        number,
        lambda order: service.change_order_type(current_user, order, new_type),
        lambda _order: _("The order type is changed."),
    )


@bp.route("/orders/<number>/confirm", methods=["POST"])
@store_admin_required
def confirm_order(number: str):
    return _order_action(
        number,
        lambda order: service.confirm_order(current_user, order),
        lambda _order: _("The order is confirmed."),
    )


@bp.route("/orders/<number>/cancel", methods=["POST"])
@store_admin_required
def cancel_order(number: str):
    return _order_action(
        number,
        lambda order: service.cancel_order(current_user, order),
        lambda _order: _("The order is cancelled."),
    )


@bp.route("/orders/<number>/packing-slips", methods=["POST"])
@store_admin_required
def post_packing_slip(number: str):
    order = _order_or_404(number)
    quantities = {}
    for line in order.lines:
        quantity = _whole_number(request.form.get(f"qty-{line.id}"))
        if quantity is None:
            flash(
                _("Quantities must be whole numbers from 1 to %(max)s.", max=MAX_LINE_QUANTITY),
                "error",
            )
            return redirect(url_for(".show_order", number=number))
        quantities[line.id] = quantity
    slips_seen = parse_int(request.form.get("slips_seen"))
    return _order_action(
        number,
        lambda order: service.post_packing_slip(
            current_user, order, quantities, slips_seen=slips_seen
        ),
        lambda slip: _("Packing slip %(number)s posted.", number=slip.number),
    )


@bp.route("/orders/<number>/invoice", methods=["POST"])
@store_admin_required
def invoice_order(number: str):
    return _order_action(
        number,
        lambda order: service.invoice_order(current_user, order),
        lambda invoice: _("Invoice %(number)s posted.", number=invoice.number),
    )


@bp.route("/orders/<number>/pro-forma.pdf")
@store_admin_required
def order_pro_forma(number: str):
    order = _order_or_404(number)
    try:
        invoice = service.pro_forma(order)
    except DomainError as error:
        refuse(error)
        return redirect(url_for(".show_order", number=number))
    except ValueError:  # nothing left to invoice
        flash(_("Nothing on this order is left to invoice."), "error")
        return redirect(url_for(".show_order", number=number))
    body = pdf.invoice_pdf(invoice, [], date.today(), pro_forma=True)
    db.session.rollback()  # the pro forma was never meant to be stored
    return pdf_response(body, f"pro-forma-{order.number}.pdf")


# --- Packing slips: invoice one or several together (SPEC B8) ---


@bp.route("/packing-slips")
@store_admin_required
def list_packing_slips():
    slips = list(
        db.session.scalars(
            select(PackingSlip)
            .where(PackingSlip.invoice_id.is_(None))
            .join(SalesOrder, SalesOrder.id == PackingSlip.order_id)
            .where(SalesOrder.order_type != OrderType.RETURNED_ORDER)
            .order_by(SalesOrder.customer_id, PackingSlip.id)
            .limit(500)
        )
    )
    return render_template("admin/packing_slips.html", slips=slips)


@bp.route("/packing-slips/invoice", methods=["POST"])
@store_admin_required
def invoice_packing_slips():
    ids = [i for i in map(parse_id, request.form.getlist("slip")) if i is not None]
    try:
        number = unit_of_work.run(lambda: service.invoice_packing_slips(current_user, ids).number)
    except DomainError as error:
        refuse(error)
        return redirect(url_for(".list_packing_slips"))
    flash(_("Invoice %(number)s posted.", number=number), "success")
    return redirect(url_for(".show_invoice", number=number))
