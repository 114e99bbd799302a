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
from b2bshop.billing import pdf
from b2bshop.billing.service import settlements
from b2bshop.extensions import db
from b2bshop.requests import service
from b2bshop.requests.models import B2BRequest, RequestStatus, SentEmail

log = logging.getLogger(__name__)


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def send_invoice_email(request_id: int) -> str:
    request = db.session.get(B2BRequest, request_id)
    if request is None:
        return "gone"
    if request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        return request.status.value
    key = f"invoice-copy-{request.id}"
    request.status = RequestStatus.PROCESSING
    request.attempts += 1
    db.session.commit()

    marker = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
    if marker is not None:
        service.mark_completed(request)
        if marker.state == "sending":
            log.warning("request %s: delivery not confirmed, not sending twice", request.id)
            request.last_error = "Delivery not confirmed: a worker stopped while sending."
        db.session.commit()
        return "completed earlier"

    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN", "b2bshop.local")
    marker = SentEmail(key=key, state="sending", message_id=make_msgid("invoice", domain))
    db.session.add(marker)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another worker holds this request
        return "running elsewhere"

    try:
        message = build_invoice_email(request, marker.message_id, key)
        message.send()
    except Exception as exc:  # the mail server refused, or rendering failed: retry
        db.session.rollback()
        db.session.execute(delete(SentEmail).where(SentEmail.key == key))
        request = db.session.get(B2BRequest, request_id)
        request.last_error = f"{type(exc).__name__}: {exc}"
        if _last_attempt():
            service.mark_failed(request, request.last_error)
        else:
            request.status = RequestStatus.PENDING
        db.session.commit()
        raise

    marker.state = "sent"
    marker.sent_at = datetime.now()
    service.mark_completed(request)
    db.session.commit()
    return "sent"


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
        service.enqueue(request)
    db.session.commit()
    return len(stale)
