"""B2B requests: created by buyers, carried out by jobs (tasks/requests.py)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select

from b2bshop import jobs
from b2bshop.accounts.models import User
from b2bshop.audit import service as audit
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import visible_invoices
from b2bshop.core.inputs import int_in_range
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.heartbeats import utcnow
from b2bshop.requests.models import B2BRequest, RequestKind, RequestStatus, SentEmail

#: Dotted paths, so the web process need not import the jobs' module to enqueue them.
_JOBS = {
    RequestKind.INVOICE_COPY: "tasks.requests.send_invoice_email",
    RequestKind.ADD_USER: "tasks.requests.carry_out_user_request",
    RequestKind.CHANGE_USER: "tasks.requests.carry_out_user_request",
    RequestKind.REMOVE_USER: "tasks.requests.carry_out_user_request",
}


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
    # A new id each time: an old job of the request may still sit in an RQ registry.
    request.job_id = f"b2b-request-{request.id}-{request.attempts}-{secrets.token_hex(3)}"
    jobs.enqueue_after_commit(
        _JOBS[request.kind],
        request.id,
        job_id=request.job_id,
        job_timeout=current_app.config["REQUEST_JOB_TIMEOUT"],
        retry=jobs.default_retry(),
    )


def requeue(request: B2BRequest, now: datetime | None = None) -> None:
    """Queue a request again (sync job, store admin's retry); the jobs are idempotent. A
    request a job holds under a live lease stays with it: the new job finds it taken and
    leaves it, or finds it back to pending and takes it."""
    if not has_live_lease(request, now or utcnow()):
        request.status = RequestStatus.PENDING
        request.lease_expires_at = None
    enqueue(request)


# --- Leases: one job at a time holds a request (tasks/requests.py) ---


def lease_duration() -> timedelta:
    """The job timeout plus a margin: a job that still runs is inside its lease, since RQ
    stops it at the timeout."""
    config = current_app.config
    return timedelta(seconds=config["REQUEST_JOB_TIMEOUT"] + config["REQUEST_LEASE_MARGIN"])


def has_live_lease(request: B2BRequest, now: datetime) -> bool:
    return request.lease_expires_at is not None and request.lease_expires_at > now


def lock_for_job(request_id: int) -> B2BRequest | None:
    """The request, its row locked until the job's next commit (SQLite: the job's
    transaction is IMMEDIATE), so two jobs never both take it."""
    return db.session.scalar(
        select(B2BRequest).where(B2BRequest.id == request_id).with_for_update()
    )


def take(request: B2BRequest, job_id: str | None, now: datetime) -> None:
    """A job starts an attempt: processing, under a lease."""
    request.status = RequestStatus.PROCESSING
    request.attempts += 1
    request.lease_expires_at = now + lease_duration()
    if job_id is not None:
        request.job_id = job_id
    db.session.flush()


def release_for_retry(request: B2BRequest, error: str) -> None:
    """The attempt failed and will be retried: pending again, lease given up."""
    request.status = RequestStatus.PENDING
    request.lease_expires_at = None
    request.last_error = error[:2000]
    db.session.flush()


def release_expired_leases(now: datetime, max_attempts: int) -> tuple[int, int]:
    """Requests still processing after their lease: the job's worker died (or the lease
    predates this code). Queued again, or failed after `max_attempts` attempts. Returns
    (queued again, failed)."""
    expired = db.session.scalars(
        select(B2BRequest)
        .where(
            B2BRequest.status == RequestStatus.PROCESSING,
            or_(B2BRequest.lease_expires_at.is_(None), B2BRequest.lease_expires_at <= now),
        )
        .order_by(B2BRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    queued = failed = 0
    for request in expired:
        if request.attempts >= max_attempts:
            mark_failed(
                request,
                f"Gave up after {request.attempts} attempts: the worker stopped each time.",
            )
            failed += 1
        else:
            request.last_error = "The worker stopped while working on it (lease expired)."
            request.status = RequestStatus.PENDING
            request.lease_expires_at = None
            enqueue(request)
            queued += 1
    db.session.flush()
    return queued, failed


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
    request.lease_expires_at = None
    db.session.flush()


def hold_for_store_admin(request: B2BRequest, reason: str) -> None:
    """A request only a store admin can settle (a new user's address belongs to another
    customer). To its buyer admin it stays pending, like one not yet carried out, so the
    clash tells them nothing; the store admin sees the reason at /admin/requests."""
    request.status = RequestStatus.PENDING
    request.payload = {**(request.payload or {}), "held_for_store_admin": True}
    request.last_error = reason[:2000]
    request.lease_expires_at = None
    request.job_id = None
    db.session.flush()


def is_held(request: B2BRequest) -> bool:
    return bool((request.payload or {}).get("held_for_store_admin"))


def mark_failed(request: B2BRequest, error: str) -> None:
    request.status = RequestStatus.FAILED
    request.last_error = error[:2000]
    request.lease_expires_at = None
    db.session.flush()


def email_key(request: B2BRequest) -> str | None:
    """The unique key of the email a request sends (sent_emails.key), if it sends one."""
    if request.kind == RequestKind.INVOICE_COPY:
        return f"invoice-copy-{request.id}"
    if request.kind == RequestKind.ADD_USER:
        return f"invitation-{request.id}"
    return None


def emails_of(requests: list[B2BRequest]) -> dict[int, SentEmail]:
    """The email of each request that has one under way or sent, by request id."""
    keys = {key: r.id for r in requests if (key := email_key(r)) is not None}
    if not keys:
        return {}
    rows = db.session.scalars(select(SentEmail).where(SentEmail.key.in_(keys)))
    return {keys[row.key]: row for row in rows}


def unqueued_pending_requests(live_job_ids: set[str], limit: int = 500) -> list[B2BRequest]:
    """Pending requests whose job the queue no longer knows (it was down, or lost them)."""
    pending = db.session.scalars(
        select(B2BRequest)
        .where(B2BRequest.status == RequestStatus.PENDING)
        .order_by(B2BRequest.id)
        .limit(limit)
    )
    return [r for r in pending if r.job_id not in live_job_ids and not is_held(r)]


# --- A buyer admin's requests about the users of the customer account (issue 5.6) ---

PERMISSIONS = ("may_order", "may_view_invoices", "may_pay_invoices")


class NotBuyerAdmin(DomainError):
    status_code = 403


class UserRequestInvalid(DomainError):
    status_code = 422


def customer_users(admin: User) -> list[User]:
    _require_buyer_admin(admin)
    return list(
        db.session.scalars(
            select(User).where(User.customer_id == admin.customer_id).order_by(User.email)
        )
    )


def pending_user_additions(admin: User) -> list[B2BRequest]:
    """Users asked for and not there yet; a held request stays among them, as it stays
    pending on the buyer's request list (nothing tells the buyer why)."""
    _require_buyer_admin(admin)
    return list(
        db.session.scalars(
            select(B2BRequest)
            .where(
                B2BRequest.customer_id == admin.customer_id,
                B2BRequest.kind == RequestKind.ADD_USER,
                B2BRequest.status.in_((RequestStatus.PENDING, RequestStatus.PROCESSING)),
            )
            .order_by(B2BRequest.id)
        )
    )


