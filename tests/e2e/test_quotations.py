"""Quotations and suggestions in Chromium (issue 18): a cart becomes a quote request, a
store admin prices and sends it, the buyer accepts, and the order appears under My orders
at the quoted prices; up-sell Replace and cross-sell Add in the cart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

BUYER = "buyer@contoso.example"
ADMIN = "admin@b2bshop.example"


def _add_from_catalog(page: Page, sku: str, quantity: int) -> None:
    page.goto("/catalog")
    cell = page.locator(f"#add-{sku}")
    cell.locator("input[name=qty]").fill(str(quantity))
    cell.get_by_role("button", name="Add to cart").click()
    expect(cell.locator(".add-result")).not_to_be_empty()


def test_cart_quote_priced_sent_accepted_becomes_an_order(
    demo: None, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    buyer = new_page()
    sign_in(buyer, BUYER)
    _add_from_catalog(buyer, "OFF-PAP-A4", 10)
    _add_from_catalog(buyer, "IT-MSE-WL", 3)
    buyer.goto("/cart")
    buyer.get_by_label("Ask for a quote on this cart (optional message)").fill("Volume price?")
    with buyer.expect_navigation():
        buyer.get_by_role("button", name="Request a quote").click()
    heading = buyer.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Quotation QU-")
    number = heading.inner_text().split()[-1]
    expect(buyer.locator("#quotation")).to_contain_text("We are pricing this request")

    admin = new_page()
    sign_in(admin, ADMIN)
    admin.goto("/admin")
    admin.get_by_role("link", name="Quotations", exact=True).click()
    admin.get_by_role("link", name=number).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Quotation {number}")
    admin.get_by_label("Quoted unit price 1").fill("21.50")
    admin.get_by_label("Quoted unit price 2").fill("17.00")
    admin.get_by_label("Valid until").fill((date.today() + timedelta(days=14)).isoformat())
    admin.get_by_label("Note to the customer").fill("For this order only.")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".flash-success")).to_contain_text(f"Quotation {number} saved.")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Send to the customer").click()
    expect(admin.locator(".flash-success")).to_contain_text("is sent to the customer")

    buyer.reload()
    expect(buyer.locator("#quotation-lines")).to_contain_text("€21.50")
    expect(buyer.locator("#quotation-lines tfoot")).to_contain_text("€266.00")
    with buyer.expect_navigation():
        buyer.get_by_role("button", name="Accept and order").click()
    flash = buyer.locator(".flash-success")
    expect(flash).to_contain_text("is placed at the quoted prices")
    order_number = flash.inner_text().split("sales order ")[1].split()[0]

    buyer.get_by_role("link", name="My account").click()
    buyer.get_by_role("link", name="My orders").click()
    order = buyer.locator(f"#order-{order_number}")
    expect(order).to_be_visible()
    expect(order.locator("tbody tr").nth(0)).to_contain_text("€21.50")
    expect(order.locator("tbody tr").nth(1)).to_contain_text("€17.00")
    expect(order).to_contain_text("€266.00")


def test_upsell_replace_and_cross_sell_add_in_the_cart(
    app, demo: None, page: Page, sign_in: Callable[..., None]
) -> None:
    with app.app_context():
        products = {
            p.sku: p
            for p in db.session.scalars(
                select(Product).where(Product.sku.in_(["IT-KBD-WL", "IT-HUB-7", "IT-MSE-WL"]))
            )
        }
        db.session.add_all(
            [
                SuggestionRule(
                    kind=SuggestionKind.UPSELL,
                    product=products["IT-MSE-WL"],
                    category="",
                    suggested_product=products["IT-KBD-WL"],
                    priority=1,
                    note="Type and point with one receiver",
                    active=True,
                ),
                SuggestionRule(
                    kind=SuggestionKind.CROSS_SELL,
                    product=products["IT-MSE-WL"],
                    category="",
                    suggested_product=products["IT-HUB-7"],
                    priority=0,
                    note="",
                    active=True,
                ),
            ]
        )
        db.session.commit()
    sign_in(page, BUYER)
    _add_from_catalog(page, "IT-MSE-WL", 4)
    page.goto("/cart")
    suggestions = page.locator("#cart-suggestions")
    expect(suggestions).to_contain_text("Type and point with one receiver")
    with page.expect_navigation():
        suggestions.get_by_role(
            "button", name="Replace with Wireless keyboard, nordic layout"
        ).click()
    expect(page.locator(".flash-success")).to_contain_text("same quantity")
    lines = page.locator("#cart tbody tr[id^='cart-line-']")
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text("IT-KBD-WL")
    expect(lines.first.locator("input[name=qty]")).to_have_value("4")

    # The cross-sell rule is for the mouse: put one back, then add the hub in one click.
    _add_from_catalog(page, "IT-MSE-WL", 1)
    page.goto("/cart")
    with page.expect_navigation():
        page.locator("#cart-suggestions").get_by_role("button", name="Add").click()
    expect(page.locator(".flash-success")).to_contain_text("is added to your cart")
    expect(page.locator("#cart tbody tr[id^='cart-line-']")).to_have_count(3)
    expect(page.locator("#cart")).to_contain_text("IT-HUB-7")
