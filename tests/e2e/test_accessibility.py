"""Accessibility in Chromium: axe-core (WCAG 2.2 A and AA, target size included) on every
buyer and admin page state the tests can reach — lists, empty lists, forms with errors,
refusals, dialogs, HTMX results — each at 1280 px and at 320 px, and no page that scrolls
sideways at 320 px.

One walk per role, one browser page each: every state is scanned at both widths in place
(the viewport is resized, the page is not reloaded), so a dialog or an HTMX result is
scanned exactly as the user sees it. The tests collect every finding and fail once with
all of them, so a run names everything that is wrong, not only the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DESKTOP, E2E_DIR

BUYER = "buyer@contoso.example"
PAYER = "ap@contoso.example"
ADMIN = "admin@b2bshop.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"
NARROW = {"width": 320, "height": 640}

#: WCAG 2.0, 2.1 and 2.2 at levels A and AA. target-size (2.5.8) is tagged wcag22aa; it is
#: named again under `rules` so that it runs whatever axe's default for it.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"],
    },
    "rules": {"target-size": {"enabled": True}},
    "resultTypes": ["violations"],
}

_axe = Axe()
#: Target size, field and button borders, focus ring: what axe does not measure.
DESIGN_JS = (E2E_DIR / "design_checks.js").read_text()

OVERFLOW_JS = """() => ({scroll: document.documentElement.scrollWidth,
                         inner: window.innerWidth,
                         wide: [...document.querySelectorAll('body *')]
                           .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                                        && getComputedStyle(e).position !== 'fixed'
                                        && !e.closest('.table-scroll'))
                           .slice(0, 3).map(e => e.tagName.toLowerCase()
                             + (e.id ? '#' + e.id : '')
                             + (e.className && typeof e.className === 'string'
                                ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))})"""


@dataclass
class Scanner:
    """Scans page states; keeps what it found."""

    page: Page
    scans: int = 0
    states: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    design: list[str] = field(default_factory=list)
    overflows: list[str] = field(default_factory=list)

    def __call__(self, state: str) -> None:
        self.states.append(state)
        for width, viewport in (("1280", DESKTOP), ("320", NARROW)):
            self.page.set_viewport_size(viewport)
            # Let a resize reflow (and a transition end) before measuring.
            self.page.wait_for_timeout(50)
            results = _axe.run(self.page, options=AXE_OPTIONS)
            self.scans += 1
            for violation in results.response["violations"]:
                targets = [", ".join(map(str, n["target"])) for n in violation["nodes"]]
                self.violations.append(
                    f"{state} @{width}: {violation['id']} ({violation['impact']}): "
                    f"{violation['help']} — {'; '.join(targets[:6])}"
                )
            for problem in self.page.evaluate(DESIGN_JS):
                self.design.append(f"{state} @{width}: {problem}")
            if viewport is NARROW:
                widths = self.page.evaluate(OVERFLOW_JS)
                if widths["scroll"] > widths["inner"]:
                    self.overflows.append(f"{state}: {widths}")
        self.page.set_viewport_size(DESKTOP)

    def check(self) -> None:
        print(f"\naxe: {self.scans} scans of {len(self.states)} page states")
        report = "\n".join(
            self.violations
            + self.design
            + [f"sideways scroll at 320 px: {o}" for o in self.overflows]
        )
        assert not (self.violations or self.design or self.overflows), report


def first_number(page: Page, status: str | None = None) -> str:
    selector = f"{ROWS}[data-status='{status}']" if status else ROWS
    return (page.locator(selector).first.get_attribute("id") or "").removeprefix("invoice-")


def test_buyer_pages_have_no_axe_violations(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    scan = Scanner(page)

    page.goto("/login")
    scan("sign in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    scan("sign in, empty fields")
    sign_in(page, BUYER, "wrong-password")
    scan("sign in, wrong password")

    sign_in(page, BUYER)
    scan("home")

    page.goto("/catalog")
    scan("catalog")
    page.locator("form.add-to-cart").first.get_by_role("button").click()
    expect(page.locator(".add-result .added").first).to_be_visible()
    scan("catalog, added to the cart")
    page.goto("/catalog?q=no-such-product")
    scan("catalog, no match")

    page.goto("/cart")
    scan("cart with items")
    page.goto("/checkout")
    scan("checkout, items on account")
    page.goto("/invoices")
    page.locator(ROWS).first.get_by_role("button", name=re.compile("^Pay invoice")).click()
    expect(page.locator(".refusal").first).to_be_visible()
    scan("invoices, pay refused (items in the cart)")
    page.goto("/cart")
    page.locator("#cart").get_by_role("button", name="Empty the cart").click()
    expect(page.locator("#cart .empty")).to_be_visible()
    scan("cart, empty")
    page.goto("/checkout")
    scan("checkout, empty cart")

    page.goto("/invoices")
    scan("invoices")
    page.locator("#filter-status").select_option("partially_paid")
    page.wait_for_url(re.compile(r"status=partially_paid"))
    scan("invoices, filtered")
    page.goto("/invoices?q=NO-SUCH")
    scan("invoices, no match")
    page.goto("/invoices?due_from=not-a-date&status=nonsense")
    scan("invoices, filters not understood")

    page.goto("/invoices")
    number = first_number(page)
    page.locator(f"#invoice-{number}").get_by_role(
        "link", name=re.compile("^Request invoice")
    ).click()
    expect(page.locator("#dialog dialog")).to_be_visible()
    scan("request invoice dialog")
    page.locator("#dialog dialog").get_by_role("button", name="Send it to me").click()
    expect(page.locator("#dialog .toast")).to_be_visible()
    scan("request invoice sent (toast)")
    page.goto(f"/invoices/{number}/request")
    scan("request invoice, page without JavaScript")

    page.goto("/invoices?status=partially_paid")
    open_number = first_number(page, "partially_paid")
    page.goto(f"/invoices/{open_number}")
    scan("invoice page")
    page.locator("#invoice-detail").get_by_role("button", name=re.compile("^Pay invoice")).click()
    expect(page.locator(f"#pay-{open_number} .added")).to_be_visible()
    scan("invoice page, added to the cart")
    page.goto("/invoices?status=paid")
    page.goto(f"/invoices/{first_number(page, 'paid')}")
    scan("invoice page, paid")

    page.goto("/cart")
    scan("cart with invoices")
    amount = page.locator("#cart input[name='amount']").first
    amount.fill("-5")
    amount.press("Enter")
    expect(page.locator("#cart .field-error").first).to_be_visible()
    scan("cart, amount refused")
    page.goto("/catalog")
    page.locator("form.add-to-cart").first.get_by_role("button").click()
    expect(page.locator(".add-result .refusal").first).to_be_visible()
    scan("catalog, add refused (invoices in the cart)")

    page.goto("/checkout")
    scan("checkout, invoices")
    page.locator("#card_number").fill("4000000000000002")
    page.locator("#checkout-form button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert").first).to_be_visible()
    scan("checkout, card declined")
    page.locator("#card_number").fill("4242424242424242")
    page.locator("#checkout-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/payments/"))
    scan("receipt")

    page.goto("/invoices")
    page.get_by_role("button", name="Pay selected").click()
    page.wait_for_load_state()
    scan("pay selected, nothing ticked")
    page.locator("#invoice-table input[type=checkbox]").first.check()
    page.locator("#bulk-total").fill("-1")
    page.get_by_role("button", name="Pay selected").click()
    page.wait_for_load_state()
    scan("pay selected, total refused")

    page.goto("/account")
    scan("my account")
    page.goto("/account/requests")
    scan("B2B requests")
    page.goto("/account/requests?status=failed")
    scan("B2B requests, none")
    page.goto("/account/users")
    scan("users")
    page.locator("#new-email").fill("not-an-address")
    page.get_by_role("button", name="Invite the user").click()
    page.wait_for_load_state()
    scan("users, add refused")

    page.goto("/invoices/INV-999999")
    scan("page not found")
    page.goto("/invitations/not-a-token")
    scan("invitation not valid")
    page.goto("/logout")
    scan("sign out")
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    scan("signed out")

    sign_in(page, PAYER)
    page.goto("/catalog")
    scan("catalog of a user who may not order")
    page.goto("/account/users")
    scan("users, not allowed")

    scan.check()


def test_admin_pages_have_no_axe_violations(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    scan = Scanner(page)
    sign_in(page, ADMIN)

    page.goto("/admin/")
    scan("dashboard")
    for path, state in [
        ("/admin/customers", "customers"),
        ("/admin/customers?q=no-such-customer", "customers, no match"),
        ("/admin/customers/new", "new customer"),
        ("/admin/payment-terms", "payment terms"),
        ("/admin/payment-terms/new", "new payment terms"),
        ("/admin/products", "products"),
        ("/admin/products/new", "new product"),
        ("/admin/orders", "sales orders"),
        ("/admin/orders/new", "new sales order"),
        ("/admin/packing-slips", "packing slips"),
        ("/admin/invoices", "invoices"),
        ("/admin/invoices?due_from=nonsense", "invoices, filter not understood"),
        ("/admin/free-text", "free text invoices"),
        ("/admin/free-text/new", "new free text invoice"),
        ("/admin/payments", "payments"),
        ("/admin/payments/new", "record a payment: customer"),
        ("/admin/requests", "B2B requests monitor"),
        ("/admin/audit", "audit log"),
        ("/admin/settings/legal", "legal data"),
    ]:
        page.goto(path)
        scan(state)

    # Forms sent empty: every field error shown.
    for path, state in [
        ("/admin/customers/new", "new customer, errors"),
        ("/admin/payment-terms/new", "new payment terms, errors"),
        ("/admin/products/new", "new product, errors"),
    ]:
        page.goto(path)
        for box in page.locator(
            "form.form-grid input:not([type=hidden]):not([type=checkbox])"
        ).all():
            box.fill("")
        page.locator("form.form-grid button[type=submit]").click()
        page.wait_for_load_state()
        scan(state)
    for path, link, state in [
        ("/admin/payment-terms", "#admin-list tbody a", "edit payment terms"),
        ("/admin/products", "#admin-list tbody a", "edit product"),
    ]:
        page.goto(path)
        page.locator(link).first.click()
        page.wait_for_load_state()
        scan(state)
    page.goto("/admin/free-text/new")
    page.locator("#customer_id").select_option(index=1)
    page.locator("#ft-account-0").select_option(index=1)
    page.locator("#ft-description-0").fill("Consulting, November")
    page.locator("#ft-amount-0").fill("1250.00")
    page.locator("#ft-tax-0").fill("21")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/admin/free-text/\d+$"))
    scan("free text invoice, draft saved")
    page.goto("/admin/orders/new")
    page.get_by_role("button", name="Create order").click()
    page.wait_for_load_state()
    scan("new sales order, errors")
    page.goto("/admin/free-text/new")
    page.get_by_role("button", name="Post invoice").click()
    page.wait_for_load_state()
    scan("new free text invoice, errors")

    page.goto("/admin/customers")
    page.locator("#admin-list tbody a").first.click()
    page.wait_for_load_state()
    scan("customer")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.wait_for_load_state()
    scan("edit customer")
    edit_url = page.url
    page.locator("#credit_limit").fill("")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    scan("edit customer, errors")
    page.locator("#credit_limit").fill("123456.00")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    page.goto("/admin/audit")
    scan("audit log, a change")
    page.goto(edit_url.replace("/edit", "/einvoice"))
    scan("customer e-invoice data")
    page.goto(page.url.replace("/einvoice", ""))
    page.get_by_role("link", name="Record a payment").click()
    page.wait_for_load_state()
    scan("record a payment: allocations")
    page.locator("#manual-payment input[name^='amount-']").first.fill("abc")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_load_state()
    scan("record a payment, refused")

    page.goto("/admin/orders/new")
    page.locator("#order-customer").select_option(index=1)
    page.locator("#order-product-0").select_option(index=1)
    page.locator("#order-quantity-0").fill("2")
    page.get_by_role("button", name="Create order").click()
    page.wait_for_url(re.compile(r"/admin/orders/SO-"))
    scan("sales order, open")
    page.get_by_role("button", name="Confirm order").click()
    page.wait_for_load_state()
    scan("sales order, confirmed")
    page.get_by_role("button", name="Post packing slip").click()
    page.wait_for_load_state()
    scan("sales order, delivered")
    page.goto("/admin/orders")
    scan("sales orders, one")
    page.goto("/admin/packing-slips")
    scan("packing slips to invoice")
    page.goto("/admin/invoices")
    page.locator("#admin-list tbody a").first.click()
    page.wait_for_load_state()
    scan("invoice")
    page.goto("/admin/payments")
    page.locator("#payments tbody a").first.click()
    page.wait_for_load_state()
    scan("payment")
    page.goto("/admin/payments?status=pending")
    links = page.locator("#payments tbody a")
    if links.count():
        links.first.click()
        page.wait_for_load_state()
        scan("payment, pending transfer")

    scan.check()


@pytest.mark.parametrize("locale", ["en", "fr", "nl"])
def test_no_page_scrolls_sideways_at_320_px(
    demo: None,
    new_page: Callable[..., Page],
    live_server: str,
    sign_in: Callable[..., None],
    locale: str,
) -> None:
    """Every page a buyer and a store admin can open fits 320 px, in English and in the
    languages with the longest words: tables collapse to cards or scroll inside their own
    region, the nav wraps. The invoice list fits 1024 and 1280 px too."""
    page = new_page(viewport=NARROW)
    found: list[str] = []

    def check(path: str) -> None:
        page.goto(path)
        widths = page.evaluate(OVERFLOW_JS)
        if widths["scroll"] > widths["inner"]:
            found.append(f"{path} @{widths['inner']}: {widths}")

    def set_locale() -> None:
        if locale != "en":
            page.locator(".lang-switch").get_by_role("button", name=locale.upper()).click()
            page.wait_for_load_state()

    sign_in(page, BUYER)
    set_locale()
    page.goto("/invoices?status=partially_paid")
    number = first_number(page)
    # The invoice table is the widest: it scrolls in its own region on a small laptop too.
    for viewport in ({"width": 1024, "height": 768}, DESKTOP):
        page.set_viewport_size(viewport)
        check("/invoices")
    page.set_viewport_size(NARROW)
    for path in [
        "/",
        "/catalog",
        "/invoices",
        f"/invoices/{number}",
        f"/invoices/{number}/request",
        "/cart",
        "/checkout",
        "/account",
        "/account/requests",
        "/account/users",
    ]:
        check(path)
    page.context.clear_cookies()
    sign_in(page, ADMIN)
    set_locale()
    page.goto("/admin/orders/new")
    page.locator("#order-customer").select_option(index=1)
    page.locator("#order-product-0").select_option(index=1)
    page.locator("#order-quantity-0").fill("2")
    page.locator("#new-order button[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/orders/SO-"))
    order = page.url
    page.goto("/admin/customers")
    customer = page.locator("#admin-list tbody a").first.get_attribute("href")
    page.goto("/admin/payments")
    payment = page.locator("#payments tbody a").first.get_attribute("href")
    for path in [
        "/admin/",
        "/admin/customers",
        customer,
        f"{customer}/edit",
        "/admin/payment-terms",
        "/admin/products",
        "/admin/orders",
        order,
        "/admin/orders/new",
        "/admin/packing-slips",
        "/admin/invoices",
        f"/admin/invoices/{number}",
        "/admin/free-text",
        "/admin/free-text/new",
        "/admin/payments",
        payment,
        "/admin/requests",
        "/admin/audit",
        "/admin/settings/legal",
    ]:
        check(path)
    page.context.clear_cookies()
    check("/login")
    assert not found, "\n".join(found)
