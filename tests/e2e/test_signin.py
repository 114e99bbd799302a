"""Signing in through the real form, in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, artifact_path

BUYER = "buyer@contoso.example"


def test_buyer_signs_in_and_lands_on_the_storefront(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER, "demo")

    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("main")).to_contain_text("Contoso Retail")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    for name in ("Catalog", "Invoices", "Cart", "My account"):
        expect(nav.get_by_role("link", name=re.compile(rf"^{name}\b"))).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    page.screenshot(path=artifact_path("signin-storefront"), full_page=True)


def test_wrong_password_is_refused(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER, "not-the-password")

    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("alert")).to_have_text("Email or password is wrong.")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    # The form is still there to try again, the email kept, the password not.
    expect(page.get_by_label("Email", exact=True)).to_have_value(BUYER)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")


def test_home_fits_a_phone(
    demo: None, new_page: Callable[..., Page], live_server: str, sign_in: Callable[..., None]
) -> None:
    page = new_page(viewport=PHONE)
    sign_in(page, BUYER, "demo")

    expect(page).to_have_url(f"{live_server}/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Catalog")).to_be_in_viewport()
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    page.screenshot(path=artifact_path("home-phone"), full_page=True)
    assert widths["scroll"] <= widths["inner"], f"horizontal overflow on a phone: {widths}"
