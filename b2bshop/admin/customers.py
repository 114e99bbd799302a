"""Customers and payment terms."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from b2bshop.accounts import service
from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer, PaymentTerms
from b2bshop.admin.common import (
    admin_list,
    bp,
    form_errors,
    get_or_404,
    refuse,
    search_and_active,
)
from b2bshop.admin.forms import CustomerFilterForm, CustomerForm, TermsFilterForm, TermsForm
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.errors import DomainError
from b2bshop.extensions import db


@bp.route("/customers")
@store_admin_required
def list_customers():
    return admin_list(
        CustomerFilterForm,
        search_and_active(Customer, Customer.number, Customer.name),
        Customer.number,
        Customer.id,
        "admin/_customers.html",
        "admin.list_customers",
        title=_("Customers"),
        options=(joinedload(Customer.payment_terms), joinedload(Customer.invoice_account)),
        new_url=url_for(".new_customer"),
        descending=False,
        parse=str,
    )


def _customer_form(customer: Customer | None) -> CustomerForm:
    form = CustomerForm(obj=customer)
    form.payment_terms_id.choices = [
        (t.id, t.name)
        for t in db.session.scalars(select(PaymentTerms).order_by(PaymentTerms.net_days))
        if t.active or (customer is not None and t.id == customer.payment_terms_id)
    ]
    others = select(Customer).order_by(Customer.name).limit(500)
    if customer is not None:
        others = others.where(Customer.id != customer.id)
    form.invoice_account_id.choices = [(0, _("None"))] + [
        (c.id, f"{c.name} ({c.number})") for c in db.session.scalars(others)
    ]
    if customer is not None and request.method == "GET":
        form.invoice_account_id.data = customer.invoice_account_id or 0
    return form


def _save_customer(customer: Customer | None):  # type: ignore[no-untyped-def]
    form = _customer_form(customer)
    if form.validate_on_submit():
        data = service.CustomerInput(
            number=form.number.data,
            name=form.name.data,
            email=form.email.data,
            currency=form.currency.data,
            payment_terms_id=form.payment_terms_id.data,
            credit_limit=form.credit_limit.data,
            invoice_account_id=form.invoice_account_id.data or None,
            active=form.active.data,
        )
        try:
            saved = service.save_customer(current_user, customer, data)
        except DomainError as error:
            refuse(error)
        else:
            db.session.commit()
            flash(_("Customer %(number)s saved.", number=saved.number), "success")
            return redirect(url_for(".show_customer", customer_id=saved.id))
    elif request.method == "POST":
        form_errors(form)
    title = _("New customer") if customer is None else _("Edit %(name)s", name=customer.name)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/form.html",
        form=form,
        title=title,
        submit_label=_("Save"),
        back_url=url_for(".list_customers"),
        back_label=_("Customers"),
    ), status


@bp.route("/customers/new", methods=["GET", "POST"])
@store_admin_required
def new_customer():
    return _save_customer(None)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_customer(customer_id: int):
    return _save_customer(get_or_404(Customer, customer_id))


@bp.route("/customers/<int:customer_id>")
@store_admin_required
def show_customer(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.customer_id == customer.id, Invoice.status != InvoiceStatus.PAID)
            .order_by(Invoice.due_date, Invoice.id)
            .limit(200)
        )
    )
    billed_for = list(
        db.session.scalars(select(Customer).where(Customer.invoice_account_id == customer.id))
    )
    return render_template(
        "admin/customer.html",
        customer=customer,
        open_invoices=open_invoices,
        balance=sum((i.balance for i in open_invoices), start=0),
        billed_for=billed_for,
    )


# --- Payment terms ---


@bp.route("/payment-terms")
@store_admin_required
def list_terms():
    return admin_list(
        TermsFilterForm,
        search_and_active(PaymentTerms, PaymentTerms.code, PaymentTerms.name),
        PaymentTerms.code,
        PaymentTerms.id,
        "admin/_terms.html",
        "admin.list_terms",
        title=_("Payment terms"),
        new_url=url_for(".new_terms"),
        descending=False,
        parse=str,
    )


def _save_terms(terms: PaymentTerms | None):  # type: ignore[no-untyped-def]
    form = TermsForm(obj=terms)
    if form.validate_on_submit():
        data = service.TermsInput(
            code=form.code.data,
            name=form.name.data,
            net_days=form.net_days.data,
            cash_discount_percent=form.cash_discount_percent.data,
            cash_discount_days=form.cash_discount_days.data,
            active=form.active.data,
        )
        try:
            saved = service.save_terms(current_user, terms, data)
        except DomainError as error:
            refuse(error)
        else:
            db.session.commit()
            flash(_("Payment terms %(code)s saved.", code=saved.code), "success")
            return redirect(url_for(".list_terms"))
    elif request.method == "POST":
        form_errors(form)
    return render_template(
        "admin/form.html",
        form=form,
        title=_("New payment terms") if terms is None else _("Edit %(name)s", name=terms.name),
        submit_label=_("Save"),
        back_url=url_for(".list_terms"),
        back_label=_("Payment terms"),
        delete_url=url_for(".delete_terms", terms_id=terms.id) if terms else None,
        delete_note=_("Terms that customers or orders use cannot be deleted; deactivate them."),
    ), 422 if request.method == "POST" else 200


@bp.route("/payment-terms/new", methods=["GET", "POST"])
@store_admin_required
def new_terms():
    return _save_terms(None)


@bp.route("/payment-terms/<int:terms_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_terms(terms_id: int):
    return _save_terms(get_or_404(PaymentTerms, terms_id))


@bp.route("/payment-terms/<int:terms_id>/delete", methods=["POST"])
@store_admin_required
def delete_terms(terms_id: int):
    terms = get_or_404(PaymentTerms, terms_id)
    try:
        service.delete_terms(current_user, terms)
    except DomainError as error:
        refuse(error)
        return redirect(url_for(".edit_terms", terms_id=terms_id))
    db.session.commit()
    flash(_("Payment terms deleted."), "success")
    return redirect(url_for(".list_terms"))
