"""Browser: a sales agreement prices the buyer's cart while effective, and not when on hold
or outside its dates (issue 19)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from playwright.sync_api import Locator, Page, expect

BUYER = "buyer@contoso.example"
ADMIN = "admin@b2bshop.example"
SKU = "OFF-PAP-A4"  # 24.90 in the demo catalog
TODAY = date.today()


def choose(select: Locator, text: str) -> None:
    """Select the option whose text contains `text`."""
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def create_agreement(page: Page) -> str:
    """Through the admin pages (signed in as a store admin): on hold, one line at 8 % off."""
    page.goto("/admin/agreements/new")
    page.get_by_label("Customer").select_option(label="C-1001 · Contoso Retail")
    page.get_by_label("Commitment type").select_option("product_quantity")
    page.get_by_label("Valid from").fill(TODAY.isoformat())
    page.get_by_label("Valid to").fill((TODAY + timedelta(days=30)).isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    expect(page.locator("#agreement-status")).to_have_text("On hold")
    number = re.search(r"SA-\d+", page.locator("h1").inner_text()).group(0)
    choose(page.get_by_label("Product"), SKU)
    page.get_by_label("Discount percent").fill("8")
    page.get_by_label("Committed quantity").fill("100")
    with page.expect_navigation():
        page.get_by_role("button", name="Save line").click()
    expect(page.locator("#agreement-lines")).to_contain_text(SKU)
    return number


def set_status(page: Page, number: str, button: str, status: str) -> None:
    page.goto(f"/admin/agreements/{number}")
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()
    expect(page.locator("#agreement-status")).to_have_text(status)


def test_an_agreement_prices_the_cart_only_while_effective_and_inside_its_dates(
    demo: None, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    admin = new_page()
    sign_in(admin, ADMIN)
    number = create_agreement(admin)

    buyer = new_page()
    sign_in(buyer, BUYER)
    buyer.goto(f"/catalog?q={SKU}")
    buyer.get_by_label(re.compile("Quantity of Copy paper A4")).fill("2")
    buyer.locator(f"#add-{SKU}").get_by_role("button").click()
    expect(buyer.locator(f"#add-{SKU} .add-result")).not_to_be_empty()
    buyer.goto("/cart")
    line = buyer.locator("#cart .cart-lines tbody tr").first
    # On hold: the list price.
    expect(line).to_contain_text("List price")
    expect(buyer.locator("#cart-total")).to_contain_text("49.80")

    set_status(admin, number, "Make effective", "Effective")
    buyer.reload()
    expect(line).to_contain_text(f"Agreement {number}: −8%")
    expect(buyer.locator("#cart-total")).to_contain_text("45.82")  # 2 x 22.91

    # A requested ship date after the validity: the list price again (HTMX swap).
    buyer.get_by_label("Requested ship date").fill((TODAY + timedelta(days=45)).isoformat())
    buyer.get_by_role("button", name="Save date").click()
    expect(buyer.locator("#cart-total")).to_contain_text("49.80")
    expect(line).to_contain_text("List price")
    # Inside it: the agreement's price.
    buyer.get_by_label("Requested ship date").fill((TODAY + timedelta(days=10)).isoformat())
    buyer.get_by_role("button", name="Save date").click()
    expect(buyer.locator("#cart-total")).to_contain_text("45.82")

    # The order keeps the price and its source; the agreement counts it as released.
    buyer.goto("/checkout")
    expect(buyer.locator("#checkout-ship-date")).to_contain_text("Requested ship date")
    with buyer.expect_navigation():
        buyer.get_by_role("button", name="Place order on account").click()
    buyer.goto(f"/account/agreements/{number}")
    expect(buyer.locator(".released-quantity").first).to_have_text("2")

    set_status(admin, number, "Close agreement", "Closed")
    buyer.goto(f"/catalog?q={SKU}")
    buyer.locator(f"#add-{SKU}").get_by_role("button").click()
    expect(buyer.locator(f"#add-{SKU} .add-result")).not_to_be_empty()
    buyer.goto("/cart")
    expect(buyer.locator("#cart .cart-lines tbody tr").first).to_contain_text("List price")
