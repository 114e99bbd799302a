"""The cart and checkout in Chromium: paying (part of) an invoice by card, the
items-or-invoices rule, ordering items on account, a declined card, and the pages on a phone.

Amounts are read from the pages themselves (English, "€1,234.50"), never from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import PHONE, artifact_path

BUYER = "buyer@contoso.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"
CART_LINES = "#cart tbody tr[id^='cart-line-']"
MONEY_RE = re.compile(r"€(\d{1,3}(?:,\d{3})*\.\d{2})")
APPROVED_CARD = "4242 4242 4242 4242"


def euros(text: str) -> Decimal:
    """The first amount in `text`, e.g. "€1,234.50 ..." -> Decimal("1234.50")."""
    match = MONEY_RE.search(text)
    assert match, f"no amount in {text!r}"
    return Decimal(match.group(1).replace(",", ""))


def money(amount: Decimal) -> str:
    return f"€{amount:,.2f}"


def badge(page: Page) -> Locator:
    return page.locator("#cart-badge")


def fact(page: Page, name: str) -> Locator:
    """The value of one entry of the invoice page's amounts list (Total, Paid, Balance...)."""
    return page.locator("#invoice-detail dl.amounts").locator(
        f"xpath=dt[normalize-space()='{name}']/following-sibling::dd[1]"
    )


def invoice_facts(page: Page, number: str) -> tuple[Decimal, Decimal, str]:
    """(balance, paid, status label) as /invoices/<number> shows them."""
    page.goto(f"/invoices/{number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}")
    status = page.locator("#invoice-detail h1 span.status").first.inner_text().strip()
    return euros(fact(page, "Balance").inner_text()), euros(fact(page, "Paid").inner_text()), status


def pay_invoice_from_list(page: Page, status: str) -> tuple[str, Decimal]:
    """Click "Pay invoice" on the first open invoice of `status`: its number and balance.

    Checks the htmx round trip: the cell says what went into the cart and the header badge
    counts one more line, without the page being reloaded.
    """
    page.goto(f"/invoices?status={status}")
    row = page.locator(ROWS).first
    expect(row).to_have_attribute("data-status", status)
    number = (row.get_attribute("id") or "").removeprefix("invoice-")
    assert re.fullmatch(r"INV-\d+", number), number
    balance = euros(row.locator("td[data-label='Balance']").inner_text())
    assert balance > 0, balance
    before = int(badge(page).inner_text())

    page.evaluate("window.__marker = 1")
    row.get_by_role("button", name=f"Pay invoice {number}", exact=True).click()
    cell = page.locator(f"#pay-{number}")
    # Partially paid and overdue invoices are past their cash-discount date: the cart
    # proposes the whole balance.
    expect(cell).to_contain_text(f"In your cart: {money(balance)}")
    expect(cell.get_by_role("link", name="Checkout", exact=True)).to_have_attribute(
        "href", "/checkout"
    )
    expect(badge(page)).to_have_text(str(before + 1))
    assert page.evaluate("window.__marker") == 1, "Pay invoice reloaded the page"
    return number, balance


def amount_input(page: Page, number: str) -> Locator:
    return page.get_by_label(f"Amount to pay for {number}", exact=True)


def go_to_checkout(page: Page, live_server: str) -> None:
    page.get_by_role("link", name="Go to checkout", exact=True).click()
    page.wait_for_url(f"{live_server}/checkout")
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()


def pay_by_card(page: Page, card: str, amount: Decimal) -> None:
    page.get_by_label("Card", exact=True).check()
    card_number = page.locator("#card_number")
    card_number.fill("")
    card_number.press_sequentially(card)
    page.get_by_role("button", name=f"Pay {money(amount)}", exact=True).click()


