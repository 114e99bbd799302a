"""Invoices in the back office: every customer's, and free text invoices (SPEC B8)."""

from __future__ import annotations

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
    pdf_response,
    refuse,
)
from b2bshop.admin.forms import AdminInvoiceFilterForm, FreeTextHeaderForm
from b2bshop.billing import credit_notes, free_text, pdf
from b2bshop.billing.listing import InvoiceFilter, filter_conditions
from b2bshop.billing.models import DraftStatus, FreeTextInvoice, Invoice, InvoiceKind
from b2bshop.billing.service import settlements
from b2bshop.core.inputs import parse_int
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import parse_amount, parse_decimal, plain_decimal

#: Line rows on a new free text invoice form; "Add a line" adds more, up to the most.
FREE_TEXT_LINES = 3
MAX_FREE_TEXT_LINES = 50
_ROW_FIELDS = ("account", "description", "amount", "tax")


@bp.route("/invoices")
@store_admin_required
def list_invoices():
    today = date.today()

    def build(form):  # type: ignore[no-untyped-def]
        # The buyer list's own filter conditions, over every customer.
        flt = InvoiceFilter(status=form.valid_value("status") or None, q=form.valid_value("q"))
        stmt = (
            select(Invoice)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(*filter_conditions(flt, today))
        )
        if kind := form.valid_value("kind"):
            stmt = stmt.where(Invoice.kind == InvoiceKind(kind))
        if customer := form.valid_value("customer"):
            stmt = stmt.where(customer_matches(Customer.number, Customer.name, customer))
        return stmt

    return admin_list(
        AdminInvoiceFilterForm,
        build,
        Invoice.id,
        Invoice.id,
        "admin/_invoices.html",
        "admin.list_invoices",
        title=_("Invoices"),
        options=(contains_eager(Invoice.customer),),
        today=today,
    )


def _invoice_or_404(number: str) -> Invoice:
    invoice = db.session.scalar(
        select(Invoice).where(
            Invoice.number == number, Invoice.legal_entity_id == admin_entity_id()
        )
    )
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/invoices/<number>")
@store_admin_required
def show_invoice(number: str):
    invoice = _invoice_or_404(number)
    return render_template(
        "admin/invoice.html",
        invoice=invoice,
        settlements=settlements(invoice),
        today=date.today(),
        **credit_notes.admin_context(invoice),
    )


@bp.route("/invoices/<number>.pdf")
@store_admin_required
def invoice_pdf(number: str):
    invoice = _invoice_or_404(number)
    return pdf_response(
        pdf.invoice_pdf(invoice, settlements(invoice), date.today()), f"{invoice.number}.pdf"
    )


# --- Free text invoices ---


@bp.route("/free-text")
@store_admin_required
def list_free_text():
    drafts = list(
        db.session.scalars(select(FreeTextInvoice).order_by(FreeTextInvoice.id.desc()).limit(200))
    )
    return render_template("admin/free_text_list.html", drafts=drafts)


def _free_text_lines(form_data) -> tuple[list[free_text.FreeTextLineInput], bool]:  # type: ignore[no-untyped-def]
    """The filled line rows; bad=True when an amount or tax rate is not a number. A blank
    tax rate stays None (the service refuses it: SPEC B8, the rate must be given; "0" is
    a rate)."""
    lines, bad = [], False
    for i in range(_row_count(form_data)):
        account = (form_data.get(f"account-{i}") or "").strip()
        description = (form_data.get(f"description-{i}") or "").strip()
        amount_raw = (form_data.get(f"amount-{i}") or "").strip()
        tax_raw = (form_data.get(f"tax-{i}") or "").strip()
        if not (description or amount_raw):
            continue
        amount = parse_amount(amount_raw)
        tax_rate = parse_decimal(tax_raw, places=2, integer_digits=3) if tax_raw else None
        if amount is None or (tax_raw and tax_rate is None):
            bad = True
            continue
        lines.append(free_text.FreeTextLineInput(account, description, amount, tax_rate))
    return lines, bad


def _row_count(form_data) -> int:  # type: ignore[no-untyped-def]
    """How many line rows the form had: its `rows` field, within 1 and the most; without
    one, as many as the highest row number sent (a form posted by a script)."""
    count = parse_int(form_data.get("rows"), minimum=1, maximum=MAX_FREE_TEXT_LINES)
    if count:
        return count
    sent = [
        parse_int(key.rpartition("-")[2], maximum=MAX_FREE_TEXT_LINES - 1)
        for key in form_data
        if key.rpartition("-")[0] in _ROW_FIELDS
    ]
    return max((n + 1 for n in sent if n is not None), default=FREE_TEXT_LINES)


def _posted_rows(form_data) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return [
        {k: form_data.get(f"{k}-{i}", "") for k in _ROW_FIELDS}
        for i in range(_row_count(form_data))
    ]


