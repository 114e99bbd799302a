from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import buyer_required
from b2bshop.billing import service
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db

bp = Blueprint("billing", __name__)


@bp.route("/invoices")
@buyer_required("may_view_invoices")
def list_invoices():
    invoices = db.session.scalars(
        service.visible_invoices(current_user)
        .options(selectinload(Invoice.customer))
        .order_by(Invoice.due_date, Invoice.id)
        .limit(50)
    ).all()
    return render_template("billing/invoices.html", invoices=invoices)


@bp.route("/invoices/<number>")
@buyer_required("may_view_invoices")
def show_invoice(number: str):
    invoice = service.get_visible_invoice(current_user, number)
    if invoice is None:
        abort(404)
    return render_template("billing/invoice.html", invoice=invoice)
