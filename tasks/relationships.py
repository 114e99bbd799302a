"""The rejection email of an account application: at least once, never lost (the invoice
emails' rule, tasks/requests.py): the intent (sent_emails, state "sending", Message-ID)
is committed before the SMTP conversation, "sent" once the mail server accepted it."""

from __future__ import annotations

from email.utils import make_msgid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMultiAlternatives
from sqlalchemy import select

from b2bshop import heartbeats, jobs
from b2bshop.extensions import db
from b2bshop.relationships import service
from b2bshop.relationships.models import AccountApplication, ApplicationStatus
from b2bshop.requests import delivery
from b2bshop.requests.models import SentEmail

JOB = "tasks.relationships.send_rejection_email"


def _key(application_id: int) -> str:
    return f"application-rejected-{application_id}"


def send_rejection_email(application_id: int) -> str:
    application = db.session.get(AccountApplication, application_id)
    if application is None or application.status != ApplicationStatus.REJECTED:
        return "nothing to do"
    key = _key(application_id)
    intent = db.session.scalar(
        select(SentEmail)
        .where(SentEmail.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if intent is None:
        domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN", "b2bshop.local")
        intent = SentEmail(key=key, state="sending", message_id=make_msgid("b2b", domain), sends=0)
        db.session.add(intent)
    if intent.state == "sent":
        db.session.rollback()
        return "sent earlier"
    intent.sends += 1
    message = build_rejection_email(application, intent.message_id, key)
    db.session.commit()
    delivery.send(message)
    intent = db.session.scalar(select(SentEmail).where(SentEmail.key == key))
    intent.state = "sent"
    intent.sent_at = heartbeats.utcnow()
    db.session.commit()
    return "sent"


def build_rejection_email(
    application: AccountApplication, message_id: str, key: str
) -> EmailMultiAlternatives:
    contact = application.contact
    store = current_app.config["STORE_NAME"]
    with force_locale(contact.language):
        context = {
            "application": application,
            "contact": contact,
            "party": application.party,
            "store_name": store,
        }
        subject = _("Your application for a business account at %(store)s", store=store)
        text = render_template("emails/application_rejected.txt", **context)
        html = render_template("emails/application_rejected.html", **context)
    message = EmailMultiAlternatives(
        subject, text, to=[contact.email], headers={"Message-ID": message_id, "X-B2B-Key": key}
    )
    message.attach_alternative(html, "text/html")
    return message


def requeue_rejections(live_job_ids: set[str]) -> int:
    """Rejections whose email is not accepted yet and has no live job (called by
    tasks.campaigns.sync_campaigns)."""
    count = 0
    for application_id in service.unsent_rejections():
        job_id = f"application-rejected-{application_id}"
        if job_id in live_job_ids:
            continue
        jobs.enqueue_after_commit(JOB, application_id, job_id=job_id, retry=jobs.default_retry())
        count += 1
    return count
