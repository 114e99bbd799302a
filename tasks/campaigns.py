"""Campaign emails: thin jobs that take ids (campaigns/service.py holds the rules).

Each email goes out **at least once, never skipped; a rare duplicate carries the same
Message-ID**, the invoice emails' rule (tasks/requests.py):

1. A batch job claims a few recipients of its id range under a row lock (SKIP LOCKED, so
   two workers never take the same one): "sending", a lease, a Message-ID. Committed.
2. It sends each, outside any transaction; the send returns only once the mail server
   accepted the message (b2bshop/requests/delivery.py).
3. Then the recipient is "sent", in its own commit.

A worker killed anywhere leaves its claimed recipients "sending" under a lease; when it
expires, the campaign sync job queues their batch again and the next job sends them with
the same Message-ID. Only a worker that died between the server's reply and step 3 makes a
second email of one recipient.
"""

from __future__ import annotations

import logging

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMultiAlternatives

from b2bshop import jobs
from b2bshop.campaigns import service, tokens
from b2bshop.campaigns.markdown import render as render_markdown
from b2bshop.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from b2bshop.core.faults import crash_point
from b2bshop.extensions import db
from b2bshop.requests import delivery

log = logging.getLogger(__name__)

#: Recipients claimed per commit: a dead worker leaves at most this many to the sync.
CLAIM = 20
#: SMTP conversations before a recipient counts as failed.
MAX_SENDS = 3


def _store_url(path: str) -> str:
    return current_app.config["STORE_URL"].rstrip("/") + path


def build_email(
    campaign: Campaign, recipient: CampaignRecipient, cache: dict
) -> EmailMultiAlternatives:
    message = campaign.message_for(recipient.language)
    token = tokens.token_for(recipient.id)
    if "urls" not in cache:
        # Built once a job: a request context per email would cost more than the email.
        with current_app.test_request_context():
            cache["urls"] = {
                "unsubscribe": _store_url(url_for("campaigns.unsubscribe", token="TOKEN")),
                **{
                    r: _store_url(url_for("campaigns.respond", token="TOKEN", response=r))
                    for r in ("interested", "not_interested")
                },
            }
    urls = {name: url.replace("TOKEN", token) for name, url in cache["urls"].items()}
    unsubscribe = urls.pop("unsubscribe")
    respond = urls
    if message.language not in cache:
        cache[message.language] = render_markdown(message.body)
    with force_locale(recipient.language):
        context = {
            "campaign": campaign,
            "message": message,
            "body_html": cache[message.language],
            "unsubscribe_url": unsubscribe,
            "respond_urls": respond,
            "store_name": current_app.config["STORE_NAME"],
        }
        text = render_template("emails/campaign.txt", **context)
        html = render_template("emails/campaign.html", **context)
    email = EmailMultiAlternatives(
        message.subject,
        text,
        to=[recipient.email],
        headers={
            "Message-ID": recipient.message_id,
            "X-B2B-Key": f"campaign-{campaign.id}-{recipient.id}",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(html, "text/html")
    return email


def send_batch(campaign_id: int, first_id: int, last_id: int) -> str:
    """Send the recipients of one id range; stop when the campaign is paused."""
    sent = failed = 0
    cache: dict = {}
    while True:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            db.session.rollback()
            return f"stopped: {sent} sent, {failed} refused"
        claimed = service.claim(campaign_id, first_id, last_id, CLAIM)
        ids = [r.id for r in claimed]
        messages = [build_email(campaign, r, cache) for r in claimed]
        # The intents (state "sending", Message-IDs) before any SMTP conversation.
        db.session.commit()
        if not ids:
            break
        for recipient_id, message in zip(ids, messages, strict=True):
            try:
                delivery.send(message)
            except Exception as exc:
                log.warning("campaign %s: recipient %s refused: %s", campaign_id, recipient_id, exc)
                db.session.rollback()
                service.mark_refused(recipient_id, f"{type(exc).__name__}: {exc}", MAX_SENDS)
                db.session.commit()
                failed += 1
                continue
            crash_point("after_accept")
            service.mark_sent(recipient_id)
            db.session.commit()
            sent += 1
            if sent == 5:
                crash_point("campaign_mid_batch")
    if service.finish_if_done(campaign_id):
        log.info("campaign %s: every recipient done", campaign_id)
    db.session.commit()
    return f"{sent} sent, {failed} refused"


def sync_campaigns() -> str:
    """Queue again the batches of sending campaigns that have recipients to send and no
    live job: their worker died (lease expired), or the queue was down at commit."""
    queue = jobs.get_queue()
    live = set(queue.get_job_ids())
    for registry in (
        queue.started_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
    ):
        live.update(registry.get_job_ids())
    queued = 0
    campaigns = db.session.scalars(
        db.select(Campaign).where(Campaign.status == CampaignStatus.SENDING).order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        queued += service.enqueue_batches(campaign, live)
        service.finish_if_done(campaign.id)
    from tasks.relationships import requeue_rejections

    rejections = requeue_rejections(live)
    db.session.commit()
    return f"{queued} campaign batches queued again, {rejections} rejection emails"
