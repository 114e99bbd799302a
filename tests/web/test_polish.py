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


# --- Record payment: the date received and the total on the bank statement ---


def _manual_setup(app, amounts=("100.00", "50.00")):  # type: ignore[no-untyped-def]

    from tests import factories

    with app.app_context():
        customer = factories.customer("Statement Ltd")
        invoices = [
            factories.invoice(customer, amount, days_ago=30 - i) for i, amount in enumerate(amounts)
        ]
        db.session.commit()
        customer_id, ids = customer.id, [i.id for i in invoices]
        db.session.remove()
    return customer_id, ids


def _post_manual(admin, customer_id, data):  # type: ignore[no-untyped-def]
    import uuid

    payload = {"idempotency_key": str(uuid.uuid4()), "reference": "BANK-9", **data}
    return admin.post(f"/admin/payments/new?customer_id={customer_id}", data=payload)


def _payments(app, customer_id):  # type: ignore[no-untyped-def]
    from b2bshop.payments.models import Payment

    with app.app_context():
        rows = db.session.scalars(
            select(Payment).where(Payment.customer_id == customer_id).order_by(Payment.id)
        ).all()
        out = [
            (p.number, p.amount, p.received_on, [(a.invoice_id, a.amount) for a in p.allocations])
            for p in rows
        ]
        db.session.remove()
        return out


def test_record_payment_shows_date_and_total_fields(client, login, demo, app):
    from datetime import date

    customer_id, _ids = _manual_setup(app)
    admin = login(ADMIN)
    page = admin.get(f"/admin/payments/new?customer_id={customer_id}").get_data(as_text=True)
    assert 'name="received_on"' in page and f'value="{date.today().isoformat()}"' in page
    assert 'name="total"' in page and "oldest invoices first" in page


def test_a_total_alone_pays_the_oldest_invoices_first_and_keeps_the_date(client, login, demo, app):
    from datetime import date, timedelta
    from decimal import Decimal

    customer_id, (older, newer) = _manual_setup(app)
    admin = login(ADMIN)
    day = date.today() - timedelta(days=3)
    answer = _post_manual(admin, customer_id, {"total": "120.00", "received_on": day.isoformat()})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-800:]
    [(_number, amount, received_on, allocations)] = _payments(app, customer_id)
    assert amount == Decimal("120.00") and received_on == day
    assert allocations == [(older, Decimal("100.00")), (newer, Decimal("20.00"))]
    shown = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Date received" in shown


def test_a_replayed_total_form_finds_the_first_payment(client, login, demo, app):
    customer_id, _ids = _manual_setup(app)
    admin = login(ADMIN)
    data = {"idempotency_key": "7d3f1a52-5b0e-4c1e-9a55-0c1b8f3f9a11", "total": "30.00"}
    first = _post_manual(admin, customer_id, data)
    again = _post_manual(admin, customer_id, data)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert len(_payments(app, customer_id)) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"total": "150.01"}, "is more than the"),
        ({"total": "99.00", "amount-FIRST": "100.00"}, "add up to"),
        ({"received_on": "2999-01-01", "amount-FIRST": "10.00"}, "cannot be after today"),
        ({"received_on": "2001-01-01", "amount-FIRST": "10.00"}, "within the last 366 days"),
        ({"total": "0.001"}, "at most 16 digits"),
        ({"total": "-5"}, "Total received"),
        ({"received_on": "31/31/2026", "amount-FIRST": "10.00"}, "Date received"),
        ({}, "Allocate the payment to at least one invoice"),
    ],
)
def test_a_wrong_date_or_total_changes_nothing_and_says_why(
    client, login, demo, app, data, message
):
    customer_id, (first, _second) = _manual_setup(app)
    admin = login(ADMIN)
    data = {k.replace("FIRST", str(first)): v for k, v in data.items()}
    answer = _post_manual(admin, customer_id, data)
    html = answer.get_data(as_text=True)
    assert answer.status_code in (409, 422)
    assert message in html
    assert "This form has expired" not in html
    assert _payments(app, customer_id) == []
    # What was typed is kept.
    for key, value in data.items():
        if key in ("total", "received_on"):
            assert f'value="{value}"' in html


