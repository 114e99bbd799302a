"""Payments: the list, confirming bank transfers, recording manual payments and reversing
them. All settlement goes through payments/service.py, as the storefront's does."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import admin_list, bp, customer_matches, get_or_404, refuse
from b2bshop.admin.forms import ManualPaymentForm, PaymentFilterForm, ReasonForm
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.errors import DomainError
from b2bshop.extensions import db
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
    payment = db.session.scalar(select(Payment).where(Payment.number == number))
    if payment is None:
        abort(404)
    return payment


@bp.route("/payments/<number>")
@store_admin_required
def show_payment(number: str):
    return render_template(
        "admin/payment.html", payment=_payment_or_404(number), reverse_form=ReasonForm()
    )


@bp.route("/payments/<number>/confirm", methods=["POST"])
@store_admin_required
def confirm_payment(number: str):
    payment = _payment_or_404(number)
    try:
        service.confirm_bank_transfer(current_user, payment)
    except DomainError as error:
        refuse(error)
    else:
        db.session.commit()
        flash(
            _("Payment %(number)s confirmed; its invoices are settled.", number=number), "success"
        )
    return redirect(request.referrer or url_for(".list_payments"))


@bp.route("/payments/<number>/reverse", methods=["POST"])
@store_admin_required
def reverse_payment(number: str):
    payment = _payment_or_404(number)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for the reversal."), "error")
        return redirect(url_for(".show_payment", number=number))
    try:
        service.reverse_payment(current_user, payment, form.reason.data)
    except DomainError as error:
        refuse(error)
    else:
        db.session.commit()
        flash(
            _("Payment %(number)s reversed; its invoices are open again.", number=number), "success"
        )
    return redirect(url_for(".show_payment", number=number))


@bp.route("/payments/new", methods=["GET", "POST"])
@store_admin_required
def new_payment():
    """Step 1: pick the customer (GET ?customer_id=); step 2: allocate to its open invoices."""
    customer_id = request.values.get("customer_id", "")
    customer = get_or_404(Customer, int(customer_id)) if customer_id.isdigit() else None
    form = ManualPaymentForm()
    if request.method == "GET":
        form.idempotency_key.data = str(uuid.uuid4())
    invoices = []
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
        for invoice in invoices:
            raw = (request.form.get(f"amount-{invoice.id}") or "").strip().replace(",", ".")
            if not raw:
                continue
            try:
                amount = Decimal(raw)
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                bad = True
                break
            allocations.append(service.Allocation(invoice.id, amount))
        if bad:
            flash(_("Amounts must be numbers, e.g. 1250.00."), "error")
        else:
            try:
                payment = service.record_manual_payment(
                    current_user,
                    customer,
                    allocations,
                    form.reference.data or "",
                    idempotency_key=form.idempotency_key.data,
                )
            except DomainError as error:
                refuse(error)
            else:
                db.session.commit()
                flash(_("Payment %(number)s recorded.", number=payment.number), "success")
                return redirect(url_for(".show_payment", number=payment.number))
    elif request.method == "POST":
        flash(_("This form has expired. Reload the page and try again."), "error")
    customers = (
        []
        if customer is not None
        else list(
            db.session.scalars(select(Customer).where(Customer.active).order_by(Customer.name))
        )
    )
    return render_template(
        "admin/payment_new.html",
        customer=customer,
        customers=customers,
        invoices=invoices,
        form=form,
        entered=request.form,
    ), 422 if request.method == "POST" else 200
