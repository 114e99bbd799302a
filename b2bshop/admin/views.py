from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from b2bshop import jobs
from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db
from b2bshop.htmx import render
from b2bshop.requests import service as requests_service
from b2bshop.requests.models import B2BRequest, RequestStatus

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@store_admin_required
def dashboard():
    customers = db.session.scalar(select(func.count(Customer.id)))
    open_invoices = db.session.scalar(
        select(func.count(Invoice.id)).where(Invoice.status != InvoiceStatus.PAID)
    )
    return render_template(
        "admin/dashboard.html",
        customers=customers,
        open_invoices=open_invoices,
        queue=jobs.queue_health(),
        failed_requests=db.session.scalar(
            select(func.count(B2BRequest.id)).where(B2BRequest.status == RequestStatus.FAILED)
        ),
    )


@bp.route("/requests")
@store_admin_required
def requests_monitor():
    """Store admins' view of the B2B requests and the queue (issue 5.7)."""
    status = request.args.get("status") or None
    stmt = select(B2BRequest).order_by(B2BRequest.id.desc()).limit(200)
    if status in {s.value for s in RequestStatus}:
        stmt = stmt.where(B2BRequest.status == RequestStatus(status))
    return render(
        "admin/requests.html",
        "admin/_requests.html",
        requests=db.session.scalars(stmt).all(),
        status=status,
        queue=jobs.queue_health(),
    )


@bp.route("/requests/<int:request_id>/retry", methods=["POST"])
@store_admin_required
def retry_request(request_id: int):
    b2b_request = db.session.get(B2BRequest, request_id)
    if b2b_request is None:
        abort(404)
    if b2b_request.status == RequestStatus.COMPLETED:
        flash(_("Request %(id)s is already completed.", id=request_id), "info")
    else:
        requests_service.requeue(b2b_request)
        db.session.commit()
        flash(_("Request %(id)s is queued again.", id=request_id), "success")
    return redirect(url_for(".requests_monitor", status=request.args.get("status")))
