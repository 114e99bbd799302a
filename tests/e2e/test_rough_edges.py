"""The rough edges of issue 15 that a browser can see: dead ends, missing headings, names,
an offer that has ended, the toast, the phone list, SKUs, the catalog of a user who may not
order, removing a user, the free text form's customer, the audit log, /favicon.ico."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE

BUYER = "buyer@contoso.example"
PAYER = "ap@contoso.example"
ADMIN = "admin@b2bshop.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"


def test_buyer_rough_edges(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)

    # Pay selected with nothing ticked: the list again (its filter kept), the refusal in
    # the error summary linked to the table; not a "That did not work" page.
    page.goto("/invoices?status=unpaid")
    page.get_by_role("button", name="Pay selected").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Invoices", level=1)).to_be_visible()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text("Select at least one invoice.")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#invoice-table")
    expect(page.locator("#filter-status")).to_have_value("unpaid")
    assert page.title().startswith("Error: "), page.title()
    # A total that is refused is kept and marked.
    page.locator("#invoice-table input[type=checkbox]").first.check()
    page.locator("#bulk-total").fill("-1")
    page.get_by_role("button", name="Pay selected").click()
    page.wait_for_load_state()
    expect(page.locator("#bulk-total")).to_have_value("-1")
    expect(page.locator("#bulk-total")).to_have_attribute("aria-invalid", "true")

    # Repeated links and buttons say which invoice they act on.
    page.goto("/invoices")
    for row in page.locator(ROWS).all()[:3]:
        number = (row.get_attribute("id") or "").removeprefix("invoice-")
        for name in (f"Request invoice {number}", f"PDF {number}", f"UBL {number}"):
            expect(row.get_by_role("link", name=name, exact=True)).to_have_count(1)

    # The page without JavaScript for Request invoice has its h1.
    number = (page.locator(ROWS).first.get_attribute("id") or "").removeprefix("invoice-")
    page.goto(f"/invoices/{number}/request")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request invoice")

    # An offer whose date is past is not shown as if it held: "Ended on <date>" instead.
    page.goto("/invoices")
    numbers = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.id.slice(8))")
    seen = {"ended": 0, "running": 0}
    for n in numbers:
        page.goto(f"/invoices/{n}")
        cell = page.locator("#cash-discount")
        if not cell.count():
            continue
        text = cell.inner_text()
        when = re.search(r"(?:Ended on|if paid by) (\w{3} \d{1,2}, \d{4})", text)
        assert when, text
        day = datetime.strptime(when.group(1), "%b %d, %Y").date()
        if "Ended on" in text:
            assert day < date.today(), text
            seen["ended"] += 1
        else:
            assert day >= date.today(), text
            seen["running"] += 1
    assert seen["ended"] and seen["running"], seen

    # Users: Remove asks first; No keeps the user.
    page.goto("/account/users")
    remove = page.locator("td.actions").get_by_role("button", name=re.compile(r"^Remove "))
    expect(remove.first).to_be_visible()
    questions: list[str] = []

    def dismiss(dialog) -> None:  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    remove.first.click()
    page.wait_for_timeout(200)
    assert questions and questions[0].startswith("Remove "), questions
    assert "can no longer sign in" in questions[0], questions
    expect(page).to_have_url(f"{live_server}/account/users")
    expect(page.locator("#flashes")).to_have_text("")

    # /favicon.ico answers with the icon, not a 404.
    response = page.request.get("/favicon.ico")
    assert response.ok and response.headers["content-type"].startswith("image/svg"), (
        response.status,
        response.headers,
    )


def test_phone_invoice_list_and_the_catalog_of_a_user_who_may_not_order(
    demo: None, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    page = new_page(viewport=PHONE)
    sign_in(page, BUYER)
    page.goto("/invoices")
    # The checkbox sits beside the number, on the same line, 24 px at least.
    row = page.locator(f"{ROWS}:has(input[type=checkbox])").first
    box = row.locator("input[type=checkbox]").bounding_box()
    number = row.locator("td[data-label='Number']").bounding_box()
    assert box and number
    assert box["height"] >= 24 and box["width"] >= 24, box
    assert abs(box["y"] - number["y"]) < number["height"], (box, number)
    # A SKU never breaks: one line.
    page.goto("/catalog")
    code = page.locator("#product-list td code").first
    height = code.evaluate("el => el.getBoundingClientRect().height")
    line = code.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 24")
    assert height < 1.5 * line, (height, line)

    page.context.clear_cookies()
    sign_in(page, PAYER)
    page.goto("/catalog")
    expect(page.locator("#catalog-no-order")).to_contain_text("may not place orders")
    expect(page.locator("td[id^='add-']")).to_have_count(0)


def test_admin_rough_edges(demo: None, page: Page, sign_in: Callable[..., None]) -> None:
    sign_in(page, ADMIN)

    # The free text form presets no customer: it asks for one.
    page.goto("/admin/free-text/new")
    expect(page.locator("#customer_id option:checked")).to_have_text("Choose a customer")
    page.get_by_role("button", name="Post invoice").click()
    page.wait_for_load_state()
    expect(page.locator("[data-error-summary] a")).to_have_attribute("href", "#customer_id")

    # The audit log shows a change field by field: before → after.
    page.goto("/admin/customers")
    page.locator("#admin-list tbody a").first.click()
    page.get_by_role("link", name="Edit", exact=True).click()
    old = page.locator("#credit_limit").input_value()
    page.locator("#credit_limit").fill("123456.00")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    page.goto("/admin/audit")
    change = page.locator("#audit ul.diff li", has_text="Credit limit").first
    expect(change.locator("del")).to_have_text(old)
    expect(change.locator("ins")).to_have_text("123456.00")
