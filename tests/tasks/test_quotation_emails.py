"""The buyer's quotation emails (issue 18): "quotation sent" and "about to expire", through
the at-least-once delivery (requests/delivery.py, a sent_emails intent before SMTP): a mail
server that refuses, a queue that is down, a duplicate job."""

from __future__ import annotations

import os
import smtplib
from datetime import date, timedelta
from decimal import Decimal

import pytest
import redis
from sqlalchemy import select, update

from b2bshop import heartbeats, jobs
from b2bshop.accounts.models import Customer, User
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.quotations import service
from b2bshop.quotations.models import QuotationEmail, QuotationEmailKind
from b2bshop.quotations.service import QuoteLineInput
from b2bshop.requests import delivery
from b2bshop.requests.models import SentEmail
from tasks import quotations as quotation_jobs

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def _sent_quotation(app, valid_days: int = 10) -> int:
    """A quotation for Contoso, requested by its buyer and sent; its email's id."""
    with app.app_context():
        buyer = db.session.scalar(select(User).where(User.email == "buyer@contoso.example"))
        admin = db.session.scalar(select(User).where(User.email == "admin@b2bshop.example"))
        customer = db.session.get(Customer, buyer.customer_id)
        product = db.session.scalar(select(Product).where(Product.sku == "OFF-PAP-A4"))
        quotation = service.create_draft(admin, customer)
        quotation.requested_by_id = buyer.id
        service.save_quotation(
            admin,
            quotation,
            [QuoteLineInput(product.id, 4, Decimal("20.00"))],
            valid_until=date.today() + timedelta(days=valid_days),
            note="Thanks for asking.",
        )
        service.send_quotation(admin, quotation)
        db.session.commit()
        return db.session.scalar(
            select(QuotationEmail.id).where(QuotationEmail.quotation_id == quotation.id)
        )


def test_refused_then_retried_with_the_same_message_id(app, demo, outbox, monkeypatch):
    email_id = _sent_quotation(app)

    def refuse(message):
        raise smtplib.SMTPDataError(451, b"try again later")

    monkeypatch.setattr(delivery, "send", refuse)
    with app.app_context():
        with pytest.raises(smtplib.SMTPDataError):
            quotation_jobs.send_quotation_email(email_id)
        db.session.remove()
        email = db.session.get(QuotationEmail, email_id)
        assert (email.state, email.attempts) == ("pending", 1)
        assert "451" in email.last_error
        intent = db.session.scalar(select(SentEmail).where(SentEmail.key.like("quotation-email-%")))
        first_id = intent.message_id
        assert intent.state == "sending"
    monkeypatch.undo()
    with app.app_context():
        assert quotation_jobs.send_quotation_email(email_id) == "sent"
        assert quotation_jobs.send_quotation_email(email_id) == "nothing to do"
        intent = db.session.scalar(select(SentEmail).where(SentEmail.key.like("quotation-email-%")))
        assert (intent.state, intent.sends, intent.message_id) == ("sent", 2, first_id)
    assert len(outbox) == 1
    assert outbox[0].extra_headers["Message-ID"] == first_id
    assert outbox[0].to == ["buyer@contoso.example"]


def test_gives_up_after_the_last_attempt(app, demo, monkeypatch):
    email_id = _sent_quotation(app)
    app.config["REQUEST_MAX_ATTEMPTS"], before = 2, app.config["REQUEST_MAX_ATTEMPTS"]

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused({"x": (550, b"no")})

    monkeypatch.setattr(delivery, "send", refuse)
    try:
        with app.app_context():
            for _ in range(2):
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    quotation_jobs.send_quotation_email(email_id)
                db.session.remove()
            assert db.session.get(QuotationEmail, email_id).state == "failed"
            assert quotation_jobs.send_quotation_email(email_id) == "nothing to do"
    finally:
        app.config["REQUEST_MAX_ATTEMPTS"] = before


def test_reminder_in_the_buyers_language(app, demo, outbox):
    _sent_quotation(app, valid_days=2)
    with app.app_context():
        db.session.execute(
            update(User).where(User.email == "buyer@contoso.example").values(locale="nl")
        )
        db.session.commit()
        assert service.queue_reminders(date.today()) == 1
        db.session.commit()
        reminder = db.session.scalar(
            select(QuotationEmail.id).where(QuotationEmail.kind == QuotationEmailKind.EXPIRING)
        )
        assert quotation_jobs.send_quotation_email(reminder) == "sent"
    assert "verloopt binnenkort" in outbox[0].subject
    assert "kan hij niet meer worden geaccepteerd" in outbox[0].body


@pytest.mark.redis
def test_queue_down_keeps_the_email_and_the_sweep_queues_it(make_app, demo, app):
    """Redis unreachable when the admin sends: the quotation is sent (the email's intent is
    committed with it); once Redis is back, the sweep queues the email and a worker sends it,
    once."""
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with down.app_context():
        email_id = _sent_quotation(down)
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    back = make_app(REDIS_URL=REDIS_URL)
    try:
        with back.app_context():
            # Not lost yet: a job may still be on its way.
            assert quotation_jobs.sweep_quotations().endswith("0 emails queued again")
            an_hour_ago = heartbeats.utcnow() - timedelta(hours=1)
            db.session.execute(update(QuotationEmail).values(created_at=an_hour_ago))
            db.session.commit()
            assert quotation_jobs.sweep_quotations().endswith("1 emails queued again")
            assert quotation_jobs.sweep_quotations().endswith("0 emails queued again")
            jobs.make_worker(back).work(burst=True)
            assert db.session.get(QuotationEmail, email_id).state == "sent"
        assert len(back.extensions["mailman"].outbox) == 1
    finally:
        conn.flushdb()