def _require_buyer_admin(user: User) -> None:
    if not user.is_buyer_admin:
        raise NotBuyerAdmin(_l("Only your account's administrator manages its users."))


#: Ids are 64-bit integers in both databases; a bigger number names no user (and the
#: drivers would refuse to send it).
def _customer_user(admin: User, user_id: int | None) -> User:
    """A user of the admin's own customer account; anyone else is not found."""
    user = None
    if user_id is not None and int_in_range(user_id, minimum=1):  # ids are 32-bit columns
        user = db.session.scalar(
            select(User).where(
                User.id == user_id, User.customer_id == admin.customer_id, User.active.is_(True)
            )
        )
    if user is None:
        raise NotFound(_l("There is no such user in your account."))
    return user


def _permissions(values: dict[str, bool]) -> dict[str, bool]:
    return {name: bool(values.get(name)) for name in PERMISSIONS}


def _user_request(admin: User, kind: RequestKind, payload: dict, locale: str) -> B2BRequest:
    request = B2BRequest(
        kind=kind,
        customer_id=admin.customer_id,
        requester=admin,
        email=admin.email,
        locale=locale,
        payload=payload,
    )
    db.session.add(request)
    db.session.flush()
    enqueue(request)
    return request


def request_add_user(
    admin: User, email: str, name: str, permissions: dict[str, bool], locale: str = "en"
) -> B2BRequest:
    from b2bshop.accounts.service import find_user_by_email, normalize_email

    _require_buyer_admin(admin)
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise UserRequestInvalid(_l("Enter the new user's email address."))
    existing = find_user_by_email(email)
    if existing is not None and existing.customer_id == admin.customer_id:
        # The buyer admin sees the account's own users anyway.
        raise UserRequestInvalid(
            _l("%(email)s is already a user of your account.", email=existing.email)
        )
    # An address that belongs to another customer is not revealed: the request goes in like
    # any other, and the job holds it for a store admin (hold_for_store_admin).
    payload = {"email": email, "name": (name or "").strip()[:200], **_permissions(permissions)}
    return _user_request(admin, RequestKind.ADD_USER, payload, locale)


def request_change_user(
    admin: User, user_id: int, permissions: dict[str, bool], locale: str = "en"
) -> B2BRequest:
    _require_buyer_admin(admin)
    user = _customer_user(admin, user_id)
    payload = {"user_id": user.id, "email": user.email, **_permissions(permissions)}
    return _user_request(admin, RequestKind.CHANGE_USER, payload, locale)


def request_remove_user(admin: User, user_id: int, locale: str = "en") -> B2BRequest:
    _require_buyer_admin(admin)
    user = _customer_user(admin, user_id)
    if user.id == admin.id:
        raise UserRequestInvalid(_l("You cannot remove yourself."))
    return _user_request(
        admin, RequestKind.REMOVE_USER, {"user_id": user.id, "email": user.email}, locale
    )


def remove_user(user: User, acting_user: User | None = None) -> None:
    """Sign-in refused from now on, and open sessions end: the cookie's token no longer
    matches any user."""
    import uuid

    audit.record(
        acting_user, "user.remove", "user", user.email, {"active": user.active}, {"active": False}
    )
    user.active = False
    user.session_token = str(uuid.uuid4())
    db.session.flush()


def apply_permissions(user: User, payload: dict, acting_user: User | None = None) -> None:
    before = audit.snapshot(user, list(PERMISSIONS))
    for name in PERMISSIONS:
        setattr(user, name, bool(payload.get(name)))
    audit.record(
        acting_user,
        "user.permissions",
        "user",
        user.email,
        before,
        audit.snapshot(user, list(PERMISSIONS)),
    )
    db.session.flush()
