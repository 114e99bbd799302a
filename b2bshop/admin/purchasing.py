"""Vendors and purchase orders in the back office (SPEC B7): order from a vendor with
expected dates, receive what came in (it goes to waiting backorders first)."""

from __future__ import annotations

import re
import uuid
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    edit_page,
    get_or_404,
    refuse,
    search_and_active,
)
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id, parse_int
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.payments.forms import UUID_RE
from b2bshop.purchasing import service
from b2bshop.purchasing.forms import PurchaseOrderFilterForm, VendorFilterForm, VendorForm
from b2bshop.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Vendor,
)

#: Line rows on the new purchase order form.
PO_FORM_LINES = 6


def po_status_labels() -> dict[str, str]:
    return {"open": _("Open"), "received": _("Received"), "cancelled": _("Cancelled")}


@bp.route("/vendors")
@store_admin_required
def list_vendors():
    return admin_list(
        VendorFilterForm,
        search_and_active(Vendor, Vendor.number, Vendor.name),
        Vendor.number,
        Vendor.id,
        "admin/_vendors.html",
        "admin.list_vendors",
        title=_("Vendors"),
        new_url=url_for(".new_vendor"),
        descending=False,
        parse=str,
    )


def _save_vendor(vendor: Vendor | None):  # type: ignore[no-untyped-def]
    form = VendorForm(obj=vendor)
    if vendor is not None:
        del form.idempotency_key  # an edit creates nothing

    def save():  # type: ignore[no-untyped-def]
        data = service.VendorInput(
            name=form.name.data,
            email=form.email.data or "",
            active=form.active.data,
            idempotency_key=form.idempotency_key.data if vendor is None else None,
        )
        try:
            return service.save_vendor(
                current_user, vendor, data, legal_entity_id=admin_entity_id()
            )
        except service.AlreadyCreated as replay:
            return replay.row

    return edit_page(
        form,
        save,
        lambda saved: (
            _("Vendor %(number)s is saved.", number=saved.number),
            url_for(".list_vendors"),
        ),
        title=_("New vendor") if vendor is None else _("Edit %(name)s", name=vendor.name),
        back_url=url_for(".list_vendors"),
        back_label=_("Vendors"),
    )


@bp.route("/vendors/new", methods=["GET", "POST"])
@store_admin_required
def new_vendor():
    return _save_vendor(None)


