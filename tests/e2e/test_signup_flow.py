"""Partner sign-up in Chromium (issue 17), on the live server whose jobs run: a company
asks for a business account at /signup, a store admin finds the account application at
/admin/requests and approves it on the prospect's page, the invitation email comes from
the job, and the new buyer admin sets a password and sees an empty invoice list. Then the
accessibility scans of the new sign-up and relationship pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import Scanner
from tests.e2e.test_requests import read_mail

ADMIN = "admin@b2bshop.example"


def fill_signup(page: Page, email: str, vat: str = "NL812345678B01") -> None:
    page.goto("/signup")
    page.get_by_label("Company", exact=True).fill("Noord Supplies B.V.")
    page.get_by_label("Country", exact=True).select_option("NL")
    page.get_by_label("VAT or registration number", exact=True).fill(vat)
    page.get_by_label("Street", exact=True).fill("Damrak 1")
    page.get_by_label("Postal code", exact=True).fill("1012 LG")
    page.get_by_label("City", exact=True).fill("Amsterdam")
    page.get_by_label("Your name", exact=True).fill("Anna de Vries")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Language for emails", exact=True).select_option("en")
    page.get_by_role("button", name="Send the application").click()


def test_signup_approval_invitation_first_sign_in_and_an_empty_invoice_list(
    demo: None,
    worker_page: Page,
    new_page: Callable[..., Page],
    live_server_with_worker: str,
    mail_dir: Path,
    sign_in: Callable[..., None],
) -> None:
    visitor = worker_page
    fill_signup(visitor, "anna@noord.example", vat="NL123")  # a wrong number first
    expect(visitor.locator("#error-summary")).to_be_focused()
    expect(visitor.get_by_label("VAT or registration number", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(visitor.get_by_label("Street", exact=True)).to_have_value("Damrak 1")
    fill_signup(visitor, "anna@noord.example")
    expect(visitor.get_by_role("heading", name="Application received")).to_be_visible()

    admin = new_page(base_url=live_server_with_worker)
    sign_in(admin, ADMIN)
    admin.goto("/admin/requests")
    row = admin.locator("tr", has_text="Account application")
    expect(row).to_contain_text("Noord Supplies B.V.")
    row.get_by_role("link", name=re.compile("Review")).click()
    expect(admin.locator("#party-kind")).to_have_attribute("data-kind", "prospect")
    admin.get_by_role("link", name=re.compile("^Approve")).click()
    admin.get_by_label("Credit limit", exact=True).fill("5000")
    admin.get_by_role("button", name="Approve and convert").click()
    expect(admin.locator(".flash")).to_contain_text("the invitation is on its way")
    expect(admin.locator("#customer-users")).to_contain_text("anna@noord.example")

    # The add-user job mails the invitation a few milliseconds later.
    for _ in range(100):
        messages = [m for m in read_mail(mail_dir) if "anna@noord.example" in m["To"]]
        if messages:
            break
        admin.wait_for_timeout(100)
    [message] = messages
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/invitations/\w+", body).group(0)

    buyer = new_page(base_url=live_server_with_worker)
    buyer.goto("/invitations/" + link.rsplit("/", 1)[1])
    buyer.get_by_label("Password", exact=True).fill("a long password")
    buyer.get_by_label("Repeat the password", exact=True).fill("a long password")
    buyer.get_by_role("button", name="Set password and sign in").click()
    buyer.goto("/invoices")
    expect(buyer.locator(".empty")).to_contain_text("There are no invoices yet.")


def test_signup_and_relationship_pages_have_no_axe_violations(
    demo: None, page: Page, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    scan = Scanner(page)
    page.goto("/signup")
    scan("sign-up")
    page.get_by_role("button", name="Send the application").click()
    expect(page.locator("#error-summary")).to_be_visible()
    scan("sign-up with errors")
    fill_signup(page, "scan@noord.example")
    expect(page.get_by_role("heading", name="Application received")).to_be_visible()
    scan("sign-up sent")

    admin = new_page()
    admin_scan = Scanner(admin)
    sign_in(admin, ADMIN)
    admin.goto("/admin/relationships")
    admin_scan("leads and prospects")
    admin.goto("/admin/relationships?kind=nonsense")
    admin_scan("leads and prospects, filter not understood")
    admin.goto("/admin/requests")
    admin_scan("B2B requests with an application")
    admin.locator("tr", has_text="Account application").get_by_role(
        "link", name=re.compile("Review")
    ).click()
    admin_scan("prospect with an application")
    party_url = admin.url
    admin.get_by_role("link", name="Add a contact").click()
    admin_scan("new contact")
    admin.get_by_role("button", name="Save").click()
    admin_scan("new contact with errors")
    admin.goto(party_url)
    admin.get_by_role("button", name="Add the task").click()
    admin_scan("task with an error")
    admin.goto(party_url)
    admin.get_by_role("link", name=re.compile("^Reject")).click()
    admin_scan("reject an application")
    admin.goto(party_url)
    admin.get_by_role("link", name=re.compile("^Approve")).click()
    admin_scan("approve and convert")
    admin.goto("/admin/relationships/new")
    admin_scan("new lead")
    scan.check()
    admin_scan.check()
