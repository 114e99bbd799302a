"""Campaign pages (issue 17): create with a saved target filter and the count before
sending, start, the HTMX progress bar, pause and resume, responses, the public
unsubscribe and respond links; each refusal changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.campaigns import service, tokens
from b2bshop.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from b2bshop.extensions import db
from b2bshop.relationships.models import Contact
from tasks import campaigns as campaign_jobs
from tests import factories
from tests.web.test_query_counts import count_queries

FRAGMENT = {"HX-Request": "true"}
FORM = {
    "name": "Autumn <i>offer</i>",
    "channel": "email",
    "kind_lead": "y",
    "kind_prospect": "y",
    "kind_customer": "y",
    "country": "",
    "language": "",
    "open_invoices": "",
    "last_order_before": "",
    "subject_en": "Autumn offer",
    "body_en": "Hello <script>alert(1)</script> **friends**",
    "subject_fr": "",
    "body_fr": "",
    "subject_nb": "",
    "body_nb": "",
    "subject_nl": "",
    "body_nl": "",
}


@pytest.fixture
def admin(app, client, login):
    with app.app_context():
        factories.user("boss@example.com", password="pw", role=Role.STORE_ADMIN)
        lead = factories.party("lead")
        for n in range(3):
            factories.contact(lead, f"c{n}@lead.example")
        factories.contact(lead, "quiet@lead.example", consent=False)
        db.session.commit()
    return login("boss@example.com", "pw")


def _campaign_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(Campaign.id)))


def _send_all(app) -> None:
    with app.app_context():
        campaign_id = db.session.scalar(select(func.max(Campaign.id)))
        for first, last in service.unfinished_batches(campaign_id):
            campaign_jobs.send_batch(campaign_id, first, last)
        db.session.remove()


def test_a_campaign_is_created_with_its_count_and_sent_with_a_progress_bar(admin, app, outbox):
    refused = admin.post("/admin/campaigns/new", data={**FORM, "name": "", "body_en": ""})
    assert refused.status_code == 422 and "There is a problem" in refused.get_data(as_text=True)
    half = admin.post("/admin/campaigns/new", data={**FORM, "body_en": ""})
    assert half.status_code == 422 and "both a subject and a text" in half.get_data(as_text=True)
    assert _campaign_id(app) is None
    assert admin.post("/admin/campaigns/new", data=FORM).status_code == 302
    campaign_id = _campaign_id(app)
    page = admin.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "3 contacts match the target." in page
    assert "Autumn &lt;i&gt;offer&lt;/i&gt;" in page and "<i>offer" not in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert "<strong>friends</strong>" in page  # Markdown, safely
    edit = admin.post(f"/admin/campaigns/{campaign_id}/edit", data={**FORM, "name": "Autumn"})
    assert edit.status_code == 302

    assert admin.post(f"/admin/campaigns/{campaign_id}/start").status_code == 302
    twice = admin.post(f"/admin/campaigns/{campaign_id}/start")
    assert twice.status_code == 409 and "already started" in twice.get_data(as_text=True)
    locked = admin.post(f"/admin/campaigns/{campaign_id}/edit", data=FORM)
    assert locked.status_code == 409  # a stale edit page: a started campaign is not edited
    assert "cannot be changed" in locked.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).name == "Autumn"
    fragment = admin.get(f"/admin/campaigns/{campaign_id}/progress", headers=FRAGMENT)
    html = fragment.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html and 'data-percent="0"' in html
    assert "Remaining: 3" in html and "<html" not in html
    plain = admin.get(f"/admin/campaigns/{campaign_id}/progress")
    assert plain.status_code == 302  # without JavaScript: the page itself, reloaded

    _send_all(app)
    html = admin.get(f"/admin/campaigns/{campaign_id}/progress", headers=FRAGMENT).get_data(
        as_text=True
    )
    assert 'data-percent="100"' in html and "hx-trigger" not in html  # polling stops
    assert "Sent: 3" in html and "Remaining: 0" in html
    assert len(outbox) == 3
    page = admin.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert re.search(r'id="stat-sent">3<', page)


def test_pause_and_resume_are_guarded(admin, app):
    admin.post("/admin/campaigns/new", data=FORM)
    campaign_id = _campaign_id(app)
    assert admin.post(f"/admin/campaigns/{campaign_id}/pause").status_code == 409  # a draft
    admin.post(f"/admin/campaigns/{campaign_id}/start")
    assert admin.post(f"/admin/campaigns/{campaign_id}/resume").status_code == 409
    assert admin.post(f"/admin/campaigns/{campaign_id}/pause").status_code == 302
    assert admin.post(f"/admin/campaigns/{campaign_id}/pause").status_code == 409
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).status == CampaignStatus.PAUSED
    assert admin.post(f"/admin/campaigns/{campaign_id}/resume").status_code == 302
    assert admin.post("/admin/campaigns/999999/pause").status_code == 404


def test_an_admin_records_a_response_and_other_ids_are_not_found(admin, app):
    admin.post("/admin/campaigns/new", data=FORM)
    campaign_id = _campaign_id(app)
    admin.post(f"/admin/campaigns/{campaign_id}/start")
    _send_all(app)
    with app.app_context():
        recipient_id = db.session.scalar(select(func.min(CampaignRecipient.id)))
    url = f"/admin/campaigns/{campaign_id}/recipients/{recipient_id}/response"
    assert admin.post(url, data={"response": "maybe"}).status_code == 422
    ok = admin.post(url, data={"response": "bounced", "note": "Mailbox full"})
    assert ok.status_code == 302
    assert (
        admin.post(
            f"/admin/campaigns/999/recipients/{recipient_id}/response", data={"response": "bounced"}
        ).status_code
        == 404
    )
    page = admin.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Mailbox full" in page and re.search(r'id="stat-delivered">2<', page)


def test_the_campaign_list_costs_the_same_queries_for_2_or_20(admin, app):
    def make(n: int) -> None:
        with app.app_context():
            for i in range(n):
                db.session.add(Campaign(name=f"C{i}", channel="email", target_filter={}))
            db.session.commit()

    make(2)
    with count_queries(app) as small:
        assert admin.get("/admin/campaigns", headers=FRAGMENT).status_code == 200
    make(18)
    with count_queries(app) as large:
        page = admin.get("/admin/campaigns", headers=FRAGMENT)
    assert "20 campaigns" in page.get_data(as_text=True)
    assert len(small) == len(large) <= 5, large
    filtered = admin.get("/admin/campaigns?status=draft&q=C1", headers=FRAGMENT)
    assert filtered.headers["HX-Push-Url"] == "/admin/campaigns?q=C1&status=draft"


def _recipient_token(app, admin) -> tuple[str, int]:
    admin.post("/admin/campaigns/new", data=FORM)
    campaign_id = _campaign_id(app)
    admin.post(f"/admin/campaigns/{campaign_id}/start")
    with app.app_context():
        row = db.session.scalar(select(CampaignRecipient).order_by(CampaignRecipient.id))
        return tokens.token_for(row.id), row.contact_id


def test_unsubscribe_takes_one_click_without_signing_in(admin, app, make_app):
    token, contact_id = _recipient_token(app, admin)
    visitor = make_app(WTF_CSRF_ENABLED=True).test_client()
    page = visitor.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "c0@lead.example" in page.get_data(as_text=True)
    assert visitor.get(f"/unsubscribe/{token}x").status_code == 404
    # A form post without its token is refused like any other...
    assert visitor.post(f"/unsubscribe/{token}").status_code == 400
    # ...a mail client's RFC 8058 one-click POST carries none and is taken.
    one_click = visitor.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.get_data(
        as_text=True
    )
    again = visitor.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    with app.app_context():
        assert db.session.get(Contact, contact_id).unsubscribed_at is not None
    assert "You are unsubscribed" in visitor.get(f"/unsubscribe/{token}").get_data(as_text=True)


def test_the_respond_link_asks_then_records_the_first_answer(admin, app, client):
    token, _contact_id = _recipient_token(app, admin)
    admin.post("/logout")
    page = client.get(f"/respond/{token}?response=interested")
    assert page.status_code == 200 and "I am interested" in page.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(CampaignRecipient.response.is_not(None)))
            == 0
        )
    assert client.post(f"/respond/{token}", data={"response": "bounced"}).status_code == 422
    done = client.post(f"/respond/{token}", data={"response": "interested"})
    assert done.status_code == 200 and 'data-response="interested"' in done.get_data(as_text=True)
    client.post(f"/respond/{token}", data={"response": "not_interested"})
    with app.app_context():
        row = db.session.scalar(
            select(CampaignRecipient).where(CampaignRecipient.response.is_not(None))
        )
        assert row.response.value == "interested"
    assert client.get("/respond/nonsense").status_code == 404


def test_the_recipients_list_pages_filters_and_keeps_its_place_after_a_response(admin, app):
    with app.app_context():
        lead = factories.party("lead")
        for n in range(30):
            factories.contact(lead, f"r{n:02d}@call.example")
        db.session.commit()
    admin.post("/admin/campaigns/new", data={**FORM, "channel": "telemarketing"})
    campaign_id = _campaign_id(app)
    admin.post(f"/admin/campaigns/{campaign_id}/start")
    url = f"/admin/campaigns/recipients?campaign={campaign_id}"
    with count_queries(app) as statements:
        page = admin.get(url, headers=FRAGMENT)
    html = page.get_data(as_text=True)
    assert "33 recipients" in html and html.count('id="recipient-') == 25
    assert page.headers["HX-Push-Url"] == url
    with count_queries(app) as one_row:
        assert "1 recipient" in admin.get(f"{url}&q=r07", headers=FRAGMENT).get_data(as_text=True)
    # The session user, the entity, the campaign choices, the count, the page and its
    # parties and campaigns in one query each: never per row.
    assert len(statements) == len(one_row) <= 8, statements
    second = re.search(r'href="(/admin/campaigns/recipients\?after=[^"]+)"', html).group(1)
    assert (
        admin.get(second.replace("&amp;", "&")).get_data(as_text=True).count('id="recipient-') == 8
    )
    with app.app_context():
        recipient_id = db.session.scalar(
            select(CampaignRecipient.id).where(CampaignRecipient.email == "r07@call.example")
        )
    answered = admin.post(
        f"/admin/campaigns/{campaign_id}/recipients/{recipient_id}/response",
        data={"response": "interested", "note": "Call back Monday", "back": url},
    )
    assert answered.status_code == 302 and answered.headers["Location"] == url
    elsewhere = admin.post(
        f"/admin/campaigns/{campaign_id}/recipients/{recipient_id}/response",
        data={"response": "interested", "back": "https://evil.example/"},
    )
    assert elsewhere.headers["Location"].endswith(f"/admin/campaigns/{campaign_id}")
    found = admin.get(f"{url}&response=interested&q=r07").get_data(as_text=True)
    assert "1 recipient" in found and "Call back Monday" in found
    assert "32 recipients" in admin.get(f"{url}&response=none").get_data(as_text=True)
    assert "33 recipients" in admin.get(f"{url}&campaign=999999x").get_data(as_text=True)


def test_the_campaign_form_names_each_message_in_its_own_language(admin):
    html = admin.get("/admin/campaigns/new").get_data(as_text=True)
    legends = re.findall(r"<legend>Message in ([^<]+)</legend>", html)
    assert legends == ["English", "Français", "Norsk bokmål", "Nederlands"]
