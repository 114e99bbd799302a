"""Campaigns in Chromium (issue 17), on the live server whose jobs run: a store admin
writes a campaign, sees the target count, sends it and watches the progress bar (HTMX
polling, no reload) reach 100 %; a contact unsubscribes with the email's link, without
signing in. Then the accessibility scans of the campaign pages and the public links."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Page, expect

from b2bshop.extensions import db
from tests import factories
from tests.e2e.test_accessibility import Scanner
from tests.e2e.test_requests import read_mail

ADMIN = "admin@b2bshop.example"
CONTACTS = 12


def contacts(app: Flask) -> None:
    with app.app_context():
        lead = factories.party("lead", "Lead <b>Co</b>")
        prospect = factories.party("prospect", "Prospect Co", country="FR")
        for n in range(CONTACTS):
            factories.contact(
                (lead, prospect)[n % 2], f"c{n:02d}@campaign.example", language=("en", "fr")[n % 2]
            )
        factories.contact(lead, "quiet@campaign.example", consent=False)
        db.session.commit()


def write_campaign(page: Page, name: str = "Spring offer") -> None:
    page.goto("/admin/campaigns/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.locator("#subject_en").fill("Spring offer")
    page.locator("#body_en").fill("**10 %** off this spring. <script>alert(1)</script>")
    page.locator("#subject_fr").fill("Offre de printemps")
    page.locator("#body_fr").fill("**10 %** de remise ce printemps.")
    page.get_by_role("button", name="Save").click()


def test_a_campaign_is_sent_with_a_progress_bar_to_100_and_a_contact_unsubscribes(
    demo: None,
    app: Flask,
    worker_page: Page,
    new_page: Callable[..., Page],
    live_server_with_worker: str,
    mail_dir: Path,
    sign_in: Callable[..., None],
) -> None:
    contacts(app)
    admin = worker_page
    sign_in(admin, ADMIN)
    write_campaign(admin)
    expect(admin.locator("#campaign-count")).to_contain_text(f"{CONTACTS} contacts match")
    expect(admin.locator("#preview-en strong")).to_have_text("10 %")
    admin.get_by_role("button", name=f"Send to {CONTACTS} contacts").click()
    url = admin.url
    progress = admin.locator("#campaign-progress")
    expect(progress).to_be_visible()
    # HTMX polls the fragment every second; the page itself is not reloaded.
    expect(progress).to_have_attribute("data-percent", "100", timeout=30_000)
    assert admin.url == url
    expect(admin.locator("#campaign-sent")).to_have_text(f"Sent: {CONTACTS}")
    expect(admin.locator("#campaign-remaining")).to_have_text("Remaining: 0")
    expect(admin.locator("#campaign-progress-bar")).to_have_attribute("value", "100")
    admin.reload()
    expect(admin.locator("#campaign-status")).to_have_attribute("data-status", "done")
    expect(admin.locator("#stat-sent")).to_have_text(str(CONTACTS))

    messages = read_mail(mail_dir)
    assert len(messages) == CONTACTS
    assert len({m["To"] for m in messages}) == CONTACTS
    message = next(m for m in messages if m["To"] == "c01@campaign.example")
    assert message["Subject"] == "Offre de printemps"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip().strip("<>")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert link in text
    path = urlsplit(link).path  # the email links to STORE_URL; the test's server is here

    contact = new_page(base_url=live_server_with_worker)
    contact.goto(path)
    expect(contact.locator("#unsubscribe")).to_contain_text("c01@campaign.example")
    contact.get_by_role("button", name="Unsubscribe").click()
    expect(contact.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    contact.goto(path)
    expect(contact.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    admin.reload()
    expect(admin.locator("#stat-unsubscribed")).to_have_text("1")
    # A new campaign no longer counts the unsubscribed contact.
    write_campaign(admin, "Summer offer")
    expect(admin.locator("#campaign-count")).to_contain_text(f"{CONTACTS - 1} contacts match")


def test_campaign_pages_have_no_axe_violations(
    demo: None,
    app: Flask,
    worker_page: Page,
    new_page: Callable[..., Page],
    live_server_with_worker: str,
    mail_dir: Path,
    sign_in: Callable[..., None],
) -> None:
    contacts(app)
    admin = worker_page
    scan = Scanner(admin)
    sign_in(admin, ADMIN)
    admin.goto("/admin/campaigns")
    scan("campaigns, none yet")
    admin.goto("/admin/campaigns/new")
    scan("new campaign")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("#error-summary")).to_be_visible()
    scan("new campaign with errors")
    write_campaign(admin)
    scan("campaign draft with its count and previews")
    admin.get_by_role("link", name="Edit").click()
    scan("edit campaign")
    admin.get_by_role("button", name="Save").click()
    admin.get_by_role("button", name=re.compile("^Send to")).click()
    expect(admin.locator("#campaign-progress")).to_have_attribute(
        "data-percent", "100", timeout=30_000
    )
    admin.reload()
    scan("campaign done with statistics and recipients")
    admin.get_by_role("link", name="All recipients").click()
    scan("campaign recipients")
    admin.get_by_label("Response of c00@campaign.example").select_option("not_interested")
    admin.get_by_label("Note about c00@campaign.example").fill("Called: next year")
    admin.get_by_role("button", name="Record c00@campaign.example").click()
    expect(admin.locator("#recipients")).to_contain_text("Called: next year")
    scan("campaign recipients after a response")
    admin.goto("/admin/campaigns")
    scan("campaigns")
    admin.goto("/admin/campaigns?status=nonsense")
    scan("campaigns, filter not understood")

    # Not c00: the admin recorded its response above.
    message = next(m for m in read_mail(mail_dir) if m["To"] == "c05@campaign.example")
    link = urlsplit(message["List-Unsubscribe"].strip().strip("<>")).path
    respond = re.search(
        r"https?://\S+/respond/\S+response=interested",
        message.get_body(preferencelist=("plain",)).get_content(),
    ).group(0)
    visitor = new_page(base_url=live_server_with_worker)
    visitor_scan = Scanner(visitor)
    visitor.goto(urlsplit(respond).path + "?" + urlsplit(respond).query)
    visitor_scan("respond")
    visitor.get_by_role("button", name="I am interested").click()
    visitor_scan("responded")
    visitor.goto(link)
    visitor_scan("unsubscribe")
    visitor.get_by_role("button", name="Unsubscribe").click()
    visitor_scan("unsubscribed")
    scan.check()
    visitor_scan.check()
