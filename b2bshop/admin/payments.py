"""Payments: the list, confirming bank transfers, recording manual payments and reversing
them. All settlement goes through payments/service.py, as the storefront's does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
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
    get_or_404,
    refuse,
)
from b2bshop.admin.forms import ManualPaymentForm, PaymentFilterForm, ReasonForm
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import Money, parse_amount
from b2bshop.payments import service
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus


@bp.route("/payments")
@store_admin_required
def list_payments():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(Payment).join(Customer, Customer.id == Payment.customer_id)
        if status := form.valid_value("status"):
            stmt = stmt.where(Payment.status == PaymentStatus(status))
        if method := form.valid_value("method"):
            stmt = stmt.where(Payment.method == PaymentMethod(method))
        if customer := form.valid_value("customer"):
            stmt = stmt.where(customer_matches(Customer.number, Customer.name, customer))
        return stmt

    return admin_list(
        PaymentFilterForm,
        build,
        Payment.id,
        Payment.id,
        "admin/_payments.html",
        "admin.list_payments",
        title=_("Payments"),
        options=(contains_eager(Payment.customer),),
        new_url=url_for(".new_payment"),
        reverse_form=ReasonForm(),
    )


def _payment_or_404(number: str) -> Payment:
    payment = db.session.scalar(
        select(Payment).where(
            Payment.number == number, Payment.legal_entity_id == admin_entity_id()
        )
    )
    if payment is None:
        abort(404)
    return payment


def _show(payment: Payment, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/payment.html",
        payment=payment,
        reverse_form=ReasonForm(),
        cancel_form=ReasonForm(),
    ), status


@bp.route("/payments/<number>")
@store_admin_required
def show_payment(number: str):
    return _show(_payment_or_404(number))


def _transition(number: str, change: Callable[[int], object], done: str):  # type: ignore[no-untyped-def]
    """Run one guarded transition of a payment as its own unit of work. A payment that
    someone else changed first answers 409 with the reason, and changes nothing."""
    payment_id = _payment_or_404(number).id
    try:
        unit_of_work.run(lambda: change(payment_id))
    except DomainError as error:
        refuse(error)
        return _show(_payment_or_404(number), error.status_code)
    flash(done, "success")
    return redirect(url_for(".show_payment", number=number))


@bp.route("/payments/<number>/confirm", methods=["POST"])
@store_admin_required
def confirm_payment(number: str):
    return _transition(
        number,
        lambda pid: service.confirm_bank_transfer(current_user, pid),
        _("Payment %(number)s confirmed; its invoices are settled.", number=number),
    )


@bp.route("/payments/<number>/cancel", methods=["POST"])
@store_admin_required
def cancel_payment(number: str):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for the cancellation."), "error")
        return _show(_payment_or_404(number), 422)
    return _transition(
        number,
        lambda pid: service.cancel_bank_transfer(current_user, pid, form.reason.data),
        _("Transfer %(number)s cancelled; its invoices are open to pay again.", number=number),
    )


@bp.route("/payments/<number>/reverse", methods=["POST"])
@store_admin_required
def reverse_payment(number: str):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for the reversal."), "error")
        return _show(_payment_or_404(number), 422)
    return _transition(
        number,
        lambda pid: service.reverse_payment(current_user, pid, form.reason.data),
        _("Payment %(number)s reversed; its invoices are open again.", number=number),
    )


@bp.route("/payments/new", methods=["GET", "POST"])
@store_admin_required
def new_payment():
    """Step 1: pick the customer (GET ?customer_id=); step 2: allocate to its open invoices."""
    customer_id = parse_id(request.values.get("customer_id"))
    customer = get_or_404(Customer, customer_id) if customer_id else None
    form = ManualPaymentForm()
    if request.method == "GET":
        form.idempotency_key.data = str(uuid.uuid4())
        form.received_on.data = date.today()
    invoices = []
    status = 422 if request.method == "POST" else 200
    if customer is not None:
        invoices = list(
            db.session.scalars(
                select(Invoice)
                .where(Invoice.customer_id == customer.id, Invoice.status != InvoiceStatus.PAID)
                .order_by(Invoice.due_date, Invoice.id)
                .limit(200)
            )
        )
    if customer is not None and form.validate_on_submit():
        allocations, bad = [], False
        # Every amount the form sent, not only the invoices still open: a resent form whose
        # first submit paid an invoice in full must find that payment again by its key.
        posted = sorted(
            (invoice_id, key)
            for key in request.form
            if key.startswith("amount-")
            and (invoice_id := parse_id(key.removeprefix("amount-"))) is not None
        )
        for invoice_id, key in posted:
            raw = (request.form.get(key) or "").strip()
            if not raw:
                continue
            amount = parse_amount(raw)
            if amount is None:
                bad = True
                break
            allocations.append(service.Allocation(invoice_id, amount))
        if bad:
            flash(
                _(
                    "Enter amounts such as 1250.00, with at most 16 digits before the "
                    "decimal point and two after."
                ),
                "error",
            )
        else:
            customer_id, currency = customer.id, customer.currency
            try:
                number = unit_of_work.run(
                    lambda: (
                        service.record_manual_payment(
                            current_user,
                            db.session.get(Customer, customer_id),
                            allocations,
                            form.reference.data or "",
                            idempotency_key=form.idempotency_key.data,
                            received_on=form.received_on.data,
                            total=(
                                Money(form.total.data, currency)
                                if form.total.data is not None
                                else None
                            ),
                        ).number
                    )
                )
            except DomainError as error:
                refuse(error)
                status = error.status_code
                customer = db.session.get(Customer, customer_id)
            else:
                flash(_("Payment %(number)s recorded.", number=number), "success")
                return redirect(url_for(".show_payment", number=number))
    elif request.method == "POST" and {"csrf_token", "idempotency_key"} & form.errors.keys():
        flash(_("This form has expired. Reload the page and try again."), "error")
    customers = (
        []
        if customer is not None
        else list(
            db.session.scalars(
                scope_to_entity(
                    select(Customer).where(Customer.active), admin_entity_id()
                ).order_by(Customer.name)
            )
        )
    )
    return render_template(
        "admin/payment_new.html",
        customer=customer,
        customers=customers,
        invoices=invoices,
        form=form,
        entered=request.form,
    ), status
