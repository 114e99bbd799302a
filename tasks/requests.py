"""Jobs that carry out B2B requests (SPEC A9): thin, take ids, commit per step.

Emails go out **at least once, never lost; a rare duplicate carries the same Message-ID**:

1. The job takes the request under a lease (`processing` until `lease_expires_at`, the job
   timeout plus a margin), under a row lock: no other job takes it meanwhile.
2. The intent, a `sent_emails` row under the unique key `invoice-copy-<request id>` in state
   "sending" with the Message-ID, is committed *before* the SMTP conversation. The key only
   names the email; it never stops a send.
3. The job sends, outside any transaction, and returns from the send only once the mail
   server accepted the message (its reply to DATA; `b2bshop/requests/delivery.py`).
4. Then, in one transaction, the intent becomes "sent" and the request completed. A buyer
   sees the request "Sending" until then, never completed before.

Whatever dies in between, the request is not completed, so it is sent again: a refusal or
a timeout raises and RQ retries the job (REQUEST_RETRY_INTERVALS); a worker killed on the
spot leaves the request processing until its lease expires, then the sync job queues it
again. The retry finds the intent "sending" and sends with the same Message-ID. Only a
worker that died after the server's reply and before step 4 makes a second email, and mail
clients can tell it is the same message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from email.utils import make_msgid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMultiAlternatives
from rq import get_current_job
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from b2bshop import heartbeats, jobs
from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import User
from b2bshop.audit import service as audit
from b2bshop.billing.service import settlements
from b2bshop.core.faults import crash_point
from b2bshop.einvoice.attachments import invoice_attachments
from b2bshop.extensions import db
from b2bshop.requests import delivery, invitations, service
from b2bshop.requests.models import B2BRequest, Invitation, RequestKind, RequestStatus, SentEmail

log = logging.getLogger(__name__)

#: Tries to record an accepted email when the database connection drops meanwhile.
RECORD_ATTEMPTS = 3


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _start(request_id: int) -> B2BRequest | None:
    """The request, taken under a lease; None when there is nothing to do here: it is done,
    or another job holds it."""
    request = service.lock_for_job(request_id)
    if request is None or request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        db.session.rollback()
        return None
    now = heartbeats.utcnow()
    if service.has_live_lease(request, now):
        db.session.rollback()
        log.info("request %s: another job holds it until %s", request_id, request.lease_expires_at)
        return None
    job = get_current_job()
    service.take(request, job.id if job is not None else None, now)
    db.session.commit()
    return request


def _fail_or_retry(request_id: int, error: str) -> None:
    """The attempt failed: pending again for RQ's retry, or failed after the last one. The
    intent stays: the retry sends with the same Message-ID."""
    db.session.rollback()
    request = db.session.get(B2BRequest, request_id)
    if _last_attempt():
        service.mark_failed(request, error)
    else:
        service.release_for_retry(request, error)
    db.session.commit()


def _intent(key: str) -> SentEmail:
    """The email's intent row, created with its Message-ID on the first attempt."""
    intent = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
    if intent is None:
        domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN", "b2bshop.local")
        intent = SentEmail(key=key, state="sending", message_id=make_msgid("b2b", domain), sends=0)
        db.session.add(intent)
    return intent


