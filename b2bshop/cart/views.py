from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import buyer_required
from b2bshop.cart import service
from b2bshop.core.frame import cart_badge
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.htmx import hx_trigger, is_htmx

bp = Blueprint("cart", __name__)


def _refusal(error: DomainError):  # type: ignore[no-untyped-def]
    """A refusal changes nothing: roll back, then say why and what to do instead."""
    db.session.rollback()
    template = "cart/_refusal.html" if is_htmx() else "cart/refused.html"
    return render_template(template, message=error.message), error.status_code


def _cart_page(status: int = 200, errors: dict | None = None):  # type: ignore[no-untyped-def]
    cart = service.get_cart(current_user)
    template = "cart/_cart.html" if is_htmx() else "cart/cart.html"
    return render_template(template, cart=cart, errors=errors or {}), status


@bp.route("/cart")
@buyer_required()
def show_cart():
    return _cart_page()


@bp.route("/cart/badge")
@buyer_required()
def badge():
    return cart_badge(service.line_count(current_user))


@bp.route("/cart/invoices", methods=["POST"])
@buyer_required("may_pay_invoices")
def add_invoice():
    """Pay invoice (A4): add an invoice, or change the amount of one already in the cart."""
    number = request.form.get("invoice", "").strip()
    from_cart = request.form.get("fragment") == "cart"
    try:
        line = service.add_invoice(current_user, number, request.form.get("amount"))
    except DomainError as error:
        if from_cart:  # the cart again, the amount marked and kept (with JavaScript or not)
            db.session.rollback()
            return _cart_page(error.status_code, {number: error.message})
        return _refusal(error)
    amount, currency = line.amount, line.invoice.currency
    # The locale is chosen from the user's setting: resolved before the commit expires the
    # user, or the answer's render would load the user again (a query and a transaction).
    get_locale()
    db.session.commit()
    if from_cart:
        response = make_response(_cart_page())
    elif is_htmx():
        response = make_response(
            render_template("cart/_added.html", number=number, amount=amount, currency=currency)
        )
    else:
        flash(_("Invoice %(number)s is in your cart.", number=number), "success")
        return redirect(url_for("payments.checkout"))
    return hx_trigger(response, "cartChanged")


@bp.route("/cart/invoices/bulk", methods=["POST"])
@buyer_required("may_pay_invoices")
def add_invoices():
    """Pay selected / pay all overdue (D1), optionally one total, oldest due date first."""
    try:
        result = service.add_invoices(
            current_user,
            request.form.getlist("invoice"),
            overdue=request.form.get("overdue") == "1",
            total=request.form.get("total"),
        )
    except DomainError as error:
        if is_htmx():
            return _refusal(error)
        # The invoice list again (its filter is in the form's action), the refusal in its
        # error summary: no dead end, nothing typed lost.
        from b2bshop.billing.views import _render_list

        db.session.rollback()
        flash(error.message, "error")
        response = make_response(_render_list(date.today()))
        response.status_code = error.status_code
        return response
    db.session.commit()
    message = ngettext(
        "%(num)d invoice is in your cart.", "%(num)d invoices are in your cart.", len(result.added)
    )
    if result.skipped:
        message += " " + _(
            "The total does not reach %(numbers)s.", numbers=", ".join(result.skipped)
        )
    flash(message, "success")
    if is_htmx():
        response = make_response("")
        response.headers["HX-Redirect"] = url_for("cart.show_cart")
        return response
    return redirect(url_for("cart.show_cart"))


@bp.route("/cart/items", methods=["POST"])
@buyer_required("may_order")
def add_item():
    sku = request.form.get("sku", "")
    try:
        line = service.add_item(current_user, sku, request.form.get("qty", "1"))
    except DomainError as error:
        return _refusal(error)
    name, quantity = line.product.name, line.quantity
    db.session.commit()
    if is_htmx():
        response = make_response(
            render_template("cart/_item_added.html", name=name, quantity=quantity)
        )
        return hx_trigger(response, "cartChanged")
    flash(_("%(name)s is in your cart (%(quantity)s).", name=name, quantity=quantity), "success")
    return redirect(request.referrer or url_for("catalog.list_products"))


@bp.route("/cart/lines/<int:line_id>/quantity", methods=["POST"])
@buyer_required("may_order")
def set_quantity(line_id: int):
    try:
        service.set_item_quantity(current_user, line_id, request.form.get("qty", ""))
    except DomainError as error:
        db.session.rollback()
        return _cart_page(error.status_code, {line_id: error.message})
    db.session.commit()
    if is_htmx():
        return hx_trigger(make_response(_cart_page()), "cartChanged")
    return redirect(url_for("cart.show_cart"))


@bp.route("/cart/ship-date", methods=["POST"])
@buyer_required("may_order")
def set_ship_date():
    """The requested ship date: the cart again, priced for that date."""
    try:
        service.set_requested_ship_date(current_user, request.form.get("requested_ship_date"))
    except DomainError as error:
        db.session.rollback()
        return _cart_page(error.status_code, {"ship_date": error.message})
    db.session.commit()
    if is_htmx():
        return hx_trigger(make_response(_cart_page()), "cartChanged")
    flash(_("The requested ship date is saved; prices are for that date."), "success")
    return redirect(url_for("cart.show_cart"))


@bp.route("/cart/lines/<int:line_id>/remove", methods=["POST"])
@buyer_required()
def remove_line(line_id: int):
    try:
        service.remove_line(current_user, line_id)
    except DomainError as error:
        return _refusal(error)
    db.session.commit()
    if is_htmx():
        return hx_trigger(make_response(_cart_page()), "cartChanged")
    return redirect(url_for("cart.show_cart"))


@bp.route("/cart/empty", methods=["POST"])
@buyer_required()
def empty():
    service.empty_cart(current_user)
    db.session.commit()
    if is_htmx():  # the swapped cart says it is empty; a flash would linger to the next page
        return hx_trigger(make_response(_cart_page()), "cartChanged")
    flash(_("Your cart is empty."), "info")
    return redirect(url_for("cart.show_cart"))
