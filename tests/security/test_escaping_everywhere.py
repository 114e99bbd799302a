"""One XSS payload in every stored name and text that reaches output, then every page a
buyer and a store admin can reach by following links: the payload must come back escaped,
never as markup (issue 13). Product, customer and user names and a free text line carry it;
the crawl starts at the home pages and follows every same-site link."""

from __future__ import annotations

import re
from collections import deque
from datetime import date
from decimal import Decimal
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.billing import free_text
from b2bshop.billing.models import LedgerAccount
from b2bshop.catalog.models import Product
from b2bshop.extensions import db

MARK = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
LINK = re.compile(r'href="([^"#]+)"')
SKIP = ("/logout", "/static/", ".pdf", ".csv", ".zip", ".xml", "mailto:")
MAX_PAGES = 250


def _poison(app) -> None:
    with app.app_context():
        retail = db.session.scalar(select(Customer).where(Customer.name == "Contoso Retail"))
        group = db.session.scalar(select(Customer).where(Customer.name == "Contoso Group"))
        retail.name = f"Retail {MARK}"
        group.name = f"Group {MARK}"
        for user in db.session.scalars(select(User)):
            user.name = f"{user.name} {MARK}"
        for product in db.session.scalars(select(Product)):
            product.name = f"{product.name} {MARK}"
        admin = db.session.scalar(select(User).where(User.email == "admin@b2bshop.example"))
        account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.active))
        line = free_text.FreeTextLineInput(
            account.number, f"Consulting {MARK}", Decimal("100.00"), Decimal("21")
        )
        draft = free_text.save_draft(admin, None, retail, date.today(), [line])
        free_text.post_draft(admin, draft)
        db.session.commit()


def _crawl(client, starts: list[str]) -> tuple[int, list[str]]:
    seen, queue, shown = set(starts), deque(starts), []
    pages = 0
    while queue and pages < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url)
        pages += 1
        assert response.status_code < 500, url
        if "text/html" not in response.content_type:
            continue
        html = response.get_data(as_text=True)
        assert MARK not in html, f"{url} renders the payload as markup"
        if ESCAPED in html:
            shown.append(url)
        for href in LINK.findall(html):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc not in ("", "localhost") or any(s in target for s in SKIP):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path not in seen:
                seen.add(path)
                queue.append(path)
    return pages, shown


def test_stored_names_are_escaped_on_every_page(app, demo, login):
    _poison(app)
    buyer = login("buyer@contoso.example", c=app.test_client())
    admin = login("admin@b2bshop.example", c=app.test_client())
    buyer_pages, buyer_shown = _crawl(buyer, ["/", "/invoices", "/catalog", "/account", "/cart"])
    admin_pages, admin_shown = _crawl(admin, ["/admin", "/account"])
    # The payload reached the views (so the test can fail), escaped every time.
    assert len(buyer_shown) >= 5 and len(admin_shown) >= 10, (buyer_shown, admin_shown)
    assert any(u.startswith("/invoices/") for u in buyer_shown)  # the free text line
    assert any(u.startswith("/admin/customers") for u in admin_shown)
    print(f"escaping crawl: {buyer_pages} buyer and {admin_pages} admin pages")
