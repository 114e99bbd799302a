"""The README's screenshots, taken with Playwright in Debian's Chromium on the demo data.

    .venv/bin/python docs/screenshots.py

Builds a fresh SQLite database in a temporary directory (migrations, then the demo data),
serves the app on a free port of 127.0.0.1, and writes docs/screenshots/*.png: the storefront
on a desktop (1280 px) and on a phone (390 px), and an admin form with its errors.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from b2bshop import create_app, demo  # noqa: E402
from b2bshop.extensions import db  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def serve(tmp: Path) -> str:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'shots.db'}",
            "SECRET_KEY": "screenshots",
            "SESSION_COOKIE_SECURE": False,
            "QUEUE_EMBEDDED_WORKER": False,
            "REDIS_URL": "",
            "RATELIMIT_ENABLED": False,
            "MAIL_BACKEND": "locmem",
        }
    )
    with app.app_context():
        upgrade()
        demo.load()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill("demo")
    with page.expect_navigation():
        page.locator("main button[type=submit]").click()


def shot(page: Page, name: str, full_page: bool = True) -> None:
    page.wait_for_timeout(150)  # htmx settles, the announcer's timer runs
    page.screenshot(path=OUT / f"{name}.png", full_page=full_page)
    print(f"docs/screenshots/{name}.png")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        base = serve(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        desktop = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US").new_page()
        sign_in(desktop, "buyer@contoso.example")
        shot(desktop, "home", full_page=False)
        desktop.goto("/invoices")
        desktop.locator("#filter-status").select_option("partially_paid")
        desktop.wait_for_url("**/invoices?status=partially_paid")
        row = desktop.locator("#invoice-list tbody tr[id^='invoice-']").first
        row.locator("button.primary-outline").click()
        row.locator(".added").wait_for()
        shot(desktop, "invoices")
        desktop.goto("/cart")
        shot(desktop, "cart", full_page=False)

        phone = browser.new_context(base_url=base, viewport=PHONE, locale="en-US").new_page()
        sign_in(phone, "buyer@contoso.example")
        phone.goto("/invoices?status=unpaid")
        shot(phone, "invoices-phone", full_page=False)
        phone.goto("/checkout")
        shot(phone, "checkout-phone")

        admin = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US").new_page()
        sign_in(admin, "admin@b2bshop.example")
        admin.goto("/admin/orders/new")
        admin.locator("#order-customer").select_option(index=2)
        admin.locator("#order-product-0").select_option(index=3)
        admin.locator("#order-quantity-0").fill("40")
        admin.locator("#order-product-1").select_option(index=5)
        admin.locator("#order-quantity-1").fill("12")
        with admin.expect_navigation():
            admin.locator("#new-order button[type=submit]").click()
        admin.get_by_role("button", name="Confirm order").click()
        admin.wait_for_load_state()
        shot(admin, "admin-order")
        admin.goto("/admin/products/new")
        admin.locator("#name").fill("Recycled copy paper, A3")
        admin.locator("#price").fill("")
        admin.get_by_role("button", name="Save").click()
        admin.wait_for_load_state()
        shot(admin, "admin-form-errors", full_page=False)
        browser.close()


if __name__ == "__main__":
    main()