def _record_accepted(request_id: int, key: str) -> None:
    """The mail server accepted the email: "sent", and the request completed, in one
    transaction. A dropped database connection (a restart, pg_terminate_backend) is tried
    again on a fresh one, rather than leaving the request to a second email."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            intent = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
            intent.state = "sent"
            intent.sent_at = heartbeats.utcnow()
            service.mark_completed(db.session.get(B2BRequest, request_id))
            db.session.commit()
            return
        except DBAPIError as exc:
            db.session.rollback()
            if attempt == RECORD_ATTEMPTS or not exc.connection_invalidated:
                raise
            log.warning("request %s: database connection lost while recording; again", request_id)
            time.sleep(0.1 * attempt)


def _deliver(request: B2BRequest, key: str, build: Callable[[str], EmailMultiAlternatives]) -> str:
    """Send the request's email at least once (see the module docstring), then complete
    the request."""
    request_id = request.id
    intent = _intent(key)
    if intent.state == "sent":  # accepted before; completing it is all that is left
        service.mark_completed(request)
        db.session.commit()
        return "completed earlier"
    intent.sends += 1
    message = build(intent.message_id)
    # The intent, with its Message-ID, is committed before the SMTP conversation, and no
    # transaction stays open during it.
    db.session.commit()
    delivery.send(message)
    crash_point("after_accept")
    _record_accepted(request_id, key)
    return "sent"


def _attempt(request_id: int, work: Callable[[], str]) -> str:
    """Run one attempt of a taken request. Whatever it raises (the mail server refused or
    timed out, a template failed, the database dropped the connection), the request goes
    back to pending for RQ's retry, or fails after the last one. If even that cannot be
    written, the lease runs out and the sync job queues the request again."""
    try:
        return work()
    except Exception as exc:
        try:
            _fail_or_retry(request_id, f"{type(exc).__name__}: {exc}")
        except Exception:
            db.session.rollback()
            log.exception("request %s: could not record the failed attempt", request_id)
        raise


def send_invoice_email(request_id: int) -> str:
    request = _start(request_id)
    if request is None:
        return "nothing to do"
    key = service.email_key(request)
    return _attempt(
        request_id,
        lambda: _deliver(
            request, key, lambda message_id: build_invoice_email(request, message_id, key)
        ),
    )


def carry_out_user_request(request_id: int) -> str:
    """A buyer admin's request: add a user (and invite them), change one's permissions,
    or remove one."""
    request = _start(request_id)
    if request is None:
        return "nothing to do"
    return _attempt(request_id, lambda: _carry_out(request))


def _carry_out(request: B2BRequest) -> str:
    request_id = request.id
    payload = dict(request.payload or {})
    if request.kind == RequestKind.ADD_USER:
        user = db.session.get(User, payload["user_id"]) if payload.get("user_id") else None
        if user is None:
            try:
                user = accounts.create_user(
                    payload["email"],
                    None,
                    customer=request.customer,
                    name=payload["name"],
                    **{name: payload[name] for name in service.PERMISSIONS},
                )
            except accounts.EmailTaken:
                db.session.rollback()
                request = db.session.get(B2BRequest, request_id)
                # No retry can fix that, and the buyer admin must not learn that the
                # address exists elsewhere: a store admin settles it.
                service.hold_for_store_admin(
                    request, "The address belongs to a user of another customer."
                )
                db.session.commit()
                return "held for a store admin"
            audit.record(
                request.requester,
                "user.add",
                "user",
                user.email,
                after={name: payload[name] for name in service.PERMISSIONS},
            )
            invitation, _token = invitations.create(user)
            payload["user_id"] = user.id
            payload["invitation_id"] = invitation.id
            request.payload = payload  # a new dict: the JSON column sees the change
            db.session.commit()
        invitation = db.session.get(Invitation, payload["invitation_id"])
        key = service.email_key(request)
        return _deliver(
            request,
            key,
            lambda message_id: build_invitation_email(request, invitation, message_id, key),
        )
    user = db.session.get(User, payload["user_id"])
    if user is None or user.customer_id != request.customer_id:
        service.mark_failed(request, "The user no longer exists.")
        db.session.commit()
        return "failed"
    if request.kind == RequestKind.CHANGE_USER:
        service.apply_permissions(user, payload, request.requester)
    elif request.kind == RequestKind.REMOVE_USER:
        service.remove_user(user, request.requester)
    service.mark_completed(request)
    db.session.commit()
    return "completed"


def build_invitation_email(
    request: B2BRequest, invitation: Invitation, message_id: str, key: str
) -> EmailMultiAlternatives:
    store_url = current_app.config["STORE_URL"].rstrip("/")
    link = f"{store_url}/invitations/{invitations.token_for(invitation)}"
    with force_locale(request.locale):
        context = {
            "request": request,
            "user": invitation.user,
            "link": link,
            "customer": request.customer,
            "inviter": request.requester,
            "store_name": current_app.config["STORE_NAME"],
            "expires_at": invitation.expires_at,
        }
        subject = _("You are invited to %(store)s", store=current_app.config["STORE_NAME"])
        text = render_template("emails/invitation.txt", **context)
        html = render_template("emails/invitation.html", **context)
    message = EmailMultiAlternatives(
        subject,
        text,
        to=[invitation.user.email],
        headers={"Message-ID": message_id, "X-B2B-Key": key},
    )
    message.attach_alternative(html, "text/html")
    return message


def build_invoice_email(request: B2BRequest, message_id: str, key: str) -> EmailMultiAlternatives:
    invoice = request.invoice
    store_url = current_app.config["STORE_URL"].rstrip("/")
    with force_locale(request.locale):
        context = {
            "request": request,
            "invoice": invoice,
            "store_name": current_app.config["STORE_NAME"],
            "invoice_url": f"{store_url}/invoices/{invoice.number}",
        }
        subject = _(
            "Invoice %(number)s from %(store)s",
            number=invoice.number,
            store=current_app.config["STORE_NAME"],
        )
        text = render_template("emails/invoice_copy.txt", **context)
        html = render_template("emails/invoice_copy.html", **context)
        # The billed customer's preference: PDF, PDF + UBL, or Factur-X (einvoice/).
        attachments = invoice_attachments(invoice, settlements(invoice), date.today())
    message = EmailMultiAlternatives(
        subject,
        text,
        to=[request.email],
        headers={"Message-ID": message_id, "X-B2B-Key": key},
    )
    message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    return message


def sync_requests() -> str:
    """Every SYNC_INTERVAL seconds (the source system's "synchronize channel requests"):
    requests whose worker died go back to pending, and pending requests without a live job
    are queued again (the queue was down when they were made, or lost them). Its run is
    recorded in the database for /healthz and /admin/requests."""
    return heartbeats.run_periodic(heartbeats.SYNC_REQUESTS, _sync)


def _sync() -> str:
    queue = jobs.get_queue()
    # The started registry's cleanup (in get_job_ids) hands RQ's abandoned jobs, those of a
    # worker that died, to their retry or to the failed registry; a request whose job is in
    # the failed registry, or nowhere, has no live job.
    live = set(queue.get_job_ids())
    for registry in (
        queue.started_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
    ):
        live.update(registry.get_job_ids())
    stale = service.unqueued_pending_requests(live)
    for request in stale:
        service.requeue(request)
    expired, failed = service.release_expired_leases(
        heartbeats.utcnow(), current_app.config["REQUEST_MAX_ATTEMPTS"]
    )
    db.session.commit()
    return f"{len(stale)} queued again, {expired} leases expired, {failed} failed"
