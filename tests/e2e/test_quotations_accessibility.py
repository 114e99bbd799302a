"""Accessibility of issue 18's pages in Chromium: axe (WCAG 2.2 A and AA), the design checks
and no sideways scroll at 320 px, through the Scanner of test_accessibility.py: the buyer's
quotations (requested, open, refused, accepted), orders and payments, the cart with its
suggestions and quote request, a product page; the admin's quotations (list, new with
errors, pricing with errors, sent) and suggestion rules (list, form with errors)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule
from tests.e2e.test_accessibility import ADMIN, BUYER, Scanner


def _rules(app) -> None:
    with app.app_context():
        found = {
            p.sku: p
            for p in db.session.scalars(
                select(Product).where(Product.sku.in_(["IT-KBD-WL", "IT-HUB-7", "IT-MSE-WL"]))
            )
        }
        for kind, target, note in (
            (SuggestionKind.UPSELL, "IT-KBD-WL", "One receiver for both"),
            (SuggestionKind.CROSS_SELL, "IT-HUB-7", ""),
        ):
            db.session.add(
                SuggestionRule(
                    kind=kind,
                    product=found["IT-MSE-WL"],
                    category="",
                    suggested_product=found[target],
                    priority=1,
                    note=note,
                    active=True,
                )
            )
        db.session.commit()


def test_issue_18_pages_have_no_axe_violations(
    app, demo: None, new_page: Callable[..., Page], sign_in: Callable[..., None]
) -> None:
    _rules(app)
    buyer = new_page()
    admin = new_page()
    scan_buyer, scan_admin = Scanner(buyer), Scanner(admin)
    sign_in(buyer, BUYER)
    sign_in(admin, ADMIN)

    buyer.goto("/quotations")
    scan_buyer("quotations, none yet")
    buyer.goto("/products/IT-MSE-WL")
    scan_buyer("product page with suggestions")
    buyer.get_by_role("button", name="Add to cart").click()
    buyer.wait_for_load_state()
    buyer.goto("/cart")
    expect(buyer.locator("#cart-suggestions")).to_contain_text("One receiver for both")
    scan_buyer("cart with suggestions and quote request")
    buyer.goto("/suggestions/cart")
    scan_buyer("cart suggestions without JavaScript")
    buyer.goto("/cart")
    with buyer.expect_navigation():
        buyer.get_by_role("button", name="Request a quote").click()
    number = buyer.get_by_role("heading", level=1).inner_text().split()[-1]
    scan_buyer("quotation requested")

    admin.goto("/admin/quotations")
    scan_admin("admin quotations")
    admin.goto("/admin/quotations/new")
    scan_admin("admin new quotation")
    admin.get_by_role("button", name="Create quotation").click()
    admin.wait_for_load_state()
    scan_admin("admin new quotation, no customer")
    admin.goto(f"/admin/quotations/{number}")
    scan_admin("admin quotation to price")
    admin.get_by_label("Quoted unit price 1").fill("-3")
    admin.get_by_label("Valid until").fill("2000-01-01")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_load_state()
    scan_admin("admin quotation, bad price")
    admin.get_by_label("Quoted unit price 1").fill("18.00")
    admin.get_by_label("Valid until").fill((date.today() + timedelta(days=3)).isoformat())
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_load_state()
    admin.get_by_role("button", name="Send to the customer").click()
    admin.wait_for_load_state()
    scan_admin("admin quotation sent")
    admin.goto("/admin/suggestions")
    scan_admin("admin suggestion rules")
    admin.goto("/admin/suggestions/new")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_load_state()
    scan_admin("admin suggestion rule, errors")

    buyer.goto(f"/quotations/{number}")
    scan_buyer("quotation open")
    buyer.get_by_role("button", name="Accept and order").click()
    buyer.wait_for_load_state()
    scan_buyer("quotation accepted")
    buyer.goto("/quotations")
    scan_buyer("quotations list")
    buyer.goto("/account")
    scan_buyer("my account with history links")
    buyer.goto("/account/orders")
    scan_buyer("my orders")
    buyer.goto("/account/orders?status=bogus")
    scan_buyer("my orders, filter not understood")
    buyer.goto("/account/payments")
    scan_buyer("my payments")

    # A refused decision: another sent quotation, expired before the buyer answers.
    admin.goto("/admin/quotations/new")
    admin.get_by_label("Customer", exact=True).select_option(label="Contoso Retail (C-1001)")
    admin.get_by_role("button", name="Create quotation").click()
    admin.wait_for_load_state()
    second = admin.get_by_role("heading", level=1).inner_text().split()[-1]
    admin.get_by_label("Product 1").select_option(index=1)
    admin.get_by_label("Quantity 1").fill("2")
    admin.get_by_label("Quoted unit price 1").fill("5")
    admin.get_by_label("Valid until").fill(date.today().isoformat())
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_load_state()
    admin.get_by_role("button", name="Send to the customer").click()
    admin.wait_for_load_state()
    with app.app_context():
        from b2bshop.quotations.models import Quotation

        db.session.execute(
            Quotation.__table__.update()
            .where(Quotation.number == second)
            .values(valid_until=date.today() - timedelta(days=1))
        )
        db.session.commit()
    buyer.goto(f"/quotations/{second}")
    scan_buyer("quotation past its date")

    scan_buyer.check()
    scan_admin.check()
