from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import buyer_required
from b2bshop.billing.service import get_visible_invoice
from b2bshop.extensions import db
from b2bshop.htmx import hx_trigger, is_htmx, render
from b2bshop.requests import service
from b2bshop.requests.models import RequestStatus

bp = Blueprint("requests", __name__)


@bp.route("/invoices/<number>/request", methods=["GET", "POST"])
@buyer_required("may_view_invoices")
def request_invoice(number: str):
    """Request invoice (A8): a dialog confirms the registered address; POST creates it."""
    invoice = get_visible_invoice(current_user, number)
    if invoice is None:
        abort(404)
    if request.method == "GET":
        return render("requests/confirm.html", "requests/_dialog.html", invoice=invoice)
    created = service.request_invoice_copy(current_user, number, str(get_locale()))
    db.session.commit()
    message = _(
        "Your request for invoice %(number)s is registered. Follow it under My account "
        "→ B2B requests.",
        number=number,
    )
    if is_htmx():
        response = make_response(
            render_template("requests/_created.html", message=message, created=created)
        )
        return hx_trigger(response, "requestCreated")
    flash(message, "success")
    return redirect(url_for(".list_requests"))


@bp.route("/account/requests")
@buyer_required()
def list_requests():
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    requests_ = service.list_requests(current_user, status, kind)
    busy = any(r.status in (RequestStatus.PENDING, RequestStatus.PROCESSING) for r in requests_)
    return render(
        "requests/requests.html",
        "requests/_requests.html",
        requests=requests_,
        status=status,
        kind=kind,
        busy=busy,
    )
