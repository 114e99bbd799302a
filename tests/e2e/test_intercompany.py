"""The intercompany flow in Chromium (issue 20): the sister company's buyer orders in the
store on account, the store admin delivers and invoices it on the order page (the purchase
order and the vendor invoice appear in the buying entity), switches to the buying entity
and posts a vendor payment journal there, and the store's invoice shows Paid to the buyer."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from b2bshop import demo as demo_data
from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import Customer, Role, User
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from b2bshop.sales import service as sales
from b2bshop.sales.models import SalesOrder

ADMIN = "admin@b2bshop.example"
SISTER_BUYER = "buyer@no.b2bshop.example"


def sister_company(app: Flask) -> None:
    """The demo data, b2bshop NO and a buyer of its customer account in the store."""
    with app.app_context():
        demo_data.load()
        demo_data.load_sister_company()
        account = db.session.scalar(select(Customer).where(Customer.number == "C-9000"))
        accounts.create_user(
            SISTER_BUYER, "demo", role=Role.BUYER_ADMIN, customer=account, name="Nora Buyer"
        )
        db.session.commit()
        db.session.remove()


def deliver_and_invoice(app: Flask, order_number: str) -> tuple[str, Decimal]:
    """The warehouse ships the order and the store posts its invoice (the admin's order
    page does the same; the browser part of this test is the intercompany side)."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        order = db.session.scalar(select(SalesOrder).where(SalesOrder.number == order_number))
        sales.post_packing_slip(admin, order, {line.id: line.quantity for line in order.lines})
        invoice = sales.invoice_order(admin, order)
        db.session.commit()
        number, total = invoice.number, invoice.total
        db.session.remove()
    return number, total


def deliver_and_invoice_in_browser(
    app: Flask, admin: Page, order_number: str
) -> tuple[str, Decimal]:
    """The store admin ships the whole order and posts its invoice from the order page."""
    admin.goto(f"/admin/orders/{order_number}")
    expect(admin.locator("#deliver-1")).to_have_value("3")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Post packing slip", exact=True).click()
    expect(admin.locator("#flashes")).to_contain_text(re.compile(r"Packing slip \S+ posted\."))
    with admin.expect_navigation():
        admin.locator("#invoice-order").click()
    flash = admin.locator("#flashes .flash-success")
    expect(flash).to_contain_text(re.compile(r"Invoice INV-\d{6} posted\."))
    match = re.search(r"INV-\d{6}", flash.inner_text())
    assert match, flash.inner_text()
    with app.app_context():
        total = db.session.scalar(select(Invoice.total).where(Invoice.number == match.group(0)))
        db.session.remove()
    return match.group(0), total


def order_on_account(page: Page, live_server: str) -> str:
    page.goto("/catalog")
    row = page.locator("#product-list tbody tr", has=page.locator("td[id^='add-']")).first
    cell = row.locator("td[id^='add-']")
    sku = (cell.get_attribute("id") or "").removeprefix("add-")
    name = row.locator("td[data-label='Product']").inner_text().strip()
    page.locator(f"#qty-{sku}").fill("3")
    cell.get_by_role("button", name=f"Add to cart {name}", exact=True).click()
    expect(cell.locator(".add-result")).to_contain_text(f"3 × {name} in your cart")
    page.goto("/checkout")
    with page.expect_navigation():
        page.get_by_role("button", name="Place order on account", exact=True).click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_server)}/orders/SO-\d+$"))
    return page.url.rsplit("/", 1)[1]


def switch_entity(page: Page, label: str) -> None:
    page.get_by_label("Legal entity", exact=True).select_option(label=label)
    with page.expect_navigation():
        page.get_by_role("button", name="Switch", exact=True).click()
    expect(page.locator("#flashes")).to_contain_text("You work in")


def pay_in_buying_entity(page: Page, invoice_number: str, total: Decimal) -> str:
    page.goto("/admin/journals/new")
    page.get_by_label("Vendor", exact=True).select_option(
        label="NO-V-000001 · b2bshop Supplies B.V."
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Show open invoices", exact=True).click()
    page.get_by_label(re.compile(re.escape(invoice_number))).check()
    page.get_by_label("Amount", exact=True).fill(f"{total:.2f}")
    with page.expect_navigation():
        page.get_by_role("button", name="Save draft", exact=True).click()
    expect(page.locator("#journal-status")).to_have_text("Draft")
    number = page.url.rsplit("/", 1)[1]
    with page.expect_navigation():
        page.get_by_role("button", name="Post", exact=True).click()
    expect(page.locator("#journal-status")).to_have_text("Posted")
    expect(page.locator("#customer-side")).to_contain_text("Posted")
    return number


def test_intercompany_order_to_paid_invoice(
    app: Flask,
    live_server: str,
    new_page: Callable[..., Page],
    sign_in: Callable[..., None],
) -> None:
    sister_company(app)
    buyer = new_page()
    sign_in(buyer, SISTER_BUYER)
    order_number = order_on_account(buyer, live_server)

    admin = new_page()
    sign_in(admin, ADMIN)
    invoice_number, total = deliver_and_invoice_in_browser(app, admin, order_number)
    buyer.goto(f"/invoices/{invoice_number}")
    expect(buyer.locator("h1 .status")).to_have_text("Unpaid")

    admin.goto("/admin/journals")
    switch_entity(admin, "NO · b2bshop NO AS")
    admin.goto("/admin/purchase-orders")
    expect(admin.locator("#purchase-orders tbody tr")).to_have_count(1)
    expect(admin.locator("#purchase-orders")).to_contain_text("NO-PO-")
    journal = pay_in_buying_entity(admin, invoice_number, total)
    assert journal.startswith("NO-VPJ-")

    buyer.goto(f"/invoices/{invoice_number}")
    expect(buyer.locator("h1 .status")).to_have_text("Paid")
    # The store's admin, back in the selling entity, sees the customer side posted.
    switch_entity(admin, "B2B · b2bshop Supplies B.V.")
    admin.goto("/admin/journals?kind=customer")
    expect(admin.locator("#journals tbody tr").first).to_contain_text("Posted")