def test_pay_part_of_a_partially_paid_invoice_by_card(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)
    page.goto("/invoices")
    expect(badge(page)).to_have_text("0")
    number, balance = pay_invoice_from_list(page, "partially_paid")
    assert balance > Decimal("10.00"), balance
    start_balance, start_paid, start_status = invoice_facts(page, number)
    assert (start_balance, start_status) == (balance, "Partially paid")

    page.goto("/cart")
    expect(page.locator(CART_LINES)).to_have_count(1)
    line = page.locator(CART_LINES).first
    expect(line.get_by_role("link", name=number, exact=True)).to_be_visible()
    expect(line.locator("td[data-label='Balance']")).to_have_text(money(balance))
    amount = amount_input(page, number)
    expect(amount).to_have_value(f"{balance:.2f}")
    expect(page.locator("#cart .cart-total")).to_contain_text(money(balance))
    page.screenshot(path=artifact_path("cart-desktop"), full_page=True)

    # Pay a part: the change event posts the amount and htmx swaps the cart.
    page.evaluate("window.__marker = 2")
    old_cart = page.locator("#cart").element_handle()
    amount.fill("10.00")
    amount.press("Tab")
    expect(page.locator("#cart .cart-total")).to_have_text("Total: €10.00")
    assert old_cart.evaluate("el => el.isConnected") is False, "#cart was not swapped"
    expect(amount_input(page, number)).to_have_value("10.00")
    expect(amount_input(page, number)).not_to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__marker") == 2, "changing the amount reloaded the page"

    # An amount of zero is refused inline, and the stored amount stays what it was.
    amount = amount_input(page, number)
    amount.fill("0")
    amount.press("Tab")
    error = page.locator("#cart .field-error")
    expect(error).to_contain_text("greater than zero")
    amount = amount_input(page, number)
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_attribute("aria-describedby", error.get_attribute("id") or "-")
    assert page.evaluate("window.__marker") == 2, "the refusal reloaded the page"
    page.reload()
    expect(amount_input(page, number)).to_have_value("10.00")
    expect(page.locator("#cart .field-error")).to_have_count(0)
    expect(page.locator("#cart .cart-total")).to_have_text("Total: €10.00")

    go_to_checkout(page, live_server)
    summary = page.locator(".grid-2 .card").first
    expect(summary).to_contain_text(number)
    expect(summary).to_contain_text(f"of {money(balance)}")
    expect(summary.locator(".cart-total")).to_have_text("Total: €10.00")
    expect(page.get_by_label("Card", exact=True)).to_be_checked()
    pay_by_card(page, APPROVED_CARD, Decimal("10.00"))

    page.wait_for_url(re.compile(rf"^{re.escape(live_server)}/payments/PAY-\d+$"))
    receipt = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Thank you", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Receipt number")
    expect(page.locator("#receipt-number")).to_have_text(receipt)
    facts = page.locator(".receipt dl.facts")
    expect(facts).to_contain_text("€10.00")
    expect(facts).to_contain_text("Card")
    expect(facts).to_contain_text("Paid")
    allocations = page.locator(".receipt table tbody tr")
    expect(allocations).to_have_count(1)
    expect(allocations.first).to_contain_text(number)
    expect(allocations.first).to_contain_text("€10.00")
    expect(badge(page)).to_have_text("0")

    new_balance, new_paid, new_status = invoice_facts(page, number)
    assert new_balance == start_balance - Decimal("10.00"), (start_balance, new_balance)
    assert new_paid == start_paid + Decimal("10.00"), (start_paid, new_paid)
    assert new_status == "Partially paid", new_status
    settlements = page.locator("#invoice-detail table").last.locator("tbody tr", has_text=receipt)
    expect(settlements).to_have_count(1)
    expect(settlements).to_contain_text("€10.00")


def test_items_are_refused_while_invoices_are_in_the_cart(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)
    number, balance = pay_invoice_from_list(page, "unpaid")

    page.goto("/catalog")
    cell = page.locator("#product-list td[id^='add-']").first
    sku = (cell.get_attribute("id") or "").removeprefix("add-")
    assert sku, "no add-to-cart cell in the catalog"
    page.evaluate("window.__marker = 3")
    product = cell.locator("xpath=ancestor::tr").locator("td[data-label='Product']")
    name = product.inner_text().strip()
    cell.get_by_role("button", name=f"Add to cart {name}", exact=True).click()
    refusal = cell.locator(".add-result [role='alert']")
    expect(refusal).to_contain_text(
        "Your cart holds invoices to pay. Finish that payment or empty the cart before "
        "ordering items"
    )
    expect(refusal.get_by_role("link", name="Go to the cart", exact=True)).to_have_attribute(
        "href", "/cart"
    )
    assert page.evaluate("window.__marker") == 3, "the refusal reloaded the page"
    expect(badge(page)).to_have_text("1")

    page.goto("/cart")
    expect(page.locator(CART_LINES)).to_have_count(1)
    expect(page.locator("#cart")).to_contain_text("Invoices to pay")
    expect(page.locator(CART_LINES).first).to_contain_text(number)
    expect(amount_input(page, number)).to_have_value(f"{balance:.2f}")
    expect(page.locator("#cart")).not_to_contain_text(sku)


