from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from b2bshop import jobs
from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db

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
    )
