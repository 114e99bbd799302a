"""Quotation jobs (SPEC B3): the buyer's emails and the periodic sweep. Thin, take ids.

Emails go out the way B2B request emails do (tasks/requests.py): the quotation_emails row is
committed with the change that owes it; the job commits a sent_emails intent with its
Message-ID before the SMTP conversation (requests/delivery.py returns once the server
accepted the message), then marks both sent. A refusal raises and RQ retries; a lost job is
queued again by the sweep. At least once, never lost; a rare duplicate has the same
Message-ID.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMultiAlternatives
from sqlalchemy import select

from b2bshop import heartbeats, jobs
from b2bshop.extensions import db
from b2bshop.quotations import service
from b2bshop.quotations.models import QuotationEmail, QuotationEmailKind
from b2bshop.requests import delivery
from b2bshop.requests.models import SentEmail
from tasks.requests import _intent

log = logging.getLogger(__name__)

SWEEP = "sweep_quotations"
#: An email still pending this long after its commit has lost its job (the queue was down).
LOST_AFTER = timedelta(minutes=10)


def job_id(email_id: int) -> str:
    return f"quotation-email-{email_id}"


def enqueue_email(email_id: int) -> None:
    """Queue the email's job after the commit (one job id per email, so the sweep can tell
    a live job from a lost one)."""
    jobs.enqueue_after_commit(
        send_quotation_email, email_id, job_id=job_id(email_id), retry=jobs.default_retry()
    )


def _recipient(email: QuotationEmail) -> tuple[str, str | None]:
    """The buyer who asked for the quote, else the customer's address."""
    quotation = email.quotation
    if quotation.requested_by is not None and quotation.requested_by.active:
        return quotation.requested_by.email, quotation.requested_by.locale
    return quotation.customer.email, None


def build_email(email: QuotationEmail, message_id: str, key: str) -> EmailMultiAlternatives:
    quotation = email.quotation
    store_url = current_app.config["STORE_URL"].rstrip("/")
    store_name = current_app.config["STORE_NAME"]
    address, locale = _recipient(email)
    with force_locale(locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "en")):
        context = {
            "quotation": quotation,
            "store_name": store_name,
            "quotation_url": f"{store_url}/quotations/{quotation.number}",
        }
        if email.kind == QuotationEmailKind.SENT:
            subject = _(
                "Quotation %(number)s from %(store)s", number=quotation.number, store=store_name
            )
            name = "quotation_sent"
        else:
            subject = _("Quotation %(number)s expires soon", number=quotation.number)
            name = "quotation_expiring"
        text = render_template(f"emails/{name}.txt", **context)
        html = render_template(f"emails/{name}.html", **context)
    message = EmailMultiAlternatives(
        subject, text, to=[address], headers={"Message-ID": message_id, "X-B2B-Key": key}
    )
    message.attach_alternative(html, "text/html")
    return message


def send_quotation_email(email_id: int) -> str:
    key = job_id(email_id)
    email = db.session.scalar(
        select(QuotationEmail).where(QuotationEmail.id == email_id).with_for_update()
    )
    if email is None or email.state != "pending":
        db.session.rollback()
        return "nothing to do"
    intent = _intent(key)
    if intent.state == "sent":  # accepted before; recording it is all that is left
        email.state, email.sent_at = "sent", intent.sent_at
        db.session.commit()
        return "sent earlier"
    intent.sends += 1
    email.attempts += 1
    message = build_email(email, intent.message_id, key)
    # The intent and its Message-ID are committed before the SMTP conversation.
    db.session.commit()
    try:
        delivery.send(message)
    except Exception as exc:
        db.session.rollback()
        failed = db.session.get(QuotationEmail, email_id)
        failed.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if failed.attempts >= current_app.config["REQUEST_MAX_ATTEMPTS"]:
            failed.state = "failed"
        db.session.commit()
        raise
    now = heartbeats.utcnow()
    sent = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
    sent.state, sent.sent_at = "sent", now
    done = db.session.get(QuotationEmail, email_id)
    done.state, done.sent_at = "sent", now
    db.session.commit()
    return "sent"


def sweep_quotations() -> str:
    """Periodic: expire sent quotations past their date, queue the "about to expire"
    emails, and queue again the emails whose job was lost."""
    return heartbeats.run_periodic(SWEEP, lambda: _sweep(date.today()))


def _live_job_ids() -> set[str]:
    queue = jobs.get_queue()
    live = set(queue.get_job_ids())
    for registry in (
        queue.started_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
    ):
        live.update(registry.get_job_ids())
    return live


def _sweep(today: date) -> str:
    expired = service.expire_quotations(today)
    reminders = service.queue_reminders(today)
    db.session.commit()
    lost = service.unsent_emails(heartbeats.utcnow() - LOST_AFTER)
    requeued = 0
    if lost:
        live = _live_job_ids()
        for email in lost:
            if job_id(email.id) not in live:
                jobs.get_queue().enqueue(
                    send_quotation_email,
                    email.id,
                    job_id=job_id(email.id),
                    retry=jobs.default_retry(),
                )
                requeued += 1
    return f"{expired} expired, {reminders} reminders, {requeued} emails queued again"
