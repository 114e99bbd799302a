"""Browser: a purchase order receipt allocates to the oldest backorder, and the buyer sees
it (issue 19)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from b2bshop.accounts.models import User
from b2bshop.extensions import db
from b2bshop.sales import service as sales
from tests import factories

BUYER = "buyer@contoso.example"
OTHER = "buyer@fabrikam.example"
ADMIN = "admin@b2bshop.example"
TODAY = date.today()


def choose(select: Locator, text: str) -> None:
    """Select the option whose text contains `text`."""
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def backordered_orders(app: Flask) -> tuple[str, str]:
    """A product none of which is on hand, ordered by Contoso (ship in 2 days) and by
    Fabrikam (ship in 9 days): both wait."""
    with app.app_context():
        product = factories.product("WAIT-1", price="12.00", stock=0)
        product.name = "Waiting widget"
        numbers = []
        for email, days in ((OTHER, 9), (BUYER, 2)):
            user = db.session.scalar(select(User).where(User.email == email))
            order = sales.place_order(
                user,
                user.customer,
                [sales.OrderLineInput(product.id, 4)],
                requested_ship_date=TODAY + timedelta(days=days),
                confirm=True,
            )
            numbers.append(order.number)
        db.session.commit()
        return numbers[1], numbers[0]  # Contoso's (oldest date), Fabrikam's


def create_vendor_and_po(page: Page, quantity: str) -> str:
    page.goto("/admin/vendors/new")
    page.get_by_label("Name").fill("Widget Works")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    page.goto("/admin/purchase-orders/new")
    choose(page.get_by_label("Vendor"), "Widget Works")
    choose(page.get_by_label("Product 1", exact=True), "WAIT-1")
    page.get_by_label("Quantity 1", exact=True).fill(quantity)
    page.get_by_label("Expected date 1", exact=True).fill((TODAY + timedelta(days=5)).isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Create purchase order").click()
    expect(page.locator("#po-status")).to_have_text("Open")
    return re.search(r"PO-\d+", page.locator("h1").inner_text()).group(0)


def test_a_receipt_allocates_to_the_oldest_backorder_and_the_buyer_sees_it(
    demo: None, app: Flask, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    oldest, newer = backordered_orders(app)
    admin = new_page()
    sign_in(admin, ADMIN)
    create_vendor_and_po(admin, "4")

    buyer = new_page()
    sign_in(buyer, BUYER)
    buyer.goto("/account/orders")
    expected = buyer.locator("tr.backordered .expected-date").first
    expect(expected).to_contain_text("Expected")
    expect(expected).not_to_contain_text("not known")

    admin.goto("/admin/backorders?by=item")
    group = admin.locator("section.backorder-group", has_text="WAIT-1")
    expect(group.locator(f"tr[data-order='{oldest}'] .backorder")).to_have_text("4")
    po_link = group.locator(".purchase-lines a").first
    with admin.expect_navigation():
        po_link.click()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Post receipt").click()
    expect(admin.locator(".flash-success")).to_contain_text("4 allocated to waiting orders")

    admin.goto("/admin/backorders?by=customer")
    expect(admin.locator(f"tr[data-order='{oldest}'] .allocated")).to_have_text("4")
    expect(admin.locator(f"tr[data-order='{newer}'] .backorder")).to_have_text("4")

    buyer.reload()
    row = buyer.locator("tr", has_text="Waiting widget").first
    expect(row).not_to_have_class(re.compile("backordered"))
    expect(buyer.locator(".expected-date")).to_have_count(0)

    # The next packing slip delivers what was allocated.
    admin.goto(f"/admin/orders/{oldest}")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Post packing slip").click()
    expect(admin.locator("#order-status")).to_have_text("Delivered")
