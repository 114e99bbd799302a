"""Jobs that carry out B2B requests (SPEC A9): thin, take ids, commit per step.

`send_invoice_email` sends each email effectively once, whatever fails:

* A row in `sent_emails` under the unique key `invoice-copy-<request id>` is committed in
  state "sending" *before* the SMTP conversation, and set to "sent" after it.
* A run that finds "sent" (the previous run died after sending, before completing the
  request) completes the request without sending again.
* A run that finds "sending" means a worker died during the SMTP conversation: the mail
  server may or may not have taken the message. Sending again risks a second email, so it
  does not; the request completes with a note for store admins, who can resend by hand.
  The window is the SMTP conversation itself, seconds at most.
* When the mail server refuses (an exception), the marker is deleted again, so the retry
  sends. The unique key also stops two workers running the same request at once: the
  second one's insert fails and it leaves the request to the first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from email.utils import make_msgid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMultiAlternatives
from rq import get_current_job
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from b2bshop import jobs
from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import User
from b2bshop.audit import service as audit
from b2bshop.billing import pdf
from b2bshop.billing.service import settlements
from b2bshop.extensions import db
from b2bshop.requests import invitations, service
from b2bshop.requests.models import B2BRequest, Invitation, RequestKind, RequestStatus, SentEmail

log = logging.getLogger(__name__)


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _start(request_id: int) -> B2BRequest | None:
    """The request to work on, marked processing; None when there is nothing left to do."""
    request = db.session.get(B2BRequest, request_id)
    if request is None or request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        return None
    request.status = RequestStatus.PROCESSING
    request.attempts += 1
    db.session.commit()
    return request


def _fail_or_retry(request_id: int, error: str, key: str | None = None) -> None:
    db.session.rollback()
    if key is not None:
        db.session.execute(delete(SentEmail).where(SentEmail.key == key))
    request = db.session.get(B2BRequest, request_id)
    request.last_error = error
    if _last_attempt():
        service.mark_failed(request, error)
    else:
        request.status = RequestStatus.PENDING
    db.session.commit()


def _deliver_once(
    request: B2BRequest, key: str, build: Callable[[str], EmailMultiAlternatives]
) -> str:
    """Send the request's email effectively once (see the module docstring), then complete
    the request."""
    marker = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
    if marker is not None:
        service.mark_completed(request)
        if marker.state == "sending":
            log.warning("request %s: delivery not confirmed, not sending twice", request.id)
            request.last_error = "Delivery not confirmed: a worker stopped while sending."
        db.session.commit()
        return "completed earlier"

    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN", "b2bshop.local")
    marker = SentEmail(key=key, state="sending", message_id=make_msgid("b2b", domain))
    db.session.add(marker)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another worker holds this request
        return "running elsewhere"

    request_id = request.id
    try:
        build(marker.message_id).send()
    except Exception as exc:  # the mail server refused, or rendering failed: retry
        _fail_or_retry(request_id, f"{type(exc).__name__}: {exc}", key)
        raise

    marker.state = "sent"
    marker.sent_at = datetime.now()
    service.mark_completed(request)
    db.session.commit()
    return "sent"


def send_invoice_email(request_id: int) -> str:
    request = _start(request_id)
    if request is None:
        return "nothing to do"
    key = f"invoice-copy-{request.id}"
    return _deliver_once(
        request, key, lambda message_id: build_invoice_email(request, message_id, key)
    )


def carry_out_user_request(request_id: int) -> str:
    """A buyer admin's request: add a user (and invite them), change one's permissions,
    or remove one."""
    request = _start(request_id)
    if request is None:
        return "nothing to do"
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
            except accounts.EmailTaken as exc:
                db.session.rollback()
                request = db.session.get(B2BRequest, request_id)
                service.mark_failed(request, str(exc))  # no retry can fix that
                db.session.commit()
                return "failed"
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
        key = f"invitation-{request.id}"
        return _deliver_once(
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
        attachment = pdf.invoice_pdf(invoice, settlements(invoice), date.today())
    message = EmailMultiAlternatives(
        subject,
        text,
        to=[request.email],
        headers={"Message-ID": message_id, "X-B2B-Key": key},
    )
    message.attach_alternative(html, "text/html")
    message.attach(f"{invoice.number}.pdf", attachment, "application/pdf")
    return message


def sync_requests() -> int:
    """Re-enqueue pending requests that have no live job: the queue was down when they were
    made, or lost them. Runs every minute (the source system's "synchronize channel
    requests")."""
    queue = jobs.get_queue()
    live = set(queue.get_job_ids())
    for registry in (
        queue.started_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
    ):
        live.update(registry.get_job_ids())
    stale = service.unqueued_pending_requests(live)
    for request in stale:
        request.status = RequestStatus.PENDING
        service.requeue(request)
    db.session.commit()
    return len(stale)