def _draft_rows(draft: FreeTextInvoice | None) -> list[dict[str, str]]:
    """Every line of a draft and one empty row for the next; three on a new form."""
    rows = [
        {
            "account": line.ledger_account,
            "description": line.description,
            "amount": f"{line.amount:.2f}",
            # An input's value, like the amount's: "." whatever the locale.
            "tax": plain_decimal(line.tax_rate, "en"),
        }
        for line in (draft.lines if draft else [])
    ]
    empty = 1 if rows else FREE_TEXT_LINES
    return (rows + [dict.fromkeys(_ROW_FIELDS, "") for _ in range(empty)])[:MAX_FREE_TEXT_LINES]


def _edit_rows(draft: FreeTextInvoice | None, header: FreeTextHeaderForm, action: str):  # type: ignore[no-untyped-def]
    """Add a line, Remove line N: the form comes back with what was typed, one row more or
    less, and the focus on the row that changed. Nothing is saved."""
    rows = _posted_rows(request.form)
    focus = "ft-add-line"
    if action == "add_line" and len(rows) < MAX_FREE_TEXT_LINES:
        rows.append(dict.fromkeys(_ROW_FIELDS, ""))
        focus = f"ft-account-{len(rows) - 1}"
    elif action.startswith("remove-") and len(rows) > 1:
        index = parse_int(action.removeprefix("remove-"), maximum=len(rows) - 1)
        if index is not None:
            del rows[index]
            focus = f"ft-account-{min(index, len(rows) - 1)}"
    return render_template(
        "admin/free_text.html",
        draft=draft,
        header=header,
        rows=rows,
        focus=focus,
        max_rows=MAX_FREE_TEXT_LINES,
        ledger_accounts=free_text.active_ledger_accounts(),
    )


def _header_form(draft: FreeTextInvoice | None) -> FreeTextHeaderForm:
    header = FreeTextHeaderForm(
        obj=draft, invoice_date=draft.invoice_date if draft else date.today()
    )
    header.customer_id.choices = [
        (c.id, f"{c.name} ({c.number})")
        for c in db.session.scalars(
            scope_to_entity(select(Customer).where(Customer.active), admin_entity_id()).order_by(
                Customer.name
            )
        )
    ]
    return header


def _edit_free_text(draft: FreeTextInvoice | None):  # type: ignore[no-untyped-def]
    if draft is not None and draft.status != DraftStatus.DRAFT:
        return redirect(url_for(".show_invoice", number=draft.invoice.number))
    action = request.form.get("action", "") if request.method == "POST" else ""
    header = _header_form(draft)
    if action == "add_line" or action.startswith("remove-"):
        # Rows change without saving or checking (CSRF is checked for every POST already).
        return _edit_rows(draft, header, action)
    if header.validate_on_submit():
        lines, bad = _free_text_lines(request.form)
        if bad:
            flash(
                _(
                    "Enter amounts such as 1250.00, with at most 16 digits before the "
                    "decimal point and two after, and tax rates such as 21."
                ),
                "error",
            )
        else:
            try:
                saved = free_text.save_draft(
                    current_user,
                    draft,
                    db.session.get(Customer, header.customer_id.data),
                    header.invoice_date.data,
                    lines,
                )
                action = request.form.get("action")
                if action == "post":
                    invoice = free_text.post_draft(current_user, saved)
            except DomainError as error:
                refuse(error)
            else:
                db.session.commit()
                if action == "post":
                    flash(_("Invoice %(number)s posted.", number=invoice.number), "success")
                    return redirect(url_for(".show_invoice", number=invoice.number))
                flash(_("Draft saved."), "success")
                return redirect(url_for(".edit_free_text", draft_id=saved.id))
    elif request.method == "POST":
        flash(_("Please correct the fields marked below."), "error")
    rows = _posted_rows(request.form) if request.method == "POST" else _draft_rows(draft)
    return render_template(
        "admin/free_text.html",
        draft=draft,
        header=header,
        rows=rows,
        max_rows=MAX_FREE_TEXT_LINES,
        ledger_accounts=free_text.active_ledger_accounts(),
    ), 422 if request.method == "POST" else 200


@bp.route("/free-text/new", methods=["GET", "POST"])
@store_admin_required
def new_free_text():
    return _edit_free_text(None)


@bp.route("/free-text/<int:draft_id>", methods=["GET", "POST"])
@store_admin_required
def edit_free_text(draft_id: int):
    return _edit_free_text(get_or_404(FreeTextInvoice, draft_id))


@bp.route("/free-text/<int:draft_id>/pro-forma.pdf")
@store_admin_required
def free_text_pro_forma(draft_id: int):
    draft = get_or_404(FreeTextInvoice, draft_id)
    if draft.status != DraftStatus.DRAFT:
        abort(404)
    body = pdf.invoice_pdf(free_text.pro_forma(draft), [], date.today(), pro_forma=True)
    return pdf_response(body, f"pro-forma-free-text-{draft.id}.pdf")
