"""Sales agreements and trade agreements in the back office (SPEC B6): create on hold, add
lines, make effective, close; fulfilment against the commitment."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import admin_entity_id, admin_list, bp, edit_page, form_errors, refuse
from b2bshop.agreements import service
from b2bshop.agreements.forms import (
    COMMITMENT_CHOICES,
    AgreementFilterForm,
    AgreementLineForm,
    CustomerGroupForm,
    SalesAgreementForm,
    StatusForm,
    TradeAgreementForm,
)
from b2bshop.agreements.models import (
    AgreementStatus,
    CustomerGroup,
    CustomerGroupMember,
    SalesAgreement,
    SalesAgreementLine,
    TradeAgreement,
)
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id
from b2bshop.entities.scoping import in_entity, scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db


def _agreement_or_404(number: str) -> SalesAgreement:
    agreement = db.session.scalar(
        select(SalesAgreement)
        .where(SalesAgreement.number == number[:20])
        .options(selectinload(SalesAgreement.lines).selectinload(SalesAgreementLine.product))
    )
    # It follows its customer's entity: another entity's agreement is not there (issue 20).
    if agreement is None or not in_entity(agreement, admin_entity_id()):
        abort(404)
    return agreement


def _customer_choices() -> list[tuple[int, str]]:
    return [
        (c.id, f"{c.number} · {c.name}")
        for c in db.session.scalars(
            scope_to_entity(select(Customer).where(Customer.active), admin_entity_id()).order_by(
                Customer.name
            )
        )
    ]


def _product_choices() -> list[tuple[int, str]]:
    return [
        (p.id, f"{p.sku} · {p.name}")
        for p in db.session.scalars(
            scope_to_entity(select(Product).where(Product.active), admin_entity_id()).order_by(
                Product.sku
            )
        )
    ]


def status_labels() -> dict[str, str]:
    return {
        "on_hold": _("On hold"),
        "effective": _("Effective"),
        "closed": _("Closed"),
    }


def commitment_labels() -> dict[str, str]:
    return {c.value: str(c.label) for c in COMMITMENT_CHOICES}


@bp.route("/agreements")
@store_admin_required
def list_agreements():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(SalesAgreement).join(Customer, Customer.id == SalesAgreement.customer_id)
        if status := form.valid_value("status"):
            stmt = stmt.where(SalesAgreement.status == AgreementStatus(status))
        return stmt

    return admin_list(
        AgreementFilterForm,
        build,
        SalesAgreement.id,
        SalesAgreement.id,
        "admin/_agreements.html",
        "admin.list_agreements",
        title=_("Sales agreements"),
        options=(contains_eager(SalesAgreement.customer),),
        new_url=url_for(".new_agreement"),
        status_labels=status_labels(),
        commitment_labels=commitment_labels(),
    )


def _header_input(form: SalesAgreementForm) -> service.SalesAgreementInput:
    return service.SalesAgreementInput(
        customer_id=form.customer_id.data,
        commitment_type=form.commitment_type.data,
        valid_from=form.valid_from.data,
        valid_to=form.valid_to.data,
        committed_amount=form.committed_amount.data,
        idempotency_key=form.idempotency_key.data if "idempotency_key" in form else None,
    )


@bp.route("/agreements/new", methods=["GET", "POST"])
@store_admin_required
def new_agreement():
    form = SalesAgreementForm()
    form.customer_id.choices = _customer_choices()
    return edit_page(
        form,
        lambda: service.create_sales_agreement(current_user, _header_input(form)),
        lambda saved: (
            _("Agreement %(number)s is created, on hold: add its lines.", number=saved.number),
            url_for(".show_agreement", number=saved.number),
        ),
        title=_("New sales agreement"),
        back_url=url_for(".list_agreements"),
        back_label=_("Sales agreements"),
    )


@bp.route("/agreements/<number>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_agreement(number: str):
    agreement = _agreement_or_404(number)
    form = SalesAgreementForm(obj=agreement)
    del form.idempotency_key  # an edit changes the one agreement; it creates nothing
    if request.method == "GET":
        form.commitment_type.data = agreement.commitment_type.value
    form.customer_id.choices = _customer_choices()
    agreement_id = agreement.id
    return edit_page(
        form,
        lambda: service.update_sales_agreement(current_user, agreement_id, _header_input(form)),
        lambda saved: (
            _("Agreement %(number)s is saved.", number=saved.number),
            url_for(".show_agreement", number=saved.number),
        ),
        title=_("Edit agreement %(number)s", number=agreement.number),
        back_url=url_for(".show_agreement", number=agreement.number),
        back_label=agreement.number,
    )


def _render_agreement(agreement: SalesAgreement, line_form: AgreementLineForm, status: int = 200):
    # Rendered from what was committed: a refused line leaves nothing in the session.
    return render_template(
        "admin/agreement.html",
        agreement=agreement,
        fulfilment=service.fulfilment(agreement),
        line_form=line_form,
        status_labels=status_labels(),
        commitment_labels=commitment_labels(),
        next_states=[s.value for s in service.TRANSITIONS[agreement.status]],
    ), status


def _refused_page(number: str, error: DomainError):  # type: ignore[no-untyped-def]
    """The agreement as it stands now, the refusal on top, with the refusal's status (409
    when the agreement moved meanwhile)."""
    refuse(error)
    form = AgreementLineForm(formdata=None)
    form.product_id.choices = _product_choices()
    return _render_agreement(_agreement_or_404(number), form, error.status_code)


@bp.route("/agreements/<number>")
@store_admin_required
def show_agreement(number: str):
    agreement = _agreement_or_404(number)
    form = AgreementLineForm()
    form.product_id.choices = _product_choices()
    return _render_agreement(agreement, form)


@bp.route("/agreements/<number>/lines", methods=["POST"])
@store_admin_required
def set_agreement_line(number: str):
    agreement = _agreement_or_404(number)
    form = AgreementLineForm()
    form.product_id.choices = _product_choices()
    agreement_id = agreement.id
    if not form.validate_on_submit():
        form_errors(form)
        return _render_agreement(agreement, form, 422)
    data = service.AgreementLineInput(
        product_id=form.product_id.data,
        unit_price=form.unit_price.data,
        discount_percent=form.discount_percent.data,
        committed_quantity=form.committed_quantity.data,
        committed_amount=form.committed_amount.data,
    )
    try:
        unit_of_work.run(lambda: service.set_agreement_line(current_user, agreement_id, data))
    except DomainError as error:
        refuse(error)
        return _render_agreement(_agreement_or_404(number), form, error.status_code)
    flash(_("The line is saved."), "success")
    return redirect(url_for(".show_agreement", number=number))


@bp.route("/agreements/<number>/lines/<int:line_id>/remove", methods=["POST"])
@store_admin_required
def remove_agreement_line(number: str, line_id: int):
    agreement_id = _agreement_or_404(number).id
    try:
        unit_of_work.run(lambda: service.remove_agreement_line(current_user, agreement_id, line_id))
    except DomainError as error:
        return _refused_page(number, error)
    flash(_("The line is removed."), "success")
    return redirect(url_for(".show_agreement", number=number))


@bp.route("/agreements/<number>/status", methods=["POST"])
@store_admin_required
def change_agreement_status(number: str):
    agreement_id = _agreement_or_404(number).id
    form = StatusForm()
    if not form.validate_on_submit():
        flash(_("Choose a status."), "error")
        return redirect(url_for(".show_agreement", number=number))
    try:
        saved = unit_of_work.run(
            lambda: service.change_status(
                current_user, agreement_id, form.status.data, form.seen_status.data
            )
        )
    except DomainError as error:
        return _refused_page(number, error)
    flash(
        _(
            "Agreement %(number)s is %(status)s.",
            number=saved.number,
            status=service.status_label(saved.status),
        ),
        "success",
    )
    return redirect(url_for(".show_agreement", number=number))


# --- trade agreements -----------------------------------------------------------------


@bp.route("/trade-agreements")
@store_admin_required
def list_trade_agreements():
    agreements = db.session.scalars(
        select(TradeAgreement)
        .options(
            selectinload(TradeAgreement.product),
            selectinload(TradeAgreement.customer),
            selectinload(TradeAgreement.customer_group),
        )
        .order_by(TradeAgreement.product_id, TradeAgreement.min_quantity, TradeAgreement.id)
        .limit(500)
    ).all()
    return render_template("admin/trade_agreements.html", agreements=agreements)


@bp.route("/trade-agreements/new", methods=["GET", "POST"])
@store_admin_required
def new_trade_agreement():
    form = TradeAgreementForm()
    form.customer_id.choices = [(0, _("None")), *_customer_choices()]
    form.customer_group_id.choices = [(0, _("None"))] + [
        (g.id, f"{g.code} · {g.name}")
        for g in db.session.scalars(select(CustomerGroup).order_by(CustomerGroup.code))
    ]
    form.product_id.choices = _product_choices()

    def save():  # type: ignore[no-untyped-def]
        return service.create_trade_agreement(
            current_user,
            service.TradeAgreementInput(
                product_id=form.product_id.data,
                customer_id=form.customer_id.data or None,
                customer_group_id=form.customer_group_id.data or None,
                min_quantity=form.min_quantity.data,
                unit_price=form.unit_price.data,
                discount_percent=form.discount_percent.data,
                valid_from=form.valid_from.data,
                valid_to=form.valid_to.data,
                idempotency_key=form.idempotency_key.data,
            ),
        )

    return edit_page(
        form,
        save,
        lambda saved: (
            _("Trade agreement %(number)s is saved.", number=saved.reference),
            url_for(".list_trade_agreements"),
        ),
        title=_("New trade agreement"),
        back_url=url_for(".list_trade_agreements"),
        back_label=_("Trade agreements"),
    )


@bp.route("/trade-agreements/<int:agreement_id>/delete", methods=["POST"])
@store_admin_required
def delete_trade_agreement(agreement_id: int):
    try:
        unit_of_work.run(lambda: service.delete_trade_agreement(current_user, agreement_id))
    except DomainError as error:
        refuse(error)
        if error.status_code == 404:
            abort(404)
    else:
        flash(_("The trade agreement is deleted."), "success")
    return redirect(url_for(".list_trade_agreements"))


# --- customer groups ------------------------------------------------------------------


@bp.route("/customer-groups", methods=["GET", "POST"])
@store_admin_required
def customer_groups():
    """Price groups: a trade agreement for a group applies to each of its customers."""
    form = CustomerGroupForm()
    customers = list(
        db.session.scalars(
            scope_to_entity(select(Customer).where(Customer.active), admin_entity_id()).order_by(
                Customer.name
            )
        )
    )
    chosen = [cid for cid in (parse_id(v) for v in request.form.getlist("customer")) if cid]
    status = 200
    if form.validate_on_submit():
        try:
            group = unit_of_work.run(
                lambda: service.create_customer_group(
                    current_user, form.code.data, form.name.data, chosen
                )
            )
        except DomainError as error:
            refuse(error)
            status = error.status_code
        else:
            flash(_("Customer group %(code)s is saved.", code=group.code), "success")
            return redirect(url_for(".customer_groups"))
    elif request.method == "POST":
        form_errors(form)
        status = 422
    groups = db.session.scalars(
        select(CustomerGroup)
        .options(selectinload(CustomerGroup.members).selectinload(CustomerGroupMember.customer))
        .order_by(CustomerGroup.code)
    ).all()
    return render_template(
        "admin/customer_groups.html",
        form=form,
        groups=groups,
        customers=customers,
        chosen=set(chosen),
    ), status
