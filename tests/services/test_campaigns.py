"""Campaigns (issue 17, SPEC B2): target filters and count, the frozen list, batched
sending with the at-least-once rule, pause and resume, unsubscribe, responses and
statistics, against a real session."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.campaigns import service, tokens
from b2bshop.campaigns.markdown import render
from b2bshop.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
    Response,
)
from b2bshop.campaigns.targets import TargetFilter, count_targets
from b2bshop.extensions import db
from b2bshop.relationships.models import FollowUpTask, PartyKind
from b2bshop.sales.models import SalesOrder
from tasks import campaigns as campaign_jobs
from tests import factories


@pytest.fixture
def admin(app_ctx):
    return factories.user("admin@store.example", role=Role.STORE_ADMIN)


def _campaign(admin, target: TargetFilter | None = None, channel: str = "email") -> Campaign:
    data = service.CampaignInput(
        name="Spring offer",
        channel=channel,
        target=target or TargetFilter(),
        messages={
            "en": ("Spring offer", "**10 %** off, see [our shop](https://shop.example)."),
            "fr": ("Offre de printemps", "**10 %** de remise."),
        },
    )
    campaign = service.save_campaign(admin, None, data)
    db.session.commit()
    return campaign


def _people():
    lead = factories.party("lead", country="NL")
    prospect = factories.party("prospect", country="FR")
    customer = factories.customer("Buyer Co")
    client = factories.party("customer", country="NL", customer=customer)
    contacts = {
        "lead": factories.contact(lead, "lead@x.example"),
        "lead_fr": factories.contact(lead, "lead.fr@x.example", language="fr"),
        "prospect": factories.contact(prospect, "prospect@x.example", language="fr"),
        "customer": factories.contact(client, "customer@x.example"),
        "no_consent": factories.contact(lead, "quiet@x.example", consent=False),
        "unsubscribed": factories.contact(prospect, "gone@x.example"),
    }
    contacts["unsubscribed"].unsubscribed_at = datetime.now()
    db.session.flush()
    return lead, prospect, client, customer, contacts


def test_the_target_filter_counts_only_consenting_subscribed_contacts(admin):
    _lead, _prospect, _client, customer, _contacts = _people()
    assert count_targets(TargetFilter()) == 4
    assert count_targets(TargetFilter(kinds=("lead",))) == 2
    assert count_targets(TargetFilter(kinds=("prospect", "customer"))) == 2
    assert count_targets(TargetFilter(country="FR")) == 1
    assert count_targets(TargetFilter(language="fr")) == 2
    factories.invoice(customer)  # unpaid
    assert count_targets(TargetFilter(open_invoices="yes")) == 1
    assert count_targets(TargetFilter(open_invoices="no")) == 3
    # Last order before a day: customers who ordered, not since.
    assert count_targets(TargetFilter(last_order_before=date.today())) == 0
    order = SalesOrder(
        number="SO-1", customer=customer, order_date=date.today() - timedelta(days=90),
        payment_terms=customer.payment_terms, currency="EUR", total=0,
    )  # fmt: skip
    db.session.add(order)
    db.session.flush()
    assert count_targets(TargetFilter(last_order_before=date.today() - timedelta(days=30))) == 1
    assert count_targets(TargetFilter(last_order_before=date.today() - timedelta(days=120))) == 0


def test_markdown_is_rendered_without_html_or_script_links():
    html = str(render("# Hi <script>alert(1)</script>\n\n[x](javascript:alert(1)) **b**"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert "<strong>b</strong>" in html


def test_sending_freezes_the_list_and_sends_each_contact_once(admin, outbox):
    _people()
    db.session.commit()
    campaign = _campaign(admin)
    assert service.start(admin, campaign.id) == 4
    db.session.commit()
    assert campaign.status == CampaignStatus.SENDING
    # Contacts added after the start are not on the list.
    factories.contact(factories.party("lead"), "late@x.example")
    db.session.commit()
    first, last = service.unfinished_batches(campaign.id)[0]
    assert campaign_jobs.send_batch(campaign.id, first, last) == "4 sent, 0 refused"
    assert campaign_jobs.send_batch(campaign.id, first, last) == "stopped: 0 sent, 0 refused"
    assert sorted(m.to[0] for m in outbox) == [
        "customer@x.example", "lead.fr@x.example", "lead@x.example", "prospect@x.example",
    ]  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DONE
    progress = service.progress(campaign.id)
    assert (progress.sent, progress.failed, progress.remaining, progress.percent) == (4, 0, 0, 100)
    french = next(m for m in outbox if m.to == ["prospect@x.example"])
    assert french.subject == "Offre de printemps"
    assert french.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = french.extra_headers["List-Unsubscribe"].strip("<>")
    assert "/unsubscribe/" in link and link in french.body
    english = next(m for m in outbox if m.to == ["lead@x.example"])
    assert english.subject == "Spring offer"
    assert "<strong>10 %</strong>" in english.alternatives[0][0]
    with pytest.raises(service.CampaignConflict):
        service.start(admin, campaign.id)


def test_a_campaign_without_targets_is_refused_and_stays_a_draft(admin):
    campaign = _campaign(admin)
    with pytest.raises(service.CampaignInvalid):
        service.start(admin, campaign.id)
    db.session.rollback()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT
    assert db.session.scalar(select(func.count(CampaignRecipient.id))) == 0


def test_pause_stops_the_batches_and_resume_sends_the_rest(admin, outbox, app):
    lead = factories.party("lead")
    for n in range(30):
        factories.contact(lead, f"c{n}@x.example")
    db.session.commit()
    campaign = _campaign(admin)
    service.start(admin, campaign.id)
    db.session.commit()
    service.pause(admin, campaign.id)
    db.session.commit()
    with pytest.raises(service.CampaignConflict):
        service.pause(admin, campaign.id)
    db.session.rollback()
    first, last = service.unfinished_batches(campaign.id)[0]
    assert campaign_jobs.send_batch(campaign.id, first, last).startswith("stopped: 0 sent")
    assert outbox == []
    service.resume(admin, campaign.id)
    db.session.commit()
    campaign_jobs.send_batch(campaign.id, first, last)
    assert len(outbox) == 30 and len({m.to[0] for m in outbox}) == 30


def test_a_dead_workers_claimed_recipients_are_sent_again_after_the_lease(admin, outbox, app):
    lead = factories.party("lead")
    for n in range(3):
        factories.contact(lead, f"d{n}@x.example")
    db.session.commit()
    campaign = _campaign(admin)
    service.start(admin, campaign.id)
    db.session.commit()
    first, last = service.unfinished_batches(campaign.id)[0]
    claimed = service.claim(campaign.id, first, last, 20)
    message_ids = {r.id: r.message_id for r in claimed}
    db.session.commit()  # the intent; then the worker "dies"
    # Under a live lease nobody takes them; the batch has nothing to do.
    assert service.unfinished_batches(campaign.id) == []
    assert campaign_jobs.send_batch(campaign.id, first, last) == "0 sent, 0 refused"
    for row in db.session.scalars(select(CampaignRecipient)):
        row.lease_expires_at = row.lease_expires_at - timedelta(hours=1)
    db.session.commit()
    assert service.unfinished_batches(campaign.id) == [(first, last)]
    assert campaign_jobs.send_batch(campaign.id, first, last) == "3 sent, 0 refused"
    rows = db.session.scalars(select(CampaignRecipient)).all()
    assert all(r.sends == 2 and r.message_id == message_ids[r.id] for r in rows)
    assert sorted(str(m.extra_headers["Message-ID"]) for m in outbox) == sorted(
        message_ids.values()
    )


def test_unsubscribe_is_idempotent_and_removes_the_contact_from_later_campaigns(admin):
    _people()
    db.session.commit()
    campaign = _campaign(admin)
    service.start(admin, campaign.id)
    db.session.commit()
    row = db.session.scalar(
        select(CampaignRecipient).where(CampaignRecipient.email == "lead@x.example")
    )
    assert tokens.recipient_id_from(tokens.token_for(row.id)) == row.id
    assert tokens.recipient_id_from(tokens.token_for(row.id) + "x") is None
    service.unsubscribe(row.id)
    service.unsubscribe(row.id)
    db.session.commit()
    assert row.contact.unsubscribed_at is not None and row.unsubscribed_at is not None
    assert count_targets(TargetFilter()) == 3
    assert service.statistics(campaign.id).unsubscribed == 1


def test_responses_open_a_follow_up_once_and_statistics_count_them(admin, app):
    _lead, prospect, _client, customer, _contacts = _people()
    db.session.commit()
    campaign = _campaign(admin)
    service.start(admin, campaign.id)
    db.session.commit()
    first, last = service.unfinished_batches(campaign.id)[0]
    campaign_jobs.send_batch(campaign.id, first, last)
    rows = {r.email: r for r in db.session.scalars(select(CampaignRecipient))}
    # From the email's link (no user): the first answer stands.
    service.respond(None, rows["prospect@x.example"].id, "interested")
    service.respond(None, rows["prospect@x.example"].id, "not_interested")
    service.respond(None, rows["prospect@x.example"].id, "interested")
    db.session.commit()
    assert rows["prospect@x.example"].response == Response.INTERESTED
    tasks = db.session.scalars(select(FollowUpTask)).all()
    assert [t.party_id for t in tasks] == [prospect.id]
    # A store admin records a bounce and a phone answer.
    service.respond(admin, rows["lead@x.example"].id, "bounced")
    service.respond(admin, rows["lead.fr@x.example"].id, "not_interested", "Called: no budget")
    db.session.commit()
    # An interested customer: a draft quotation when the quotations issue is there, else a task.
    service.respond(None, rows["customer@x.example"].id, "interested")
    db.session.commit()
    try:
        from b2bshop.quotations.models import Quotation
    except ImportError:
        assert db.session.scalar(select(func.count(FollowUpTask.id))) == 2
    else:
        [quotation] = db.session.scalars(select(Quotation)).all()
        assert quotation.customer_id == customer.id and quotation.status.value == "draft"
    with pytest.raises(service.CampaignInvalid):
        service.respond(admin, rows["lead@x.example"].id, "maybe")
    db.session.rollback()
    # The prospect converts: counted as converted.
    prospect.kind = PartyKind.CUSTOMER
    db.session.commit()
    stats = service.statistics(campaign.id)
    assert (stats.recipients, stats.sent, stats.delivered) == (4, 4, 3)
    assert (stats.responded, stats.interested, stats.converted) == (3, 2, 1)


def test_a_mailing_records_the_list_without_sending(admin, outbox):
    _people()
    db.session.commit()
    campaign = _campaign(admin, channel="telemarketing")
    assert service.start(admin, campaign.id) == 4
    db.session.commit()
    assert campaign.status == CampaignStatus.DONE and outbox == []
    states = set(db.session.scalars(select(CampaignRecipient.state)))
    assert states == {RecipientState.LISTED}
    assert service.progress(campaign.id).percent == 100


def test_bench_contacts_are_generated_and_counted(app_ctx):
    from b2bshop import benchdata

    factories.customer("Bench customer")
    counts = benchdata.generate_contacts(300, seed=1)
    db.session.commit()
    assert counts == {"parties": 150, "contacts": 300}
    targeted = count_targets(TargetFilter())
    assert 200 < targeted < 300  # about 87 % consent and are still subscribed
    assert count_targets(TargetFilter(kinds=("customer",))) == 2  # the one customer's party
    with pytest.raises(benchdata.NotEmpty):
        benchdata.generate_contacts(10)


def test_a_refusing_mail_server_retries_then_fails_a_recipient_and_sends_the_rest(
    admin, outbox, monkeypatch
):
    import smtplib

    from b2bshop.requests import delivery

    lead = factories.party("lead")
    factories.contact(lead, "refused@x.example")
    factories.contact(lead, "fine@x.example")
    db.session.commit()
    campaign = _campaign(admin)
    service.start(admin, campaign.id)
    db.session.commit()
    send = delivery.send

    def refusing(message):  # type: ignore[no-untyped-def]
        if message.to == ["refused@x.example"]:
            raise smtplib.SMTPDataError(554, b"Refused")
        return send(message)

    monkeypatch.setattr(delivery, "send", refusing)
    first, last = service.unfinished_batches(campaign.id)[0]
    assert campaign_jobs.send_batch(campaign.id, first, last) == "1 sent, 3 refused"
    rows = {r.email: r for r in db.session.scalars(select(CampaignRecipient))}
    refused = rows["refused@x.example"]
    assert refused.state == RecipientState.FAILED and refused.sends == campaign_jobs.MAX_SENDS
    assert "554" in refused.last_error
    assert rows["fine@x.example"].state == RecipientState.SENT
    assert [m.to for m in outbox] == [["fine@x.example"]]
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.DONE
    progress = service.progress(campaign.id)
    assert (progress.sent, progress.failed, progress.percent) == (1, 1, 100)


def test_batches_lost_with_the_queue_are_queued_again_by_the_sync(admin, app):
    from b2bshop import jobs

    lead = factories.party("lead")
    for n in range(5):
        factories.contact(lead, f"q{n}@x.example")
    db.session.commit()
    campaign = _campaign(admin)
    queue = jobs.get_queue()
    queue.empty()
    service.start(admin, campaign.id)
    db.session.commit()
    assert [j.func_name for j in queue.jobs] == ["tasks.campaigns.send_batch"]
    queue.empty()  # the queue lost them (Redis restarted without persistence)
    assert "1 campaign batches queued again" in campaign_jobs.sync_campaigns()
    assert [j.args for j in queue.jobs] == [
        (campaign.id, *service.unfinished_batches(campaign.id)[0])
    ]
    # A live job for the batch: nothing more is queued.
    assert "0 campaign batches queued again" in campaign_jobs.sync_campaigns()
    queue.empty()