@bp.route("/vendors/<int:vendor_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_vendor(vendor_id: int):
    return _save_vendor(get_or_404(Vendor, vendor_id))


@bp.route("/purchase-orders")
@store_admin_required
def list_purchase_orders():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(PurchaseOrder).join(Vendor, Vendor.id == PurchaseOrder.vendor_id)
        if status := form.valid_value("status"):
            stmt = stmt.where(PurchaseOrder.status == PurchaseOrderStatus(status))
        return stmt

    return admin_list(
        PurchaseOrderFilterForm,
        build,
        PurchaseOrder.id,
        PurchaseOrder.id,
        "admin/_purchase_orders.html",
        "admin.list_purchase_orders",
        title=_("Purchase orders"),
        options=(contains_eager(PurchaseOrder.vendor),),
        new_url=url_for(".new_purchase_order"),
        status_labels=po_status_labels(),
    )


def _quantity(raw: str | None) -> int | None:
    """Blank is 0; anything but a whole number from 0 to the maximum is None (refused)."""
    raw = (raw or "").strip()
    if not raw:
        return 0
    return parse_int(raw, maximum=service.MAX_QUANTITY)


def _parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


@bp.route("/purchase-orders/new", methods=["GET", "POST"])
@store_admin_required
def new_purchase_order():
    vendors = list(
        db.session.scalars(
            scope_to_entity(select(Vendor).where(Vendor.active), admin_entity_id()).order_by(
                Vendor.name
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
    errors: list[tuple[str | None, str]] = []
    if request.method == "POST":
        key = values.get("idempotency_key", "")
        vendor_id = parse_id(values.get("vendor_id"))
        lines = []
        for i in range(PO_FORM_LINES):
            quantity = _quantity(values.get(f"quantity-{i}"))
            product_id = parse_id(values.get(f"product-{i}"))
            if quantity is None:
                errors.append(
                    (
                        f"po-quantity-{i}",
                        _(
                            "Quantities must be whole numbers from 1 to %(max)s.",
                            max=service.MAX_QUANTITY,
                        ),
                    )
                )
            elif quantity:
                expected = _parse_date(values.get(f"expected-{i}"))
                if expected is None:
                    errors.append(
                        (
                            f"po-expected-{i}",
                            _("Enter the expected date as a date, for example 2027-03-31."),
                        )
                    )
                elif not product_id:
                    errors.append((f"po-product-{i}", _("Choose a product for each line.")))
                else:
                    lines.append(service.PurchaseLineInput(product_id, quantity, expected))
        if not re.fullmatch(UUID_RE, key):
            errors.insert(0, (None, _("This form has expired. Reload the page and try again.")))
        elif not vendor_id:
            errors.insert(0, ("po-vendor", _("Choose an active vendor.")))
        if not errors:
            try:
                number = unit_of_work.run(
                    lambda: (
                        service.create_purchase_order(
                            current_user, vendor_id, lines, idempotency_key=key
                        ).number
                    )
                )
            except DomainError as error:
                db.session.rollback()
                errors.append((None, str(error.message)))
            else:
                flash(_("Purchase order %(number)s created.", number=number), "success")
                return redirect(url_for(".show_purchase_order", number=number))
    return render_template(
        "purchasing/new_purchase_order.html",
        vendors=vendors,
        products=products,
        values=values,
        error_items=errors,
        field_errors={field: message for field, message in errors if field},
        idempotency_key=values.get("idempotency_key") or str(uuid.uuid4()),
        line_rows=range(PO_FORM_LINES),
    ), 422 if request.method == "POST" else 200


def _po_or_404(number: str) -> PurchaseOrder:
    order = db.session.scalar(
        select(PurchaseOrder)
        .where(
            PurchaseOrder.number == number[:20],
            PurchaseOrder.legal_entity_id == admin_entity_id(),
        )
        .options(
            selectinload(PurchaseOrder.lines).selectinload(PurchaseOrderLine.product),
            selectinload(PurchaseOrder.receipts),
        )
    )
    if order is None:
        abort(404)
    return order


def _render_po(order: PurchaseOrder, status: int = 200, errors=None):  # type: ignore[no-untyped-def]
    return render_template(
        "purchasing/purchase_order.html",
        order=order,
        status_labels=po_status_labels(),
        errors=errors or {},
        today=date.today(),
    ), status


@bp.route("/purchase-orders/<number>")
@store_admin_required
def show_purchase_order(number: str):
    return _render_po(_po_or_404(number))


@bp.route("/purchase-orders/<number>/receipts", methods=["POST"])
@store_admin_required
def receive_purchase_order(number: str):
    order = _po_or_404(number)
    quantities = {}
    for line in order.lines:
        quantity = _quantity(request.form.get(f"qty-{line.id}"))
        if quantity is None:
            message = _(
                "Quantities must be whole numbers from 1 to %(max)s.", max=service.MAX_QUANTITY
            )
            return _render_po(order, 422, {f"receive-{line.line_no}": message})
        quantities[line.id] = quantity
    receipts_seen = parse_int(request.form.get("receipts_seen"))
    order_id = order.id
    try:
        receipt = unit_of_work.run(
            lambda: service.receive(current_user, order_id, quantities, receipts_seen=receipts_seen)
        )
    except DomainError as error:
        refuse(error)
        return _render_po(_po_or_404(number), error.status_code)
    allocated = sum(line.allocated_quantity for line in receipt.lines)
    flash(
        _(
            "Receipt %(number)s posted: %(allocated)s allocated to waiting orders.",
            number=receipt.number,
            allocated=allocated,
        ),
        "success",
    )
    return redirect(url_for(".show_purchase_order", number=number))


@bp.route("/purchase-orders/<number>/cancel", methods=["POST"])
@store_admin_required
def cancel_purchase_order(number: str):
    order_id = _po_or_404(number).id
    try:
        unit_of_work.run(lambda: service.cancel_purchase_order(current_user, order_id))
    except DomainError as error:
        refuse(error)
        return _render_po(_po_or_404(number), error.status_code)
    flash(_("The purchase order is cancelled."), "success")
    return redirect(url_for(".show_purchase_order", number=number))
