"""Quotations in the back office (SPEC B3): list, open a draft for a customer, price the
lines (a buyer's request from the cart, or the admin's own), send, PDF."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload
from wtforms import SelectField

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import admin_entity_id, admin_list, bp, customer_matches, pdf_response
from b2bshop.admin.forms import _customer_search
from b2bshop.admin.orders import MAX_LINE_QUANTITY, _whole_number
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id
from b2bshop.core.listing import ListFilterForm
from b2bshop.entities.scoping import in_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import parse_amount
from b2bshop.quotations import pdf, service
from b2bshop.quotations.forms import QUOTATION_STATUS_CHOICES, status_labels
from b2bshop.quotations.models import Quotation, QuotationLine, QuotationStatus
from b2bshop.quotations.service import QuoteLineInput

#: Empty line rows offered under a quotation's lines.
BLANK_ROWS = 3


class AdminQuotationFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=QUOTATION_STATUS_CHOICES, default="")
    customer = _customer_search()


@bp.route("/quotations")
@store_admin_required
def list_quotations():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(Quotation).join(Customer, Customer.id == Quotation.customer_id)
        if status := form.valid_value("status"):
            stmt = stmt.where(Quotation.status == QuotationStatus(status))
        if customer := form.valid_value("customer"):
            stmt = stmt.where(customer_matches(Customer.number, Customer.name, customer))
        return stmt

    return admin_list(
        AdminQuotationFilterForm,
        build,
        Quotation.id,
        Quotation.id,
        "admin/_quotations.html",
        "admin.list_quotations",
        title=_("Quotations"),
        options=(contains_eager(Quotation.customer),),
        new_url=url_for(".new_quotation"),
        status_label=status_labels(),
    )


@bp.route("/quotations/new", methods=["GET", "POST"])
@store_admin_required
def new_quotation():
    entity_id = admin_entity_id()
    active = select(Customer).where(Customer.active)
    if entity_id is not None:
        active = active.where(Customer.legal_entity_id == entity_id)
    customers = list(db.session.scalars(active.order_by(Customer.name)))
    values = request.form if request.method == "POST" else request.args
    error_items: list[tuple[str, str]] = []
    if request.method == "POST":
        customer_id = parse_id(values.get("customer_id"))
        customer = db.session.get(Customer, customer_id) if customer_id else None
        note = (values.get("note") or "")[:2000]
        if customer is None or customer not in customers:
            error_items.append(("quotation-customer", _("Choose a customer.")))
        else:
            try:
                number = unit_of_work.run(
                    lambda: (
                        service.create_draft(
                            current_user, db.session.get(Customer, customer_id), note=note
                        ).number
                    )
                )
            except DomainError as error:
                db.session.rollback()
                error_items.append(("quotation-customer", str(error.message)))
            else:
                flash(_("Quotation %(number)s created.", number=number), "success")
                return redirect(url_for(".show_quotation", number=number))
    return render_template(
        "admin/quotation_new.html", customers=customers, values=values, error_items=error_items
    ), 422 if error_items else 200


def _quotation_or_404(number: str) -> Quotation:
    quotation = db.session.scalar(
        select(Quotation)
        .where(Quotation.number == number[:20])
        .options(selectinload(Quotation.lines).selectinload(QuotationLine.product))
    )
    # Another entity's quotation is not there for an admin acting in this one.
    if quotation is None or not in_entity(quotation, admin_entity_id()):
        abort(404)
    return quotation


def _rows_from(quotation: Quotation, today: date) -> list[dict]:
    """The form's rows for the saved lines (the price field offers the customer's price
    while a line is unpriced), then blank rows."""
    defaults = service.default_prices(quotation.customer, list(quotation.lines), today)
    rows = [
        {
            "product": str(line.product_id),
            "quantity": str(line.quantity),
            "price": "" if line.unit_price is None else f"{line.unit_price:.2f}",
            "suggested": defaults.get(line.id),
        }
        for line in quotation.lines
    ]
    rows += [{"product": "", "quantity": "", "price": "", "suggested": None}] * BLANK_ROWS
    return rows


def _rows_posted(count: int) -> list[dict]:
    count = min(count, 200)
    return [
        {
            "product": (request.form.get(f"product-{i}") or "")[:12],
            "quantity": (request.form.get(f"quantity-{i}") or "")[:12],
            "price": (request.form.get(f"price-{i}") or "")[:30],
            "suggested": None,
        }
        for i in range(count)
    ]


def _parse_rows(
    rows: list[dict], currency: str
) -> tuple[list[QuoteLineInput], list[tuple[str, str]]]:
    lines, errors = [], []
    for i, row in enumerate(rows):
        product_id = parse_id(row["product"]) if row["product"] else None
        quantity = _whole_number(row["quantity"])
        if quantity is None:
            errors.append(
                (
                    f"quotation-quantity-{i}",
                    _(
                        "Quantities must be whole numbers from 1 to %(max)s.",
                        max=MAX_LINE_QUANTITY,
                    ),
                )
            )
            continue
        price = None
        if row["price"].strip():
            price = parse_amount(row["price"].strip(), currency)
            if price is None or price < 0:
                errors.append(
                    (
                        f"quotation-price-{i}",
                        _("Enter a price of zero or more, with at most two decimals."),
                    )
                )
                continue
        if not product_id:
            if quantity or price is not None:
                errors.append((f"quotation-product-{i}", _("Choose a product for this line.")))
            continue
        if not quantity:
            errors.append(
                (
                    f"quotation-quantity-{i}",
                    _(
                        "Quantities must be whole numbers from 1 to %(max)s.",
                        max=MAX_LINE_QUANTITY,
                    ),
                )
            )
            continue
        lines.append(QuoteLineInput(product_id, quantity, price))
    return lines, errors


def _parse_date(text: str | None) -> tuple[date | None, bool]:
    text = (text or "").strip()
    if not text:
        return None, True
    try:
        return date.fromisoformat(text[:10]), len(text) == 10
    except ValueError:
        return None, False


def _edit_page(quotation: Quotation, rows: list[dict], values: dict, errors, status: int = 200):  # type: ignore[no-untyped-def]
    products = list(
        db.session.scalars(
            select(Product)
            .where(
                Product.active,
                Product.currency == quotation.currency,
                Product.legal_entity_id == quotation.customer.legal_entity_id,
            )
            .order_by(Product.sku)
        )
    )
    return render_template(
        "admin/quotation.html",
        quotation=quotation,
        rows=rows,
        values=values,
        products=products,
        error_items=errors,
        status_label=status_labels(),
        today=date.today(),
    ), status


@bp.route("/quotations/<number>", methods=["GET", "POST"])
@store_admin_required
def show_quotation(number: str):
    quotation = _quotation_or_404(number)
    today = date.today()
    if request.method == "GET" or quotation.status != QuotationStatus.DRAFT:
        values = {
            "valid_until": quotation.valid_until.isoformat() if quotation.valid_until else "",
            "note": quotation.note,
        }
        status = 200 if request.method == "GET" else 409
        errors = (
            []
            if request.method == "GET"
            else [(None, str(service.refuse_state(quotation).message))]
        )
        return _edit_page(quotation, _rows_from(quotation, today), values, errors, status)
    rows = _rows_posted(len(quotation.lines) + BLANK_ROWS)
    values = {
        "valid_until": (request.form.get("valid_until") or "")[:10],
        "note": (request.form.get("note") or "")[:2000],
    }
    lines, errors = _parse_rows(rows, quotation.currency)
    valid_until, date_ok = _parse_date(request.form.get("valid_until"))
    if not date_ok:
        errors.append(("quotation-valid-until", _("Enter the date as YYYY-MM-DD.")))
    if errors:
        return _edit_page(quotation, rows, values, errors, 422)
    quotation_id = quotation.id
    try:
        unit_of_work.run(
            lambda: service.save_quotation(
                current_user,
                db.session.get(Quotation, quotation_id),
                lines,
                valid_until=valid_until,
                note=values["note"],
                today=today,
            )
        )
    except DomainError as error:
        db.session.rollback()
        quotation = _quotation_or_404(number)
        return _edit_page(quotation, rows, values, [(None, str(error.message))], error.status_code)
    flash(_("Quotation %(number)s saved.", number=number), "success")
    return redirect(url_for(".show_quotation", number=number))


@bp.route("/quotations/<number>/send", methods=["POST"])
@store_admin_required
def send_quotation(number: str):
    quotation_id = _quotation_or_404(number).id
    try:
        unit_of_work.run(
            lambda: service.send_quotation(current_user, db.session.get(Quotation, quotation_id))
        )
    except DomainError as error:
        db.session.rollback()
        quotation = _quotation_or_404(number)
        values = {
            "valid_until": quotation.valid_until.isoformat() if quotation.valid_until else "",
            "note": quotation.note,
        }
        return _edit_page(
            quotation,
            _rows_from(quotation, date.today()),
            values,
            [(None, str(error.message))],
            error.status_code,
        )
    flash(_("Quotation %(number)s is sent to the customer.", number=number), "success")
    return redirect(url_for(".show_quotation", number=number))


@bp.route("/quotations/<number>.pdf")
@store_admin_required
def quotation_pdf(number: str):
    quotation = _quotation_or_404(number)
    return pdf_response(pdf.quotation_pdf(quotation), f"{quotation.number}.pdf")
