from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, request
from flask_babel import get_locale
from flask_login import current_user

from b2bshop.accounts.access import buyer_required
from b2bshop.billing import list_cache, listing, pdf, service
from b2bshop.billing.forms import InvoiceFilterForm, filter_from
from b2bshop.billing.presenters import (
    invoice_rows,
    invoice_urls,
    list_labels,
    row_urls,
    rows_markup,
    settled,
)
from b2bshop.core.csv_safe import streamed_csv, text_cell
from b2bshop.core.listing import PlainFilter, list_response, parse_filter
from b2bshop.core.read_only import read_only
from b2bshop.htmx import is_htmx, render
from b2bshop.payments.models import PaymentStatus

bp = Blueprint("billing", __name__)

CSV_HEADER = [
    "number",
    "account",
    "invoice_date",
    "due_date",
    "currency",
    "total",
    "amount_paid",
    "balance",
    "status",
]


def _filter_form() -> tuple[InvoiceFilterForm | PlainFilter, listing.InvoiceFilter]:
    form = parse_filter(InvoiceFilterForm)
    return form, filter_from(form)


@bp.route("/invoices")
@read_only
@buyer_required("may_view_invoices")
def list_invoices():
    today = date.today()
    if not is_htmx():
        return _render_list(today)
    key = list_cache.fragment_key(
        current_user, service.visible_accounts(current_user), get_locale(), today
    )
    return list_cache.cached_fragment(
        key, lambda: _render_list(today, csrf_token=lambda: list_cache.CSRF_PLACEHOLDER)
    )


def _render_list(today: date, **context):  # type: ignore[no-untyped-def]
    context |= list_context(today)
    flt = context["flt"]
    return list_response(
        "billing/invoices.html",
        "billing/_invoice_list.html",
        "billing.list_invoices",
        flt.query_args(),
        **context,
    )


def list_context(today: date) -> dict:
    """What the list page and its fragment render from: the filter of the request's URL, one
    page of invoices and its rows as display strings (tests/perf times rendering it)."""
    form, flt = _filter_form()
    page = listing.list_invoices(
        current_user,
        flt,
        after=request.args.get("after"),
        before=request.args.get("before"),
        today=today,
    )
    rows = invoice_rows(page, today)
    return {
        "form": form,
        "flt": flt,
        "page": page,
        "rows": rows,
        "rows_markup": rows_markup,
        "labels": list_labels(),
        "row_urls": row_urls(),
    }


@bp.route("/invoices.csv")
@buyer_required("may_view_invoices")
def export_invoices():
    _, flt = _filter_form()
    rows = listing.iter_invoices(current_user, flt)

    def row(item):  # type: ignore[no-untyped-def]
        invoice, account = item
        return [
            text_cell(invoice.number),
            text_cell(account),
            invoice.invoice_date.isoformat(),
            invoice.due_date.isoformat(),
            invoice.currency,
            f"{invoice.total:.2f}",
            f"{invoice.amount_paid:.2f}",
            f"{invoice.balance:.2f}",
            invoice.status.value,
        ]

    return streamed_csv("invoices", CSV_HEADER, rows, row)


def _visible_or_404(number: str):  # type: ignore[no-untyped-def]
    invoice = service.get_visible_invoice(current_user, number)
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/invoices/<number>")
@read_only
@buyer_required("may_view_invoices")
def show_invoice(number: str):
    details = service.get_invoice_details(current_user, number)
    if details is None:
        abort(404)
    invoice = details.invoice
    rows = service.settlement_rows(invoice)
    settlements = [row for row in rows if row.status == PaymentStatus.COMPLETED]
    return render(
        "billing/invoice.html",
        "billing/_invoice_detail.html",
        invoice=invoice,
        terms_name=details.terms_name,
        links=invoice_urls(invoice.number),
        settlements=settlements,
        pending=[row for row in rows if row.status == PaymentStatus.PENDING],
        settled=settled(settlements),
        today=date.today(),
    )


@bp.route("/invoices/<number>.pdf")
@read_only
@buyer_required("may_view_invoices")
def invoice_pdf(number: str):
    invoice = _visible_or_404(number)
    body = pdf.invoice_pdf(invoice, service.settlements(invoice), date.today())
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


@bp.route("/account/statement.pdf")
@read_only
@buyer_required("may_view_invoices")
def statement_pdf():
    statement = service.statement_of_account(current_user)
    body = pdf.statement_pdf(statement, current_user.customer.name)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{date.today()}.pdf"'},
    )


# The e-invoice downloads register on this blueprint (they use _visible_or_404 above).
from b2bshop.einvoice import views as _einvoice_views  # noqa: E402, F401
