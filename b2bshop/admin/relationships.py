"""Relationships in the back office (SPEC B1): leads and prospects, their contacts and
follow-up tasks, qualification, conversion into customers and account applications."""

from __future__ import annotations

from dataclasses import replace

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer, PaymentTerms
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    edit_page,
    form_errors,
    get_or_404,
    input_from,
    refuse,
)
from b2bshop.core import unit_of_work
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.relationships import service
from b2bshop.relationships.forms import (
    ContactForm,
    ConvertForm,
    PartyForm,
    RejectForm,
    RelationshipFilterForm,
    TaskForm,
)
from b2bshop.relationships.models import ApplicationStatus, Party, PartyKind


def _build(form: RelationshipFilterForm):  # type: ignore[no-untyped-def]
    return service.relationships_query(
        form.valid_value("kind"), form.valid_value("country"), form.valid_value("q")
    )


@bp.route("/relationships")
@store_admin_required
def list_relationships():
    return admin_list(
        RelationshipFilterForm,
        _build,
        Party.name,
        Party.id,
        "relationships/_list.html",
        "admin.list_relationships",
        title=_("Leads and prospects"),
        new_url=url_for(".new_party"),
        descending=False,
        parse=str,
        options=(selectinload(Party.contacts),),
    )


@bp.route("/relationships/new", methods=["GET", "POST"])
@store_admin_required
def new_party():
    form = PartyForm()
    return edit_page(
        form,
        lambda: service.create_party(current_user, input_from(form, service.PartyInput)),
        lambda saved: (
            _("Lead %(name)s saved.", name=saved.name),
            url_for(".show_party", party_id=saved.id),
        ),
        title=_("New lead"),
        back_url=url_for(".list_relationships"),
        back_label=_("Leads and prospects"),
    )


def _show(party: Party, status: int = 200, task_form: TaskForm | None = None):  # type: ignore[no-untyped-def]
    return (
        render_template(
            "relationships/party.html",
            party=party,
            applications=service.applications_of(party),
            task_form=task_form or TaskForm(formdata=None),
            pending=ApplicationStatus.PENDING,
        ),
        status,
    )


@bp.route("/relationships/<int:party_id>")
@store_admin_required
def show_party(party_id: int):
    return _show(get_or_404(Party, party_id))


@bp.route("/relationships/<int:party_id>/contacts/new", methods=["GET", "POST"])
@store_admin_required
def new_contact(party_id: int):
    party = get_or_404(Party, party_id)
    form = ContactForm()
    return edit_page(
        form,
        lambda: service.add_contact(current_user, party, input_from(form, service.ContactInput)),
        lambda saved: (
            _("Contact %(name)s saved.", name=saved.name),
            url_for(".show_party", party_id=party.id),
        ),
        title=_("New contact of %(name)s", name=party.name),
        back_url=url_for(".show_party", party_id=party.id),
        back_label=party.name,
    )


def _transition(party_id: int, change, done: str):  # type: ignore[no-untyped-def]
    """One guarded transition as its own unit of work: a party someone else moved first
    answers 409 with the reason, and nothing changes."""
    try:
        unit_of_work.run(change)
    except DomainError as error:
        refuse(error)
        return _show(get_or_404(Party, party_id), error.status_code)
    flash(done, "success")
    return redirect(url_for(".show_party", party_id=party_id))


@bp.route("/relationships/<int:party_id>/qualify", methods=["POST"])
@store_admin_required
def qualify_party(party_id: int):
    party = get_or_404(Party, party_id)
    return _transition(
        party_id,
        lambda: service.qualify(current_user, party_id),
        _("%(name)s is a prospect now.", name=party.name),
    )


@bp.route("/relationships/<int:party_id>/tasks", methods=["POST"])
@store_admin_required
def add_task(party_id: int):
    party = get_or_404(Party, party_id)
    form = TaskForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _show(party, 422, task_form=form)
    return _transition(
        party_id,
        lambda: service.add_task(current_user, party, form.title.data),
        _("Follow-up task added."),
    )