def test_order_items_on_account(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)
    pay_invoice_from_list(page, "unpaid")

    # Empty the cart first: it holds an invoice, and a cart holds invoices or items.
    page.goto("/cart")
    expect(page.locator(CART_LINES)).to_have_count(1)
    page.get_by_role("button", name="Empty the cart", exact=True).click()
    expect(page.locator("#cart .empty")).to_contain_text("Your cart is empty.")
    expect(page.locator(CART_LINES)).to_have_count(0)
    expect(badge(page)).to_have_text("0")

    page.goto("/catalog")
    row = page.locator("#product-list tbody tr", has=page.locator("td[id^='add-']")).first
    cell = row.locator("td[id^='add-']")
    sku = (cell.get_attribute("id") or "").removeprefix("add-")
    name = row.locator("td[data-label='Product']").inner_text().strip()
    price = euros(row.locator("td[data-label='Price']").inner_text())
    stock = int(row.locator("td[data-label='In stock']").inner_text())
    assert stock >= 2, (sku, stock)
    page.evaluate("window.__marker = 4")
    page.locator(f"#qty-{sku}").fill("2")
    cell.get_by_role("button", name=f"Add to cart {name}", exact=True).click()
    added = cell.locator(".add-result")
    expect(added).to_contain_text(f"2 × {name} in your cart")
    expect(added.get_by_role("link", name="Cart", exact=True)).to_have_attribute("href", "/cart")
    expect(badge(page)).to_have_text("1")
    assert page.evaluate("window.__marker") == 4, "Add to cart reloaded the page"

    page.goto("/cart")
    expect(page.locator(CART_LINES)).to_have_count(1)
    expect(page.locator("#cart")).to_contain_text("Items to order on account")
    line = page.locator(CART_LINES).first
    expect(line).to_contain_text(sku)
    expect(line.get_by_label(f"Quantity of {name}", exact=True)).to_have_value("2")
    total = price * 2
    expect(line.locator("td[data-label='Amount']")).to_have_text(money(total))

    go_to_checkout(page, live_server)
    expect(page.locator(".grid-2 .card").first).to_contain_text(f"2 × {name}")
    expect(page.locator("input[name='method']")).to_have_count(1)  # on account, hidden
    with page.expect_navigation():
        page.get_by_role("button", name="Place order on account", exact=True).click()

    page.wait_for_url(re.compile(rf"^{re.escape(live_server)}/orders/SO-\d+$"))
    order_number = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Thank you for your order", level=1)).to_be_visible()
    expect(page.locator("#order-number")).to_have_text(order_number)
    expect(page.locator(".receipt dl.facts")).to_contain_text(money(total))
    order_lines = page.locator(".receipt table tbody tr")
    expect(order_lines).to_have_count(1)
    expect(order_lines.first).to_contain_text(name)
    expect(order_lines.first.locator("td").nth(1)).to_have_text("2")
    expect(badge(page)).to_have_text("0")


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (
            "4000 0000 0000 0002",
            "Your card was declined. Nothing was charged; try another card or pay by "
            "bank transfer.",
        ),
        (
            "4000 0000 0000 9995",
            "Your card has insufficient funds. Nothing was charged; try another card or pay "
            "by bank transfer.",
        ),
    ],
    ids=["declined", "insufficient_funds"],
)
def test_a_refused_card_charges_nothing(
    demo: None,
    page: Page,
    live_server: str,
    sign_in: Callable[..., None],
    card: str,
    message: str,
) -> None:
    sign_in(page, BUYER)
    number, balance = pay_invoice_from_list(page, "partially_paid")
    start_balance, start_paid, start_status = invoice_facts(page, number)

    page.goto("/cart")
    go_to_checkout(page, live_server)
    pay_by_card(page, card, balance)

    expect(page.get_by_role("alert")).to_have_text(message)
    expect(page).to_have_url(f"{live_server}/checkout")
    # The form is there to try again, the invoice still in the cart.
    expect(page.get_by_role("button", name=f"Pay {money(balance)}", exact=True)).to_be_visible()
    expect(page.get_by_label("Card", exact=True)).to_be_checked()
    expect(badge(page)).to_have_text("1")

    assert invoice_facts(page, number) == (start_balance, start_paid, start_status)
    assert start_balance == balance
    page.goto("/cart")
    expect(amount_input(page, number)).to_have_value(f"{balance:.2f}")


def test_checkout_on_a_phone(
    demo: None, new_page: Callable[..., Page], live_server: str, sign_in: Callable[..., None]
) -> None:
    page = new_page(viewport=PHONE)
    sign_in(page, BUYER)
    number, balance = pay_invoice_from_list(page, "partially_paid")

    page.goto("/checkout")
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    expect(page.locator(".grid-2 .card").first).to_contain_text(number)
    pay = page.get_by_role("button", name=f"Pay {money(balance)}", exact=True)
    expect(pay).to_be_visible()
    expect(page.locator("#card_number")).to_be_visible()
    page.screenshot(path=artifact_path("checkout-phone"), full_page=True)
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], f"horizontal overflow on a phone: {widths}"
