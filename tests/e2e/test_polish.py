"""Issue 15's last rough edges in Chromium: free text line rows added and removed by
keyboard with the focus on the row that changed, Enter saving (never removing a line), and
an invited user appearing on the users page without a reload."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

ADMIN = "admin@b2bshop.example"
BUYER = "buyer@contoso.example"


def test_free_text_rows_are_added_and_removed_and_enter_saves(
    demo: None, page: Page, sign_in: Callable[..., None]
) -> None:
    sign_in(page, ADMIN)
    page.goto("/admin/free-text/new")
    rows = page.locator("select[name^='account-']")
    expect(rows).to_have_count(3)
    page.locator("#ft-description-0").fill("Consulting day")
    page.locator("#ft-description-1").fill("Travel")
    add = page.get_by_role("button", name="Add a line")
    add.focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(4)
    # The page comes back from the server; Chromium applies autofocus on a later frame
    # than the one that parses the rows, so wait for it rather than read it at once.
    expect(page.locator("#ft-account-3")).to_be_focused()  # on the new row
    expect(page.locator("#ft-description-0")).to_have_value("Consulting day")
    page.get_by_role("button", name="Remove line 1").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#ft-description-0")).to_have_value("Travel")
    expect(page.locator("#ft-account-0")).to_be_focused()
    # Enter in a field submits with the first button: Save draft, so the lines stay.
    page.locator("#ft-description-0").press("Enter")
    expect(page.locator("#ft-description-0")).to_have_value("Travel")
    expect(rows).to_have_count(3)
    expect(page.locator("#error-summary")).to_be_visible()  # no customer chosen yet


def test_an_invited_user_appears_without_a_reload(
    demo: None, worker_page: Page, sign_in: Callable[..., None]
) -> None:
    page = worker_page
    sign_in(page, BUYER)
    page.goto("/account/users")
    page.get_by_label("Email", exact=True).fill("colleague@contoso.example")
    page.get_by_label("Name", exact=True).fill("Kari Nordmann")
    page.get_by_role("button", name="Invite the user").click()
    pending = page.locator("tr[id^='pending-user-']", has_text="colleague@contoso.example")
    row = page.locator("tr[id^='user-']", has_text="colleague@contoso.example")
    # The embedded worker carries the request out; the table polls and shows the user.
    expect(row).to_be_visible(timeout=15_000)
    expect(pending).to_have_count(0)
    expect(row).to_contain_text("invited")
    expect(page.locator("#announcer")).to_contain_text("The user list is up to date.")
