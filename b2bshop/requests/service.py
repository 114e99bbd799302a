"""B2B requests: created by buyers, carried out by jobs (tasks/requests.py)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from b2bshop import jobs
from b2bshop.accounts.models import User
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import visible_invoices
from b2bshop.errors import NotFound
from b2bshop.extensions import db
from b2bshop.requests.models import B2BRequest, RequestKind, RequestStatus

#: Dotted path, so the web process need not import the job's module to enqueue it.
SEND_INVOICE_EMAIL = "tasks.requests.send_invoice_email"


def request_invoice_copy(user: User, number: str, locale: str = "en") -> B2BRequest:
    """Request invoice (SPEC A8): email the invoice to the user's registered address.

    The request is saved pending and its job queued after the commit: if the queue is
    down, the buyer still sees the request and the sync job queues it later.
    """
    invoice = db.session.scalar(visible_invoices(user).where(Invoice.number == number))
    if invoice is None:
        raise NotFound(_l("There is no invoice %(number)s.", number=number))
    request = B2BRequest(
        kind=RequestKind.INVOICE_COPY,
        customer_id=user.customer_id,
        requester=user,
        invoice=invoice,
        email=user.email,
        locale=locale,
    )
    db.session.add(request)
    db.session.flush()
    enqueue(request)
    return request


def enqueue(request: B2BRequest) -> None:
    request.job_id = f"b2b-request-{request.id}-{request.attempts}"
    jobs.enqueue_after_commit(
        SEND_INVOICE_EMAIL, request.id, job_id=request.job_id, retry=jobs.default_retry()
    )


def visible_requests(user: User) -> Select:
    """A buyer sees their own requests; a buyer admin sees all of the customer's."""
    stmt = select(B2BRequest).where(B2BRequest.customer_id == user.customer_id)
    if not user.is_buyer_admin:
        stmt = stmt.where(B2BRequest.requester_id == user.id)
    return stmt


def list_requests(
    user: User, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[B2BRequest]:
    stmt = visible_requests(user)
    if status in {s.value for s in RequestStatus}:
        stmt = stmt.where(B2BRequest.status == RequestStatus(status))
    if kind in {k.value for k in RequestKind}:
        stmt = stmt.where(B2BRequest.kind == RequestKind(kind))
    return list(
        db.session.scalars(
            stmt.order_by(B2BRequest.created_at.desc(), B2BRequest.id.desc()).limit(limit)
        )
    )


def mark_completed(request: B2BRequest) -> None:
    request.status = RequestStatus.COMPLETED
    request.completed_at = datetime.now()
    request.last_error = None
    db.session.flush()


def mark_failed(request: B2BRequest, error: str) -> None:
    request.status = RequestStatus.FAILED
    request.last_error = error[:2000]
    db.session.flush()


def unqueued_pending_requests(live_job_ids: set[str], limit: int = 500) -> list[B2BRequest]:
    """Pending requests whose job the queue no longer knows (it was down, or lost them)."""
    pending = db.session.scalars(
        select(B2BRequest)
        .where(B2BRequest.status == RequestStatus.PENDING)
        .order_by(B2BRequest.id)
        .limit(limit)
    )
    return [r for r in pending if r.job_id not in live_job_ids]