# --- Free text invoice: add and remove line rows, nothing lost ---


def _free_text_form(admin, url="/admin/free-text/new"):  # type: ignore[no-untyped-def]
    from tests.conftest import csrf_token_from

    return csrf_token_from(admin.get(url).get_data(as_text=True))


def _rows_in(html: str) -> int:
    return len(re.findall(r'<select name="account-\d+"', html))


def test_free_text_lines_can_be_added_and_removed_keeping_what_was_typed(client, login, demo):
    admin = login(ADMIN)
    new = admin.get("/admin/free-text/new").get_data(as_text=True)
    assert _rows_in(new) == 3
    token = _free_text_form(admin)
    typed = {
        "csrf_token": token,
        "rows": "3",
        "description-0": "Consulting <b>day</b>",
        "amount-0": "800.00",
        "description-1": "Travel",
        "amount-1": "120.00",
    }
    added = admin.post("/admin/free-text/new", data={**typed, "action": "add_line"})
    html = added.get_data(as_text=True)
    assert added.status_code == 200
    assert _rows_in(html) == 4
    assert 'id="ft-account-3" autofocus' in html  # focus on the new row
    assert 'value="Consulting &lt;b&gt;day&lt;/b&gt;"' in html and 'value="120.00"' in html
    assert "error-summary" not in html  # a row change is not a failed submit
    removed = admin.post(
        "/admin/free-text/new", data={**typed, "rows": "4", "action": "remove-0"}
    ).get_data(as_text=True)
    assert _rows_in(removed) == 3
    assert "Consulting" not in removed and 'value="Travel"' in removed
    assert 'id="ft-account-0" autofocus' in removed
    # Enter in a field presses the first submit button: it saves, it never removes a line.
    first_button = re.search(r'<button type="submit" name="action" value="([^"]+)"', removed)
    assert first_button.group(1) == "save"


