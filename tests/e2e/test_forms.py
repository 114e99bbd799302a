"""Forms with errors, the GOV.UK Design System's way, in Chromium, buyer and admin: an error
summary at the top that takes focus and links to each field; each field's error tied to it
(aria-invalid, aria-describedby naming the message); "Error: " in the title; what was typed
kept; groups of checkboxes in a fieldset with a legend. And the same form with JavaScript
off: the cart's refused amount is the cart again, not an error page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

BUYER = "buyer@contoso.example"
ADMIN = "admin@b2bshop.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"


def expect_error_pattern(page: Page, fields: dict[str, str], focused: bool = True) -> None:
    """The summary lists exactly `fields` ({field id: part of its message}), in that order,
    each a link to the field; each field is aria-invalid and described by its message."""
    summary = page.locator("[data-error-summary]")
    expect(summary).to_have_count(1)
    expect(summary.get_by_role("heading", level=2)).to_have_text("There is a problem")
    if focused:
        expect(summary).to_be_focused()
    assert page.title().startswith("Error: "), page.title()
    links = summary.get_by_role("link")
    expect(links).to_have_count(len(fields))
    for n, (field_id, message) in enumerate(fields.items()):
        link = links.nth(n)
        expect(link).to_have_attribute("href", f"#{field_id}")
        expect(link).to_contain_text(message)
        field = page.locator(f"#{field_id}")
        expect(field).to_have_attribute("aria-invalid", "true")
        described = (field.get_attribute("aria-describedby") or "").split()
        assert described, f"#{field_id} names no description"
        texts = [page.locator(f"#{d}").inner_text() for d in described]
        assert any(message in t for t in texts), (field_id, texts)
        assert any(t.startswith("Error:") for t in texts), texts  # visually hidden prefix


def test_buyer_forms_follow_the_error_pattern(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    # Sign in, both fields empty.
    page.goto("/login")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{live_server}/login")
    expect_error_pattern(page, {"email": "required", "password": "required"})
    # A summary link takes the keyboard to its field.
    page.keyboard.press("Tab")
    expect(page.locator("[data-error-summary] a").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#email")).to_be_focused()
    # A malformed address is kept as typed.
    page.locator("#email").fill("buyer-at-contoso")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect_error_pattern(page, {"email": "Invalid email", "password": "required"})
    expect(page.locator("#email")).to_have_value("buyer-at-contoso")

    sign_in(page, BUYER)

    # Users: an invitation refused keeps what was typed, the permissions in a fieldset.
    page.goto("/account/users")
    page.locator("#new-email").fill("not-an-address")
    page.locator("#new-name").fill("Robin Doe")
    add = page.locator("form:has(#new-email)")
    add.get_by_label("May pay invoices").check()
    add.get_by_label("May order").uncheck()
    add.get_by_role("button", name="Invite the user").click()
    page.wait_for_load_state()
    expect_error_pattern(page, {"new-email": "valid email"})
    expect(page.locator("#new-email")).to_have_value("not-an-address")
    expect(page.locator("#new-name")).to_have_value("Robin Doe")
    permissions = page.get_by_role("group", name="Permissions", exact=True)
    expect(permissions.get_by_label("May pay invoices")).to_be_checked()
    expect(permissions.get_by_label("May order")).not_to_be_checked()
    expect(permissions.get_by_label("May view invoices")).to_be_checked()
    # Each user's permissions are a group named after the user.
    expect(page.get_by_role("group", name=re.compile(r"^Permissions of "))).not_to_have_count(0)

    # Checkout: a declined card is an error of the card number.
    page.goto("/invoices?status=partially_paid")
    page.locator(ROWS).first.get_by_role("button", name=re.compile("^Pay invoice")).click()
    expect(page.locator(".added")).to_be_visible()
    page.goto("/checkout")
    page.locator("#card_number").fill("4000000000000002")
    page.locator("#checkout-form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/checkout")
    expect_error_pattern(page, {"card_number": "declined"})
    expect(page.get_by_role("group", name="How do you want to pay?")).to_be_visible()


def test_a_refused_cart_amount_without_javascript_is_the_cart_again(
    demo: None, new_page: Callable[..., Page], live_server: str, sign_in: Callable[..., None]
) -> None:
    page = new_page(java_script_enabled=False)
    sign_in(page, BUYER)
    page.goto("/invoices?status=partially_paid")
    number = (page.locator(ROWS).first.get_attribute("id") or "").removeprefix("invoice-")
    with page.expect_navigation():
        page.locator(ROWS).first.get_by_role("button", name=re.compile("^Pay invoice")).click()
    page.goto("/cart")
    amount = page.get_by_label(f"Amount to pay for {number}", exact=True)
    amount.fill("12,34,5")
    with page.expect_navigation():
        page.locator("#cart form.inline-amount button").first.click()
    expect(page).to_have_url(f"{live_server}/cart/invoices")
    expect(page.get_by_role("heading", name="Cart", level=1)).to_be_visible()
    field_id = amount.get_attribute("id") or ""
    expect_error_pattern(page, {field_id: "amount such as"}, focused=False)
    expect(page.locator("[data-error-summary] a")).to_contain_text(number)
    expect(page.get_by_label(f"Amount to pay for {number}", exact=True)).to_have_value("12,34,5")
    expect(page.get_by_role("link", name="Go to checkout")).to_be_visible()


def test_admin_forms_follow_the_error_pattern(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, ADMIN)

    # The generic admin form: every field error listed, in field order, values kept.
    page.goto("/admin/products/new")
    page.locator("#name").fill("Recycled paper")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect_error_pattern(
        page,
        {"sku": "required", "price": "required"},
    )
    # The summary names each field: its link reads "SKU: This field is required."
    expect(page.locator("[data-error-summary] a").first).to_have_text(re.compile(r"^SKU: "))
    expect(page.locator("#name")).to_have_value("Recycled paper")
    expect(page.locator("#name")).not_to_have_attribute("aria-invalid", "true")
    # The generic "correct the fields" line is not listed beside the fields themselves.
    expect(page.locator("[data-error-summary]")).not_to_contain_text("marked below")

    # A new sales order without a customer: no browser popup, the server's error, tied.
    page.goto("/admin/orders/new")
    page.locator("#order-quantity-0").fill("3")
    page.get_by_role("button", name="Create order").click()
    page.wait_for_load_state()
    expect_error_pattern(page, {"order-customer": "Choose a customer."})
    expect(page.locator("#order-quantity-0")).to_have_value("3")

    # A quantity that is not a whole number: tied to that quantity.
    page.locator("#order-customer").select_option(index=1)
    page.locator("#order-product-0").select_option(index=1)
    page.locator("#order-quantity-0").fill("2.5")
    page.get_by_role("button", name="Create order").click()
    page.wait_for_load_state()
    expect_error_pattern(page, {"order-quantity-0": "whole numbers"})
    expect(page.locator("#order-quantity-0")).to_have_value("2.5")

    # A filter that is not understood links to its field.
    page.goto("/admin/invoices?status=nonsense")
    errors = page.locator("#filter-errors")
    expect(errors.get_by_role("link")).to_have_attribute("href", "#filter-status")
    expect(page.locator("#filter-status")).to_have_attribute("aria-invalid", "true")
