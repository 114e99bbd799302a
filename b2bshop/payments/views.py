from __future__ import annotations

import uuid

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from b2bshop.accounts.access import buyer_required
from b2bshop.cart import service as cart_service
from b2bshop.cart.models import CartKind
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.payments import flows
from b2bshop.payments.forms import CheckoutForm
from b2bshop.payments.models import Payment
from b2bshop.payments.providers import SandboxCardProvider, card_provider
from b2bshop.sales.models import SalesOrder

bp = Blueprint("payments", __name__)


def _render_checkout(form: CheckoutForm, status: int = 200, error: object = None):  # type: ignore[no-untyped-def]
    cart = cart_service.get_cart(current_user)
    if not form.idempotency_key.data or error is None:
        # A fresh key per rendered form: a new attempt after a refusal is a new payment.
        form.idempotency_key.data = str(uuid.uuid4())
    if cart is not None and cart.kind == CartKind.INVOICE and not form.method.data:
        form.method.data = "card"
    sandbox = isinstance(card_provider(), SandboxCardProvider)
    return render_template(
        "payments/checkout.html", cart=cart, form=form, error=error, sandbox=sandbox
    ), status


@bp.route("/checkout", methods=["GET", "POST"])
@buyer_required()
def checkout():
    form = CheckoutForm()
    if not form.is_submitted():
        return _render_checkout(form)
    if not form.validate():
        return _render_checkout(form, 422, _("The form was incomplete. Please try again."))
    try:
        result = flows.checkout_cart(
            current_user, form.method.data or "", form.idempotency_key.data, form.card_number.data
        )
    except DomainError as error:
        db.session.rollback()
        form.idempotency_key.data = None
        return _render_checkout(form, error.status_code, error.message)
    if result.kind == "payment":
        return redirect(url_for(".receipt", number=result.number))
    return redirect(url_for(".order_confirmation", number=result.number))


@bp.route("/payments/<number>")
@buyer_required()
def receipt(number: str):
    payment = db.session.scalar(
        select(Payment).where(
            Payment.number == number, Payment.customer_id == current_user.customer_id
        )
    )
    if payment is None:
        abort(404)
    return render_template("payments/receipt.html", payment=payment)


@bp.route("/orders/<number>")
@buyer_required()
def order_confirmation(number: str):
    order = db.session.scalar(
        select(SalesOrder).where(
            SalesOrder.number == number, SalesOrder.customer_id == current_user.customer_id
        )
    )
    if order is None:
        abort(404)
    return render_template("payments/order.html", order=order)
