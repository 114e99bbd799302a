"""Customers and payment terms."""

from __future__ import annotations

from dataclasses import replace

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from b2bshop.accounts import service
from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer, PaymentTerms
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    delete_action,
    edit_page,
    get_or_404,
    input_from,
    search_and_active,
)
from b2bshop.admin.forms import CustomerFilterForm, CustomerForm, TermsFilterForm, TermsForm
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.entities.scoping import scope_to_entity
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
    others = scope_to_entity(select(Customer), admin_entity_id()).order_by(Customer.name).limit(500)
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

    def save() -> Customer:
        data = input_from(form, service.CustomerInput)
        data = replace(data, invoice_account_id=data.invoice_account_id or None)  # 0: none
        return service.save_customer(
            current_user, customer, data, legal_entity_id=admin_entity_id()
        )

    return edit_page(
        form,
        save,
        lambda saved: (
            _("Customer %(number)s saved.", number=saved.number),
            url_for(".show_customer", customer_id=saved.id),
        ),
        title=_("New customer") if customer is None else _("Edit %(name)s", name=customer.name),
        back_url=url_for(".list_customers"),
        back_label=_("Customers"),
    )


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
    return edit_page(
        form,
        lambda: service.save_terms(current_user, terms, input_from(form, service.TermsInput)),
        lambda saved: (
            _("Payment terms %(code)s saved.", code=saved.code),
            url_for(".list_terms"),
        ),
        title=_("New payment terms") if terms is None else _("Edit %(name)s", name=terms.name),
        back_url=url_for(".list_terms"),
        back_label=_("Payment terms"),
        delete_url=url_for(".delete_terms", terms_id=terms.id) if terms else None,
        delete_note=_(
            "Terms that customers, orders or invoices use cannot be deleted; deactivate them."
        ),
    )


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
    return delete_action(
        lambda: service.delete_terms(current_user, terms),
        url_for(".edit_terms", terms_id=terms_id),
        url_for(".list_terms"),
        _("Payment terms deleted."),
    )
