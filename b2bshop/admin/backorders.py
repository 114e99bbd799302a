"""The backorder list (SPEC B7): not yet delivered sales order lines and not yet received
purchase order lines, by item, customer or vendor; an admin splits on-hand stock between
waiting orders and reprioritizes them."""

from __future__ import annotations

from collections import defaultdict

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import admin_entity_id, bp, get_or_404, refuse
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id, parse_int
from b2bshop.errors import DomainError
from b2bshop.purchasing import service

GROUPINGS = ("item", "customer", "vendor")
MAX_PRIORITY = 9999


def _render(by: str, status: int = 200, errors: dict | None = None):  # type: ignore[no-untyped-def]
    data = service.backorders(admin_entity_id())
    groups: dict = defaultdict(lambda: {"order_lines": [], "purchase_lines": []})
    keys: dict = {}
    if by == "item":
        for product in data.products():
            keys[product.id] = product
            _section = groups[product.id]  # every product gets its section, in SKU order
        for line in data.order_lines:
            groups[line.product_id]["order_lines"].append(line)
        for pline in data.purchase_lines:
            groups[pline.product_id]["purchase_lines"].append(pline)
    elif by == "customer":
        for line in data.order_lines:
            keys.setdefault(line.order.customer_id, line.order.customer)
            groups[line.order.customer_id]["order_lines"].append(line)
    else:
        for pline in data.purchase_lines:
            vendor = pline.purchase_order.vendor
            keys.setdefault(vendor.id, vendor)
            groups[vendor.id]["purchase_lines"].append(pline)
        for line in data.order_lines:
            vendor = data.vendor_of(line.product_id)
            key = vendor.id if vendor else 0
            keys.setdefault(key, vendor)
            groups[key]["order_lines"].append(line)
    sections = [(keys[key], groups[key]) for key in keys]
    if by == "customer":
        sections.sort(key=lambda pair: pair[0].name)
    return render_template(
        "admin/backorders.html",
        by=by,
        sections=sections,
        unassigned_purchase_lines=data.purchase_lines if by == "customer" else [],
        expected=data.expected,
        errors=errors or {},
    ), status


@bp.route("/backorders")
@store_admin_required
def list_backorders():
    by = request.args.get("by", "item")
    if by not in GROUPINGS:
        by = "item"
    return _render(by)


@bp.route("/backorders/allocate", methods=["POST"])
@store_admin_required
def allocate_backorders():
    product_id = parse_id(request.form.get("product_id"))
    if product_id is None:
        abort(404)
    get_or_404(Product, product_id)  # another entity's product is not found
    allocations: dict[int, int] = {}
    priorities: dict[int, int | None] = {}
    errors: dict[str, str] = {}
    for name, raw in request.form.items():
        kind, _sep, ident = name.partition("-")
        line_id = parse_id(ident) if kind in ("alloc", "priority") else None
        if line_id is None:
            continue
        raw = raw.strip()
        if kind == "alloc":
            quantity = parse_int(raw, maximum=service.MAX_QUANTITY) if raw else 0
            if quantity is None:
                errors[f"alloc-{line_id}"] = _(
                    "Quantities must be whole numbers from 1 to %(max)s.", max=service.MAX_QUANTITY
                )
            else:
                allocations[line_id] = quantity
        elif kind == "priority":
            priority = parse_int(raw, maximum=MAX_PRIORITY) if raw else None
            if raw and priority is None:
                errors[f"priority-{line_id}"] = _(
                    "A priority is a whole number from 0 to %(max)s; leave it empty to wait by "
                    "date.",
                    max=MAX_PRIORITY,
                )
            else:
                priorities[line_id] = priority
    if errors:
        return _render("item", 422, errors)
    stock_seen = parse_int(request.form.get("stock_seen"))
    try:
        allocated = unit_of_work.run(
            lambda: service.allocate_stock(
                current_user, product_id, allocations, priorities, stock_seen=stock_seen
            )
        )
    except DomainError as error:
        refuse(error)
        return _render("item", error.status_code)
    flash(
        _(
            "Saved: %(count)s allocated. The next packing slip delivers what is allocated.",
            count=sum(a.quantity for a in allocated),
        ),
        "success",
    )
    return redirect(url_for(".list_backorders", by="item") + f"#product-{product_id}")