def test_a_draft_with_more_lines_than_the_form_had_keeps_every_line(client, login, demo, app):
    from b2bshop.billing.models import FreeTextInvoice

    admin = login(ADMIN)
    page = admin.get("/admin/free-text/new").get_data(as_text=True)
    customer_id = re.search(r'<option value="(\d+)"', page.split('id="customer_id"')[1]).group(1)
    account = re.search(
        r'name="account-0"[^>]*>\s*<option value="">—</option>\s*<option value="([^"]+)"', page
    ).group(1)
    data = {
        "csrf_token": _free_text_form(admin),
        "customer_id": customer_id,
        "invoice_date": "2026-11-30",
        "rows": "7",
        "action": "save",
    }
    for i in range(7):
        data |= {
            f"account-{i}": account,
            f"description-{i}": f"Line {i}",
            f"amount-{i}": "10.00",
            f"tax-{i}": "21",
        }
    saved = admin.post("/admin/free-text/new", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[-1500:]
    with app.app_context():
        draft = db.session.scalars(
            select(FreeTextInvoice).order_by(FreeTextInvoice.id.desc())
        ).first()
        assert len(draft.lines) == 7
        db.session.remove()
    again = admin.get(saved.headers["Location"]).get_data(as_text=True)
    assert _rows_in(again) == 8  # seven lines and room for one more
    assert 'value="Line 6"' in again


# --- STORE_TIMEZONE: timestamps in the store's zone, with the zone's name ---


def test_timestamps_show_in_the_store_time_zone_with_its_name(make_app):
    from datetime import datetime

    from b2bshop.i18n import format_timestamp

    app = make_app(STORE_TIMEZONE="Europe/Oslo")
    with app.test_request_context():
        # 10:00 UTC is 11:00 in Oslo in winter and 12:00 in summer.
        assert format_timestamp(datetime(2026, 11, 30, 10, 0)).endswith(
            "11:00:00\u202fAM GMT+01:00"
        )
        assert format_timestamp(datetime(2026, 7, 1, 10, 0)).endswith("12:00:00\u202fPM GMT+02:00")
        assert format_timestamp(None) == ""
    utc = make_app(STORE_TIMEZONE="UTC")
    with utc.test_request_context():
        assert format_timestamp(datetime(2026, 11, 30, 10, 0)).endswith(
            "10:00:00\u202fAM GMT+00:00"
        )


def test_a_misspelt_store_time_zone_stops_the_start_with_a_clear_message(make_app):
    with pytest.raises(ValueError, match="STORE_TIMEZONE='Europe/Amsterdan' is not a time zone"):
        make_app(STORE_TIMEZONE="Europe/Amsterdan")


# --- Whole numbers of any length are refused with a message, never a 500 ---


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/admin/payment-terms/new", "net_days"),
        ("/admin/payment-terms/new", "cash_discount_days"),
        ("/admin/products/new", "stock_on_hand"),
        ("/admin/suggestions/new", "priority"),
    ],
)
@pytest.mark.parametrize("typed", ["9" * 400, "1e400", "-" + "9" * 30])
def test_a_huge_whole_number_is_refused_with_a_message(client, login, demo, url, field, typed):
    admin = login(ADMIN)
    answer = admin.post(url, data={field: typed, "name": "X", "code": "X", "sku": "X-1"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422, html[-600:]
    assert "Enter a whole number, such as 10." in html


# --- A prospect's conversion offers invoice accounts of the admin's entity only ---


def test_the_convert_form_offers_invoice_accounts_of_the_admins_entity_only(client, login, app):
    from b2bshop.accounts.models import Role
    from b2bshop.relationships.models import Party, PartyKind
    from tests import factories

    with app.app_context():
        no = factories.second_entity()
        factories.customer("Dutch Buyer BV")
        factories.customer_of(no, "Norsk Kjøper AS")
        factories.user("admin@group.example", role=Role.STORE_ADMIN, password="pw")
        party = Party(name="Prospect BV", kind=PartyKind.PROSPECT, country_code="NL")
        db.session.add(party)
        db.session.commit()
        party_id, no_id = party.id, no.id
    admin = login("admin@group.example", "pw", client)
    form = admin.get(f"/admin/relationships/{party_id}/convert").get_data(as_text=True)
    accounts = form.split('name="invoice_account_id"')[1].split("</select>")[0]
    assert "Dutch Buyer BV" in accounts and "Norsk" not in accounts
    admin.post("/admin/entity", data={"entity_id": str(no_id)})
    form = admin.get(f"/admin/relationships/{party_id}/convert").get_data(as_text=True)
    accounts = form.split('name="invoice_account_id"')[1].split("</select>")[0]
    assert "Norsk Kjøper AS" in accounts and "Dutch" not in accounts


# --- Backorders: the admin's legal entity only ---


def test_backorders_show_and_allocate_the_admins_entity_only(client, login, app):
    from b2bshop.accounts.models import Role
    from b2bshop.sales.service import OrderLineInput, place_order
    from tests import factories

    with app.app_context():
        no = factories.second_entity()
        admin_user = factories.user("admin@group.example", role=Role.STORE_ADMIN, password="pw")
        nl_product = factories.product("NL-WAIT")
        no_product = factories.product_of(no, "NO-WAIT")
        for product, customer in (
            (nl_product, factories.customer("Dutch Buyer BV")),
            (no_product, factories.customer_of(no, "Norsk Kjøper AS")),
        ):
            product.stock_on_hand = 0
            place_order(admin_user, customer, [OrderLineInput(product.id, 3)], confirm=True)
        db.session.commit()
        no_id, no_product_id = no.id, no_product.id
    admin = login("admin@group.example", "pw", client)
    page = admin.get("/admin/backorders?by=item").get_data(as_text=True)
    assert "NL-WAIT" in page and "NO-WAIT" not in page
    refused = admin.post("/admin/backorders/allocate", data={"product_id": str(no_product_id)})
    assert refused.status_code == 404
    admin.post("/admin/entity", data={"entity_id": str(no_id)})
    page = admin.get("/admin/backorders?by=customer").get_data(as_text=True)
    assert "NO-WAIT" in page and "NL-WAIT" not in page
