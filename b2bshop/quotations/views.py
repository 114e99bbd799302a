"""The buyer's quotations (SPEC B3): list, detail, PDF, accept, decline; and the cart's
"Request a quote" (POST /cart/quote), which lives here so the cart's own views stay the
cart's."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import buyer_required
from b2bshop.core import unit_of_work
from b2bshop.core.csv_safe import streamed_csv, streamed_scalars, text_cell
from b2bshop.core.listing import keyset_page, list_response, parse_filter
from b2bshop.core.read_only import read_only
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.quotations import pdf, service
from b2bshop.quotations.forms import QuotationFilterForm, status_labels
from b2bshop.quotations.models import Quotation, QuotationStatus

bp = Blueprint("quotations", __name__)

CSV_HEADER = ["number", "status", "created", "valid_until", "currency", "total", "order"]


def _filtered(form: QuotationFilterForm):  # type: ignore[no-untyped-def]
    stmt = service.visible_quotations(current_user)
    if status := form.valid_value("status"):
        stmt = stmt.where(Quotation.status == QuotationStatus(status))
    if q := form.valid_value("q"):
        stmt = stmt.where(Quotation.number.icontains(q, autoescape=True))
    return stmt


@bp.route("/quotations")
@read_only
@buyer_required()
def list_quotations():
    form = parse_filter(QuotationFilterForm)
    page = keyset_page(
        _filtered(form),
        Quotation.id,
        Quotation.id,
        after=request.args.get("after"),
        before=request.args.get("before"),
        options=(selectinload(Quotation.order),),
    )
    return list_response(
        "quotations/quotations.html",
        "quotations/_quotation_list.html",
        "quotations.list_quotations",
        form.query_args(),
        form=form,
        page=page,
        status_label=status_labels(),
    )


@bp.route("/quotations.csv")
@buyer_required()
def export_quotations():
    form = parse_filter(QuotationFilterForm)
    stmt = _filtered(form).options(selectinload(Quotation.order)).order_by(Quotation.id.desc())

    return streamed_csv(
        "quotations",
        CSV_HEADER,
        streamed_scalars(stmt),
        lambda q: [
            text_cell(q.number),
            q.status.value,
            q.created_at.date().isoformat(),
            q.valid_until.isoformat() if q.valid_until else "",
            q.currency,
            f"{q.total:.2f}",
            text_cell(q.order.number) if q.order else "",
        ],
    )


def _visible_or_404(number: str) -> Quotation:
    quotation = service.get_visible_quotation(current_user, number[:20])
    if quotation is None:
        abort(404)
    return quotation


def _detail(quotation: Quotation, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    return render_template(
        "quotations/quotation.html",
        quotation=quotation,
        status_label=status_labels(),
        today=date.today(),
        error_items=[(None, error)] if error else [],
    ), status


@bp.route("/quotations/<number>")
@read_only
@buyer_required()
def show_quotation(number: str):
    return _detail(_visible_or_404(number))


@bp.route("/quotations/<number>.pdf")
@read_only
@buyer_required()
def quotation_pdf(number: str):
    quotation = _visible_or_404(number)
    return Response(
        pdf.quotation_pdf(quotation),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{quotation.number}.pdf"'},
    )


def _decide(number: str, decide, done):  # type: ignore[no-untyped-def]
    """Run the buyer's decision as one unit of work; a refusal changes nothing and shows
    the quotation again with the reason (409 when its state moved)."""
    quotation_id = _visible_or_404(number).id
    try:
        message = unit_of_work.run(lambda: done(decide(db.session.get(Quotation, quotation_id))))
    except DomainError as error:
        db.session.rollback()
        return _detail(_visible_or_404(number), error.status_code, str(error.message))
    flash(message, "success")
    return redirect(url_for(".show_quotation", number=number))


@bp.route("/quotations/<number>/accept", methods=["POST"])
@buyer_required()
def accept_quotation(number: str):
    return _decide(
        number,
        lambda q: service.accept_quotation(current_user, q),
        lambda order: _(
            "Quotation accepted: sales order %(number)s is placed at the quoted prices.",
            number=order.number,
        ),
    )


@bp.route("/quotations/<number>/decline", methods=["POST"])
@buyer_required()
def decline_quotation(number: str):
    return _decide(
        number,
        lambda q: service.decline_quotation(current_user, q),
        lambda q: _("Quotation %(number)s is declined.", number=q.number),
    )


@bp.route("/cart/quote", methods=["POST"])
@buyer_required()
def request_quote():
    note = (request.form.get("note") or "")[:2000]
    try:
        number = unit_of_work.run(lambda: service.request_quote(current_user, note=note).number)
    except DomainError as error:
        db.session.rollback()
        return render_template("cart/refused.html", message=error.message), error.status_code
    flash(
        _(
            "Your quote request %(number)s is sent. We will price it and email you.",
            number=number,
        ),
        "success",
    )
    return redirect(url_for(".show_quotation", number=number))
