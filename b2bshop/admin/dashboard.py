"""Dashboard (receivables aging, overdue total, request and queue health) and the B2B
request monitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import case, func, select

from b2bshop import heartbeats, jobs
from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import bp, get_or_404
from b2bshop.billing.models import Invoice, InvoiceStatus, is_invoice, signed_balance
from b2bshop.billing.pdf import bucket_labels
from b2bshop.billing.service import AGING_BUCKETS
from b2bshop.extensions import db
from b2bshop.htmx import render
from b2bshop.requests import service as requests_service
from b2bshop.requests.models import B2BRequest, RequestKind, RequestStatus


@dataclass(frozen=True)
class AgingBar:
    key: str
    label: str
    amount: Decimal
    count: int
    #: Bar length in percent of the largest bucket of the same currency.
    width: float


@dataclass(frozen=True)
class CurrencyAging:
    """One currency's receivables: amounts in different currencies are never added."""

    currency: str
    bars: list[AgingBar]

    @property
    def overdue(self) -> Decimal:
        return sum((b.amount for b in self.bars if b.key != "not_due"), Decimal(0))

    @property
    def overdue_count(self) -> int:
        return sum(b.count for b in self.bars if b.key != "not_due")

    @property
    def open_count(self) -> int:
        return sum(b.count for b in self.bars)


#: Shown (all zero) when nothing is open at all.
DEFAULT_CURRENCY = "EUR"


def receivables_aging(today: date) -> list[CurrencyAging]:
    """Open balances of every customer by currency and days overdue, in one query (SQL
    CASE, grouped by currency and bucket); currencies in alphabetical order."""
    balance = signed_balance()
    whens = []
    for key, low, high in AGING_BUCKETS:
        if low is None:
            # Open credit notes are never overdue.
            whens.append(((Invoice.due_date >= today) | ~is_invoice(), key))
        else:
            # Overdue by low..high days: due between today-high and today-low.
            cond = Invoice.due_date <= today - timedelta(days=low)
            if high is not None:
                cond = cond & (Invoice.due_date >= today - timedelta(days=high))
            whens.append((cond, key))
    bucket = case(*whens).label("bucket")
    rows = db.session.execute(
        select(Invoice.currency, bucket, func.count(), func.coalesce(func.sum(balance), 0))
        .where(Invoice.status != InvoiceStatus.PAID)
        .group_by(Invoice.currency, bucket)
    ).all()
    found: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for currency, key, count, amount in rows:
        found.setdefault(currency, {})[key] = (count, Decimal(str(amount)))
    labels = bucket_labels()
    sections = []
    for currency in sorted(found) or [DEFAULT_CURRENCY]:
        buckets = found.get(currency, {})
        largest = max((a for _count, a in buckets.values()), default=Decimal(0)) or Decimal(1)
        bars = []
        for key, _low, _high in AGING_BUCKETS:
            count, amount = buckets.get(key, (0, Decimal(0)))
            bars.append(AgingBar(key, labels[key], amount, count, float(amount / largest * 100)))
        sections.append(CurrencyAging(currency, bars))
    return sections


@bp.route("/")
@store_admin_required
def dashboard():
    aging = receivables_aging(date.today())
    request_counts = dict(
        db.session.execute(
            select(B2BRequest.status, func.count()).group_by(B2BRequest.status)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        customers=db.session.scalar(select(func.count(Customer.id))),
        open_invoices=sum(a.open_count for a in aging),
        aging=aging,
        overdue_count=sum(a.overdue_count for a in aging),
        queue=jobs.queue_health(),
        request_counts={s.value: request_counts.get(s, 0) for s in RequestStatus},
        failed_requests=request_counts.get(RequestStatus.FAILED, 0),
    )


@bp.route("/requests")
@store_admin_required
def requests_monitor():
    """Store admins' view of the B2B requests and the queue (issue 5.7)."""
    status = request.args.get("status") or None
    stmt = select(B2BRequest).order_by(B2BRequest.id.desc()).limit(200)
    if status in {s.value for s in RequestStatus}:
        stmt = stmt.where(B2BRequest.status == RequestStatus(status))
    requests = db.session.scalars(stmt).all()
    return render(
        "admin/requests.html",
        "admin/_requests.html",
        requests=requests,
        emails=requests_service.emails_of(requests),
        periodic=heartbeats.periodic_health(),
        status=status,
        queue=jobs.queue_health(),
    )


@bp.route("/requests/<int:request_id>/retry", methods=["POST"])
@store_admin_required
def retry_request(request_id: int):
    b2b_request = get_or_404(B2BRequest, request_id)
    if b2b_request.status == RequestStatus.COMPLETED:
        flash(_("Request %(id)s is already completed.", id=request_id), "info")
    elif b2b_request.kind == RequestKind.ACCOUNT_APPLICATION:
        # No job carries it out: a store admin approves or rejects it (issue 17).
        flash(_("An account application is approved or rejected on its prospect's page."), "info")
    else:
        requests_service.requeue(b2b_request)
        db.session.commit()
        flash(_("Request %(id)s is queued again.", id=request_id), "success")
    return redirect(url_for(".requests_monitor", status=request.args.get("status")))
