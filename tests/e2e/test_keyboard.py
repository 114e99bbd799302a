"""Keyboard only, in Chromium: sign in → filter → pay invoice → change the amount → checkout,
and request invoice (its dialog closed by Escape, Cancel and Send). Nothing is clicked: Tab,
Shift+Tab, Enter, Space, Escape and typing; after each step the test asserts where focus is,
and what the live region outside the swapped areas (#announcer) says.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

BUYER = "buyer@contoso.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"
MAX_TABS = 200


def focused(page: Page) -> Locator:
    return page.locator("*:focus")


def describe_focus(page: Page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 160) : ''; }"
    )


def tab_to(page: Page, target: Locator, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `target` has focus; fails if it is never reached."""
    handle = target.element_handle()
    for _ in range(MAX_TABS):
        if page.evaluate("el => document.activeElement === el", handle):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"never reached by Tab: {target}; focus on {describe_focus(page)}")


def expect_focus(page: Page, target: Locator) -> None:
    expect(target).to_be_focused()


def settled(page: Page) -> None:
    """htmx has finished its swap: the new content's listeners are on (keys typed in the
    few milliseconds before would reach a form that sends nothing)."""
    expect(
        page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
    ).to_have_count(0)


def test_sign_in_filter_pay_change_amount_and_check_out_by_keyboard(
    demo: None, page: Page, live_server: str
) -> None:
    announcer = page.locator("#announcer")

    # Sign in: the email field has focus on arrival.
    page.goto("/login")
    expect_focus(page, page.locator("#email"))
    page.keyboard.type(BUYER)
    page.keyboard.press("Tab")
    expect_focus(page, page.locator("#password"))
    page.keyboard.type("demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/")

    # The skip link comes first, then the main nav: Invoices.
    page.keyboard.press("Tab")
    expect_focus(page, page.get_by_role("link", name="Skip to content"))
    nav = page.get_by_role("navigation", name="Main")
    tab_to(page, nav.get_by_role("link", name="Invoices"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/invoices")

    # Filter by status: the list is swapped (the select with it); focus stays on the select
    # and the count is announced.
    status = page.locator("#filter-status")
    tab_to(page, status)
    old = status.element_handle()
    page.keyboard.press("p")  # type-ahead: the first option after "All" that starts with P
    page.wait_for_url(f"{live_server}/invoices?status=partially_paid")
    expect(page.locator(f"{ROWS}[data-status='paid']")).to_have_count(0)
    assert old.evaluate("el => el.isConnected") is False, "the list was not swapped"
    expect_focus(page, page.locator("#filter-status"))
    expect(page.locator("#filter-status")).to_have_value("partially_paid")
    count = page.locator("#invoice-count [data-announce]").inner_text()
    expect(announcer).to_have_text(re.sub(r"\s+", " ", count).strip())
    assert re.match(r"\d+ invoices?", announcer.inner_text()), announcer.inner_text()

    # Apply sends focus to the results' count.
    tab_to(page, page.locator("#invoice-filters").get_by_role("button", name="Apply"))
    page.keyboard.press("Enter")
    expect_focus(page, page.locator("#invoice-count"))

    # Pay invoice: the button gives way to the result; focus goes to its Checkout link.
    row = page.locator(ROWS).first
    number = (row.get_attribute("id") or "").removeprefix("invoice-")
    pay = row.get_by_role("button", name=f"Pay invoice {number}", exact=True)
    tab_to(page, pay)
    page.keyboard.press("Enter")
    result = page.locator(f"#pay-{number}")
    expect(result).to_contain_text("In your cart: €")
    expect_focus(page, result.get_by_role("link", name="Checkout"))
    expect(announcer).to_contain_text("In your cart: €")

    # Checkout, then back to the cart by its link, to change the amount.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/checkout")
    tab_to(page, page.get_by_role("link", name="Change the cart"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/cart")

    # A refused amount: focus stays on the field, marked invalid; the summary says why.
    amount = page.get_by_label(f"Amount to pay for {number}", exact=True)
    tab_to(page, amount)
    page.keyboard.press("Control+A")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    expect(page.locator("#cart-errors")).to_contain_text("greater than zero")
    amount = page.get_by_label(f"Amount to pay for {number}", exact=True)
    expect_focus(page, amount)
    expect(amount).to_have_attribute("aria-invalid", "true")
    settled(page)

    # A good amount, sent with Tab (the change event): focus is where Tab took it, the
    # amount's Update button, found again in the swapped cart; the total is announced.
    page.keyboard.press("Control+A")
    page.keyboard.type("10.00")
    page.keyboard.press("Tab")
    expect(page.locator("#cart-total")).to_have_text("Total: €10.00")
    expect_focus(page, page.get_by_role("button", name=f"Update {number}", exact=True))
    expect(announcer).to_have_text("Total: €10.00")

    # Checkout: the card by keyboard (Space on the radio), the number typed, Enter to pay.
    tab_to(page, page.get_by_role("link", name="Go to checkout"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    card = page.get_by_label("Card", exact=True)
    tab_to(page, card)
    page.keyboard.press("Space")
    expect(card).to_be_checked()
    page.keyboard.press("Tab")
    expect_focus(page, page.locator("#card_number"))
    page.keyboard.type("4242424242424242")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/payments/PAY-\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


def test_request_invoice_by_keyboard_the_dialog_gives_focus_back(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)
    page.goto("/invoices")
    # Playwright's clock, so that the toast's lifetime can be checked without waiting.
    page.clock.install()
    page.reload()
    row = page.locator(ROWS).first
    number = (row.get_attribute("id") or "").removeprefix("invoice-")
    link = row.get_by_role("link", name=f"Request invoice {number}", exact=True)
    dialog = page.locator("#dialog dialog")

    # Open: focus moves into the dialog, onto its first control.
    tab_to(page, link)
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect_focus(page, dialog.get_by_role("button", name="Send it to me"))
    # Tab stays inside the modal dialog.
    page.keyboard.press("Tab")
    expect_focus(page, dialog.get_by_role("link", name="Cancel"))

    # Escape closes it; focus is back on the link that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect_focus(page, link)

    # Cancel closes it; focus back on the link.
    page.keyboard.press("Enter")
    expect_focus(page, dialog.get_by_role("button", name="Send it to me"))
    page.keyboard.press("Tab")
    expect_focus(page, dialog.get_by_role("link", name="Cancel"))
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)
    expect_focus(page, link)

    # Send: the dialog gives way to a toast, announced; focus back on the link.
    page.keyboard.press("Enter")
    expect_focus(page, dialog.get_by_role("button", name="Send it to me"))
    page.keyboard.press("Enter")
    toast = page.locator("#dialog .toast")
    expect(toast).to_contain_text(f"Your request for invoice {number} is registered")
    expect(dialog).to_have_count(0)
    expect_focus(page, link)
    expect(page.locator("#announcer")).to_contain_text(
        f"Your request for invoice {number} is registered"
    )
    # The toast stays (its link with it) until it is closed.
    page.clock.fast_forward(60_000)
    expect(toast.get_by_role("link", name="Open B2B requests")).to_be_visible()
    close = toast.get_by_role("button", name="Close")
    tab_to(page, close)
    page.keyboard.press("Enter")
    expect(toast).to_have_count(0)
    expect_focus(page, page.get_by_role("heading", level=1))
