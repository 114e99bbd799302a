"""The admin area in Chromium (issue 6, item 10): a store admin enters a sales order for
Contoso Retail, confirms it, delivers part of it on a packing slip and invoices what was
delivered; the buyer then finds the invoice (billed to Contoso Group, the invoice account)
with the due date of the customer's "2 % 10 / Net 30" terms. And the order page on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from babel.dates import format_date
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, artifact_path

ADMIN = "admin@b2bshop.example"
BUYER = "buyer@contoso.example"
CUSTOMER = "Contoso Retail"
SKU = "OFF-PAP-A4"  # 400 on hand in the demo data: all 5 are reserved on confirmation
INVOICE_RE = re.compile(r"INV-\d{6}")


def option_value(page: Page, select: str, starts_with: str) -> str:
    """The value of the first option of `select` whose text starts with `starts_with`."""
    texts = page.locator(f"{select} option").evaluate_all(
        "options => options.map(o => [o.value, o.textContent.trim()])"
    )
    values = [value for value, text in texts if text.startswith(starts_with)]
    assert values, f"no option starting with {starts_with!r} in {select}: {texts}"
    return values[0]


def test_admin_order_partial_delivery_invoice_reaches_the_buyer(
    demo: None,
    page: Page,
    new_page: Callable[..., Page],
    live_server: str,
    sign_in: Callable[..., None],
) -> None:
    sign_in(page, ADMIN)

    # --- a new sales order --------------------------------------------------------------
    page.goto("/admin/orders/new")
    expect(page.get_by_role("heading", name="New sales order", level=1)).to_be_visible()
    page.locator("#order-customer").select_option(
        option_value(page, "#order-customer", f"{CUSTOMER} (")
    )
    order_type = page.locator("#order-type")
    expect(order_type.locator("option:checked")).to_have_text("Sales order")
    page.locator("#order-product-0").select_option(
        option_value(page, "#order-product-0", f"{SKU} ·")
    )
    page.locator("#order-quantity-0").fill("5")
    page.screenshot(path=artifact_path("admin-order-new"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Create order", exact=True).click()

    page.wait_for_url(re.compile(rf"^{re.escape(live_server)}/admin/orders/SO-\d+$"))
    order_url = page.url
    order_number = order_url.rsplit("/", 1)[1]
    expect(page.locator("#flashes")).to_contain_text(f"Sales order {order_number} created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Sales order {order_number}")
    expect(page.locator("#order-status")).to_have_text("Open")
    expect(page.locator("#order-type")).to_have_text("Sales order")
    expect(page.locator("dl.facts")).to_contain_text(CUSTOMER)
    expect(page.locator("dl.facts")).to_contain_text("Invoiced to Contoso Group")
    expect(page.locator("dl.facts")).to_contain_text("2 % 10 / Net 30")
    line = page.locator("#order-lines tbody tr[data-line='1']")
    expect(page.locator("#order-lines tbody tr")).to_have_count(1)
    expect(line).to_contain_text(SKU)
    expect(line.locator("td").nth(2)).to_have_text("5")

    # --- confirm --------------------------------------------------------------------------
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm order", exact=True).click()
    expect(page.locator("#flashes")).to_contain_text("The order is confirmed.")
    expect(page.locator("#order-status")).to_have_text("Confirmed")
    deliver = page.locator("#deliver-1")
    expect(deliver).to_have_value("5")
    expect(page.locator("#order-lines td.delivered")).to_have_text("0")

    # --- a partial delivery ---------------------------------------------------------------
    deliver.fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Post packing slip", exact=True).click()
    expect(page.locator("#flashes")).to_contain_text(re.compile(r"Packing slip \S+ posted\."))
    expect(line.locator("td.delivered")).to_have_text("2")
    expect(line.locator("td.invoiced")).to_have_text("0")
    expect(page.locator("#order-status")).to_have_text("Confirmed")
    expect(page.locator("#deliver-1")).to_have_value("3")  # the rest is still to deliver
    slips = page.locator("#packing-slips tbody tr")
    expect(slips).to_have_count(1)
    expect(slips.first).to_contain_text(f"{SKU} × 2")
    expect(slips.first).to_contain_text("Not invoiced")
    page.screenshot(path=artifact_path("admin-order-delivered"), full_page=True)

    # --- invoice what was delivered -------------------------------------------------------
    invoice_button = page.locator("#invoice-order")
    expect(invoice_button).to_have_text("Post invoice for the delivered goods")
    with page.expect_navigation():
        invoice_button.click()
    page.wait_for_url(order_url)
    flash = page.locator("#flashes .flash-success")
    expect(flash).to_contain_text(re.compile(r"Invoice INV-\d{6} posted\."))
    match = INVOICE_RE.search(flash.inner_text())
    assert match, flash.inner_text()
    invoice_number = match.group(0)
    expect(slips.first.get_by_role("link", name=invoice_number, exact=True)).to_have_attribute(
        "href", f"/admin/invoices/{invoice_number}"
    )
    expect(line.locator("td.invoiced")).to_have_text("2")
    expect(page.locator("#order-status")).to_have_text("Confirmed")  # 3 still to deliver
    expect(page.locator("#invoice-order")).to_have_count(0)
    page.screenshot(path=artifact_path("admin-order-invoiced"), full_page=True)

    # The admin's invoice page: billed to the invoice account, due in 30 days.
    due_text = format_date(date.today() + timedelta(days=30), format="medium", locale="en")
    page.goto(f"/admin/invoices/{invoice_number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice_number}")
    expect(page.locator("dl.facts")).to_contain_text("Contoso Group")
    expect(page.locator("#invoice-due-date")).to_have_text(due_text)

    # --- the buyer sees it, in a browser context of their own -----------------------------
    buyer = new_page()
    sign_in(buyer, BUYER)
    buyer.goto("/invoices?sort=-due_date")
    row = buyer.locator(f"#invoice-{invoice_number}")
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "unpaid")
    expect(row.locator("td[data-label='Account']")).to_contain_text("Contoso Group")
    expect(row.locator("td[data-label='Due date']")).to_contain_text(due_text)
    buyer.screenshot(path=artifact_path("admin-buyer-invoices"), full_page=True)

    row.get_by_role("link", name=invoice_number, exact=True).click()
    buyer.wait_for_url(f"{live_server}/invoices/{invoice_number}")
    detail = buyer.locator("#invoice-detail dl.facts").first
    expect(detail).to_contain_text("Contoso Group")
    expect(
        detail.locator("xpath=dt[normalize-space()='Due date']/following-sibling::dd[1]")
    ).to_have_text(due_text)
    expect(buyer.locator("#invoice-detail table tbody tr")).to_have_count(1)
    expect(buyer.locator("#invoice-detail table tbody tr").first).to_contain_text(SKU)

    # --- the admin's order page on a phone ------------------------------------------------
    page.set_viewport_size(PHONE)
    page.goto(order_url)
    expect(page.locator("#order-status")).to_have_text("Confirmed")
    page.screenshot(path=artifact_path("admin-order-phone"), full_page=True)
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"] + 1, f"horizontal overflow on a phone: {widths}"
