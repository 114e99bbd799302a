"""Accessibility of the pages of issue 19 (agreements, purchasing, backorders, the cart's
requested ship date): axe-core at 1280 and 320 px, the design checks and no sideways
scroll, through the Scanner of test_accessibility.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import Scanner
from tests.e2e.test_agreements import ADMIN, BUYER, SKU, choose, create_agreement, set_status
from tests.e2e.test_backorders import backordered_orders, create_vendor_and_po

TODAY = date.today()


def test_issue_19_pages_have_no_axe_violations(
    demo: None, app: Flask, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    oldest, _newer = backordered_orders(app)
    admin = new_page()
    scan = Scanner(admin)
    sign_in(admin, ADMIN)

    admin.goto("/admin/agreements")
    scan("agreements, empty list")
    admin.goto("/admin/agreements/new")
    scan("new agreement")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save").click()
    scan("new agreement, errors")
    number = create_agreement(admin)
    scan("agreement on hold, with a line")
    admin.get_by_label("Discount percent").fill("150")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save line").click()
    expect(admin.locator(".error-summary")).to_be_visible()
    scan("agreement line, errors")
    set_status(admin, number, "Make effective", "Effective")
    scan("agreement effective")
    admin.goto("/admin/agreements?status=effective")
    scan("agreements, filtered")

    admin.goto("/admin/customer-groups")
    scan("customer groups, empty")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save group").click()
    scan("customer group, errors")
    admin.get_by_label("Code").fill("KEY")
    admin.get_by_label("Name", exact=True).fill("Key accounts")
    admin.get_by_label(re.compile("Contoso Retail")).check()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save group").click()
    scan("customer groups, one")

    admin.goto("/admin/trade-agreements")
    scan("trade agreements, empty")
    admin.goto("/admin/trade-agreements/new")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save").click()
    scan("new trade agreement, errors")
    choose(admin.get_by_label("Customer", exact=True), "Fabrikam")
    choose(admin.get_by_label("Product"), "OFF-PEN-BL")
    admin.get_by_label("Discount percent").fill("10")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save").click()
    scan("trade agreements, one")

    admin.goto("/admin/vendors/new")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save").click()
    scan("new vendor, errors")
    admin.goto("/admin/purchase-orders/new")
    admin.get_by_label("Quantity 1", exact=True).fill("abc")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Create purchase order").click()
    scan("new purchase order, errors")
    po = create_vendor_and_po(admin, "2")
    scan("purchase order, open")
    admin.goto("/admin/vendors")
    scan("vendors")
    admin.goto("/admin/purchase-orders")
    scan("purchase orders")
    for by in ("item", "customer", "vendor"):
        admin.goto(f"/admin/backorders?by={by}")
        scan(f"backorders by {by}")
    admin.goto("/admin/backorders?by=item")
    group = admin.locator("section.backorder-group", has_text="WAIT-1")
    group.locator(f"tr[data-order='{oldest}'] input[name^='alloc-']").fill("9")
    with admin.expect_navigation():
        group.get_by_role("button", name=re.compile("Save allocation")).click()
    expect(admin.locator(".error-summary")).to_be_visible()
    scan("backorders, allocation refused")
    admin.goto(f"/admin/purchase-orders/{po}")
    admin.locator("input[name^='qty-']").first.fill("x")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Post receipt").click()
    scan("purchase order, receipt refused")
    with admin.expect_navigation():
        admin.locator("input[name^='qty-']").first.fill("2")
        admin.get_by_role("button", name="Post receipt").click()
    scan("purchase order, received")

    buyer = new_page()
    bscan = Scanner(buyer)
    sign_in(buyer, BUYER)
    buyer.goto(f"/catalog?q={SKU}")
    bscan("catalog, agreement price")
    buyer.locator(f"#add-{SKU}").get_by_role("button").click()
    expect(buyer.locator(f"#add-{SKU} .add-result")).not_to_be_empty()
    buyer.goto("/cart")
    bscan("cart, agreement price and ship date")
    buyer.get_by_label("Requested ship date").fill((TODAY - timedelta(days=3)).isoformat())
    buyer.get_by_role("button", name="Save date").click()
    expect(buyer.locator("#cart .error-summary")).to_be_visible()
    bscan("cart, ship date refused")
    buyer.goto("/checkout")
    bscan("checkout with a ship date")
    buyer.goto("/account/agreements")
    bscan("my agreements")
    buyer.goto(f"/account/agreements/{number}")
    bscan("my agreement")
    buyer.goto("/account/orders")
    bscan("my orders with expected dates")

    scan.check()
    bscan.check()