@bp.route("/relationships/<int:party_id>/tasks/<int:task_id>/done", methods=["POST"])
@store_admin_required
def complete_task(party_id: int, task_id: int):
    party = get_or_404(Party, party_id)
    return _transition(
        party_id,
        lambda: service.complete_task(current_user, party, task_id),
        _("Task done."),
    )


def _convert_form(party: Party) -> ConvertForm:
    form = ConvertForm()
    form.payment_terms_id.choices = [
        SelectChoice(t.id, t.name)
        for t in db.session.scalars(select(PaymentTerms).order_by(PaymentTerms.net_days))
        if t.active
    ]
    form.invoice_account_id.choices = [SelectChoice(0, _("None"))] + [
        SelectChoice(c.id, f"{c.name} ({c.number})")
        for c in db.session.scalars(
            # The admin's entity only: an invoice account of another entity is refused.
            scope_to_entity(select(Customer).order_by(Customer.name), admin_entity_id()).limit(500)
        )
    ]
    form.contact_id.choices = [SelectChoice(c.id, f"{c.name} <{c.email}>") for c in party.contacts]
    return form


@bp.route("/relationships/<int:party_id>/convert", methods=["GET", "POST"])
@store_admin_required
def convert_party(party_id: int):
    """Convert a prospect, or approve its pending account application (which converts)."""
    party = get_or_404(Party, party_id)
    pending = next(
        (a for a in service.applications_of(party) if a.status == ApplicationStatus.PENDING), None
    )
    form = _convert_form(party)
    if request.method == "GET" and pending is not None:
        form.contact_id.data = pending.contact_id

    def save() -> Customer:
        data = input_from(form, service.ConversionInput)
        data = replace(data, invoice_account_id=data.invoice_account_id or None)
        entity_id = admin_entity_id()  # the customers page's rule: the admin's entity
        if pending is not None:
            return service.approve(current_user, pending.id, data, legal_entity_id=entity_id)
        return service.convert(current_user, party_id, data, legal_entity_id=entity_id)

    title = (
        _("Approve the account application of %(name)s", name=party.name)
        if pending is not None
        else _("Convert %(name)s into a customer", name=party.name)
    )
    if party.kind == PartyKind.CUSTOMER and request.method == "GET":
        flash(_("%(name)s is already a customer.", name=party.name), "info")
        return redirect(url_for(".show_party", party_id=party_id))
    if form.validate_on_submit():
        try:
            customer = unit_of_work.run(save)
        except DomainError as error:
            refuse(error)
            status = error.status_code
        else:
            flash(
                _(
                    "%(name)s is customer %(number)s; the invitation is on its way.",
                    name=customer.name,
                    number=customer.number,
                ),
                "success",
            )
            return redirect(url_for(".show_customer", customer_id=customer.id))
    else:
        status = 422 if request.method == "POST" else 200
        if request.method == "POST":
            form_errors(form)
    return (
        render_template(
            "admin/form.html",
            form=form,
            submit_label=_("Approve and convert") if pending is not None else _("Convert"),
            title=title,
            back_url=url_for(".show_party", party_id=party_id),
            back_label=party.name,
        ),
        status,
    )


@bp.route(
    "/relationships/<int:party_id>/applications/<int:application_id>/reject",
    methods=["GET", "POST"],
)
@store_admin_required
def reject_application(party_id: int, application_id: int):
    party = get_or_404(Party, party_id)
    application = next((a for a in service.applications_of(party) if a.id == application_id), None)
    if application is None:
        abort(404)
    form = RejectForm()
    status = 200
    if form.validate_on_submit():
        try:
            unit_of_work.run(lambda: service.reject(current_user, application_id, form.reason.data))
        except DomainError as error:
            refuse(error)
            status = error.status_code
        else:
            flash(_("Application rejected; the applicant is told by email."), "success")
            return redirect(url_for(".show_party", party_id=party_id))
    elif request.method == "POST":
        form_errors(form)
        status = 422
    return (
        render_template(
            "admin/form.html",
            form=form,
            submit_label=_("Reject"),
            title=_("Reject the account application of %(name)s", name=party.name),
            back_url=url_for(".show_party", party_id=party_id),
            back_label=party.name,
        ),
        status,
    )
