"""Issue 15's last rough edges: the "Open invoices" tiles, record payment's date and total,
the store's time zone, free text line rows, and invited users shown without a reload."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db
from tests.tasks.test_user_requests import _run_all

ADMIN = "admin@b2bshop.example"
BUYER = "buyer@contoso.example"
HX = {"HX-Request": "true"}


def _row_count(html: str) -> int:
    return len(re.findall(r'<tr id="invoice-', html))


def _open_invoices(app, customer_name: str | None = None) -> int:
    with app.app_context():
        stmt = select(func.count(Invoice.id)).where(Invoice.status != InvoiceStatus.PAID)
        if customer_name:
            from b2bshop.accounts.models import Customer

            stmt = stmt.join(Customer, Customer.id == Invoice.customer_id).where(
                Customer.name == customer_name
            )
        return db.session.scalar(stmt)


def test_the_admin_open_invoices_tile_links_to_exactly_what_it_counts(client, login, demo, app):
    admin = login(ADMIN)
    page = admin.get("/admin/").get_data(as_text=True)
    tile = re.search(
        r'<a class="tile" href="([^"]+)"><span class="tile-label">Open invoices</span>'
        r'<span class="tile-value">(\d+)</span>',
        page,
    )
    assert tile, "the dashboard has an Open invoices tile"
    href, count = tile.group(1).replace("&amp;", "&"), int(tile.group(2))
    assert "status=open" in href
    assert count == _open_invoices(app)
    # The list is keyset-paged: walk the pages and count every row.
    seen, url = 0, href
    while url:
        html = admin.get(url).get_data(as_text=True)
        seen += len(re.findall(r'<tr data-status="(?:unpaid|partially_paid)"', html))
        assert 'data-status="paid"' not in html
        nxt = re.search(r'<a href="([^"]+)"[^>]*rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == count > 0


def test_the_buyer_open_invoices_tile_links_to_a_filter_showing_its_count(client, login, demo, app):
    buyer = login(BUYER)
    home = buyer.get("/").get_data(as_text=True)
    tile = re.search(
        r'<a class="tile" href="([^"]+)">\s*<span class="tile-label">Open invoices</span>\s*'
        r'<span class="tile-value">(\d+)</span>',
        home,
    )
    assert tile
    href, count = tile.group(1).replace("&amp;", "&"), int(tile.group(2))
    assert "status=open" in href
    html = buyer.get(href).get_data(as_text=True)
    shown = re.search(r'id="result-count"[^>]*>\s*([\d,]+)', html) or re.search(
        r"(\d+) invoices?", html
    )
    assert shown and int(shown.group(1).replace(",", "")) == count
    assert count > 0
    # Paid invoices are not in it; unpaid and partially paid both are.
    assert 'data-status="paid"' not in html


def test_an_invited_user_appears_while_the_request_is_on_its_way(client, login, demo, app):
    admin = login(BUYER)
    response = admin.post(
        "/account/users",
        data={"action": "add", "email": "new.colleague@contoso.example", "name": "Ny Kollega"},
    )
    assert response.status_code == 302
    page = admin.get("/account/users").get_data(as_text=True)
    # Shown at once, marked as on its way, and the table polls until it is done.
    assert 'id="pending-user-' in page
    assert "new.colleague@contoso.example" in page
    assert "invitation on its way" in page
    assert 'hx-trigger="every 2s"' in page
    _run_all(app)
    polled = admin.get("/account/users", headers=HX).get_data(as_text=True)
    assert 'id="pending-user-' not in polled
    assert "new.colleague@contoso.example" in polled  # now a user row
    assert 'hx-trigger="every 2s"' not in polled  # the polling stops
    assert "data-announce" in polled


def test_a_pending_user_name_is_escaped(client, login, demo):
    admin = login(BUYER)
    admin.post(
        "/account/users",
        data={"action": "add", "email": "x@contoso.example", "name": "<script>alert(1)</script>"},
    )
    page = admin.get("/account/users").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("status", ["open", "unpaid", "partially_paid", "paid", "overdue"])
def test_every_status_filter_answers(client, login, demo, status):
    buyer = login(BUYER)
    assert buyer.get(f"/invoices?status={status}").status_code == 200
