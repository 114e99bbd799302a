"""Accessibility of the pages of issue 20 (the entity switcher, payment journals, the
intercompany page, an admin's entity limits): axe-core at 1280 and 320 px, the design
checks and no sideways scroll, through the Scanner of test_accessibility.py."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from b2bshop.accounts.models import User
from b2bshop.extensions import db
from tests.e2e.test_accessibility import Scanner
from tests.e2e.test_intercompany import (
    ADMIN,
    SISTER_BUYER,
    deliver_and_invoice,
    order_on_account,
    sister_company,
    switch_entity,
)


def test_issue_20_pages_have_no_axe_violations(
    app: Flask,
    live_server: str,
    new_page: Callable[..., Page],
    sign_in: Callable[..., None],
) -> None:
    sister_company(app)
    buyer = new_page()
    sign_in(buyer, SISTER_BUYER)
    invoice_number, total = deliver_and_invoice(app, order_on_account(buyer, live_server))

    admin = new_page()
    scan = Scanner(admin)
    sign_in(admin, ADMIN)
    admin.goto("/admin/intercompany")
    scan("intercompany, a relation and its balances")
    admin.goto("/admin/journals")
    scan("payment journals, empty, with the switcher")
    switch_entity(admin, "NO · b2bshop NO AS")
    scan("switched entity")
    admin.goto("/admin/journals/new")
    scan("new vendor payment, no vendor chosen")
    admin.get_by_label("Vendor", exact=True).select_option(
        label="NO-V-000001 · b2bshop Supplies B.V."
    )
    with admin.expect_navigation():
        admin.get_by_role("button", name="Show open invoices", exact=True).click()
    scan("new vendor payment, open invoices")
    admin.get_by_label("Amount", exact=True).fill("abc")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save draft", exact=True).click()
    expect(admin.locator(".error-summary")).to_be_visible()
    expect(admin).to_have_title("Error: New vendor payment · b2bshop")
    scan("new vendor payment, errors")
    admin.get_by_label(re.compile(re.escape(invoice_number))).check()
    admin.get_by_label("Amount", exact=True).fill(f"{total:.2f}")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save draft", exact=True).click()
    expect(admin.locator("#journal-status")).to_have_text("Draft")
    scan("vendor journal, draft")
    journal_url = admin.url
    with admin.expect_navigation():
        admin.get_by_role("link", name="Add a payment line", exact=True).click()
    scan("add a payment line, no vendor chosen")
    admin.goto(journal_url)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Post", exact=True).click()
    expect(admin.locator("#journal-status")).to_have_text("Posted")
    scan("vendor journal, posted")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Reverse", exact=True).click()
    expect(admin.locator("#reverse-proposal")).to_be_visible()
    scan("vendor journal, reversed, proposing the customer side")
    admin.goto("/admin/journals")
    scan("payment journals, two")
    switch_entity(admin, "B2B · b2bshop Supplies B.V.")
    admin.goto("/admin/journals?kind=customer")
    with admin.expect_navigation():
        admin.locator("#journals tbody a").first.click()
    scan("customer journal, posted")
    with app.app_context():
        me = db.session.scalar(select(User).where(User.email == ADMIN)).id
    admin.goto("/admin/admins")
    scan("store admins")
    admin.goto(f"/admin/admins/{me}/entities")
    scan("an admin's legal entities")
    scan.check()
