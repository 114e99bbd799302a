"""Admin area (issue 6): access, lists, customers, terms, products, sales orders, packing
slips, customer / free text / pro forma invoices, payments, dashboard and audit log."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, PaymentTerms, User
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import FreeTextInvoice, Invoice, InvoiceKind, InvoiceStatus
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.payments.models import Payment, PaymentStatus
from b2bshop.sales.models import OrderStatus, OrderType, PackingSlip, SalesOrder

ADMIN = "admin@b2bshop.example"
HX = {"HX-Request": "true"}


@pytest.fixture
def admin(client, login, demo):
    return login(ADMIN)


def _one(app, stmt):
    with app.app_context():
        row = db.session.scalar(stmt)
        db.session.expunge_all()
        return row


def _customer(app, name: str) -> Customer:
    return _one(app, select(Customer).where(Customer.name == name))


def _products(app, n: int = 2) -> list[Product]:
    with app.app_context():
        rows = db.session.scalars(select(Product).order_by(Product.id).limit(n)).all()
        db.session.expunge_all()
        return rows


def _order(app, number: str) -> SalesOrder:
    with app.app_context():
        order = db.session.scalar(select(SalesOrder).where(SalesOrder.number == number))
        _ = [(line.product, line.delivered_quantity) for line in order.lines]
        _ = order.packing_slips
        db.session.expunge_all()
        return order


def _create_order(client, app, customer="Contoso Retail", order_type="sales_order", qty=(5, 3)):
    cust = _customer(app, customer)
    products = _products(app, len(qty))
    data = {"customer_id": cust.id, "order_type": order_type, "idempotency_key": str(uuid.uuid4())}
    for i, (product, quantity) in enumerate(zip(products, qty, strict=True)):
        data[f"product-{i}"] = product.id
        data[f"quantity-{i}"] = quantity
    response = client.post("/admin/orders/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def _deliver(client, app, number: str, quantities: dict[int, int], slips_seen: int | None = None):
    order = _order(app, number)
    data = {f"qty-{line.id}": quantities.get(line.line_no, 0) for line in order.lines}
    data["slips_seen"] = len(order.packing_slips) if slips_seen is None else slips_seen
    return client.post(f"/admin/orders/{number}/packing-slips", data=data)


# --- access -------------------------------------------------------------------------------


def _admin_get_urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and "GET" in rule.methods:
            values = {arg: 1 if "id" in arg else "X-1" for arg in rule.arguments}
            urls.append(rule.build(values)[1] if values else rule.rule)
    return urls


def test_admin_area_is_404_for_everyone_but_store_admins(app, client, login, demo):
    urls = _admin_get_urls(app)
    assert len(urls) >= 20
    for url in urls:
        assert client.get(url).status_code == 404, f"anonymous {url}"
    login("buyer@contoso.example")
    for url in urls:
        assert client.get(url).status_code == 404, f"buyer {url}"
    # POSTs too: a buyer cannot confirm a payment or post an invoice.
    assert client.post("/admin/orders/new", data={}).status_code == 404
    assert client.post("/admin/packing-slips/invoice", data={"slip": 1}).status_code == 404


def test_every_admin_list_renders_and_swaps_its_fragment(admin):
    for url in [
        "/admin/",
        "/admin/customers",
        "/admin/payment-terms",
        "/admin/products",
        "/admin/orders",
        "/admin/packing-slips",
        "/admin/invoices",
        "/admin/free-text",
        "/admin/payments",
        "/admin/requests",
        "/admin/audit",
    ]:
        assert admin.get(url).status_code == 200, url
    page = admin.get("/admin/invoices?status=overdue&customer=contoso", headers=HX)
    html = page.get_data(as_text=True)
    assert "<html" not in html and 'id="admin-list"' in html
    assert page.headers["HX-Push-Url"] == "/admin/invoices?status=overdue&customer=contoso"
    assert 'data-status="paid"' not in html


def test_admin_lists_refuse_bad_filter_values_with_a_message(admin):
    page = admin.get("/admin/orders?status=banana&type=nope&after=garbage")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Some filters were not understood" in html
    assert "The page link is not valid" in html


def test_admin_lists_page_by_keyset(app, admin):
    first = admin.get("/admin/invoices").get_data(as_text=True)
    assert 'rel="next"' in first  # 27 demo invoices, 25 a page
    after = re.search(r'href="(/admin/invoices\?after=[^"]+)"', first).group(1)
    second = admin.get(after.replace("&amp;", "&")).get_data(as_text=True)
    first_numbers = set(re.findall(r">(INV-\d+)</a>", first))
    second_numbers = set(re.findall(r">(INV-\d+)</a>", second))
    assert second_numbers and not first_numbers & second_numbers
    assert len(first_numbers | second_numbers) == 27


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_shows_aging_chart_and_overdue_total(app, admin):
    html = admin.get("/admin/").get_data(as_text=True)
    assert '<svg id="aging-chart"' in html
    for bucket in ("not_due", "1_30", "31_60", "61_90", "over_90"):
        assert f'data-bucket="{bucket}"' in html
    with app.app_context():
        overdue = db.session.scalar(
            select(func.sum(Invoice.total - Invoice.amount_paid)).where(
                Invoice.status != InvoiceStatus.PAID, Invoice.due_date < date.today()
            )
        )
    shown = re.search(r'id="overdue-total">([^<]+)<', html).group(1)
    assert f"{overdue:,.2f}" in shown.replace("\u00a0", "")


# --- customers, terms, products -------------------------------------------------------------


def test_customer_create_edit_and_invoice_account_rules(app, admin):
    terms = _one(app, select(PaymentTerms).order_by(PaymentTerms.id))
    data = {
        "number": "C-9001",
        "name": "Northwind",
        "email": "ap@northwind.example",
        "currency": "EUR",
        "payment_terms_id": terms.id,
        "credit_limit": "5000.00",
        "invoice_account_id": 0,
        "active": "y",
    }
    response = admin.post("/admin/customers/new", data=data)
    assert response.status_code == 302
    northwind = _customer(app, "Northwind")
    # Its own invoice account: refused, nothing changes.
    response = admin.post(
        f"/admin/customers/{northwind.id}/edit", data={**data, "invoice_account_id": northwind.id}
    )
    assert response.status_code == 422
    assert "cannot be its own invoice account" in response.get_data(as_text=True)
    # A cycle: Contoso Group -> Northwind while Northwind -> Contoso Group.
    group = _customer(app, "Contoso Group")
    assert (
        admin.post(
            f"/admin/customers/{northwind.id}/edit", data={**data, "invoice_account_id": group.id}
        ).status_code
        == 302
    )
    group_data = {
        "number": group.number,
        "name": group.name,
        "email": group.email,
        "currency": "EUR",
        "payment_terms_id": group.payment_terms_id,
        "credit_limit": "1000",
        "invoice_account_id": northwind.id,
        "active": "y",
    }
    response = admin.post(f"/admin/customers/{group.id}/edit", data=group_data)
    assert response.status_code == 422
    assert "cycle" in response.get_data(as_text=True)
    assert _customer(app, "Contoso Group").invoice_account_id is None
    # The credit limit change is audited with before and after.
    admin.post(
        f"/admin/customers/{northwind.id}/edit",
        data={**data, "invoice_account_id": group.id, "credit_limit": "7500.00"},
    )
    entry = _one(
        app,
        select(AuditEntry)
        .where(AuditEntry.action == "customer.update")
        .order_by(AuditEntry.id.desc()),
    )
    assert entry.before == {"credit_limit": "5000.00"}
    assert entry.after == {"credit_limit": "7500.00"}


def test_customer_page_shows_users_balance_and_open_invoices(app, admin):
    retail = _customer(app, "Contoso Retail")
    html = admin.get(f"/admin/customers/{retail.id}").get_data(as_text=True)
    assert "buyer@contoso.example" in html and "ap@contoso.example" in html
    with app.app_context():
        balance = db.session.scalar(
            select(func.sum(Invoice.total - Invoice.amount_paid)).where(
                Invoice.customer_id == retail.id, Invoice.status != InvoiceStatus.PAID
            )
        )
    assert f"{balance:,.2f}" in html
    assert "Contoso Group" in html


def test_terms_in_use_cannot_be_deleted_unused_can(app, admin):
    used = _one(app, select(PaymentTerms).order_by(PaymentTerms.id))
    response = admin.post(f"/admin/payment-terms/{used.id}/delete", follow_redirects=True)
    assert "deactivate it instead" in response.get_data(as_text=True)
    assert _one(app, select(PaymentTerms).where(PaymentTerms.id == used.id)) is not None
    bad = {"code": "N60", "name": "Net 60", "net_days": 60, "cash_discount_percent": "3"}
    response = admin.post(
        "/admin/payment-terms/new", data={**bad, "cash_discount_days": "90", "active": "y"}
    )
    assert response.status_code == 422  # discount period longer than the net days
    assert (
        admin.post(
            "/admin/payment-terms/new", data={**bad, "cash_discount_days": "10", "active": "y"}
        ).status_code
        == 302
    )
    new = _one(app, select(PaymentTerms).where(PaymentTerms.code == "N60"))
    assert new.net_days == 60 and new.cash_discount_percent == Decimal("3.00")
    assert admin.post(f"/admin/payment-terms/{new.id}/delete").status_code == 302
    assert _one(app, select(PaymentTerms).where(PaymentTerms.code == "N60")) is None


def test_products_unique_sku_and_in_use_not_deleted(app, admin):
    existing = _products(app, 1)[0]
    data = {
        "sku": existing.sku.lower(),
        "name": "Copy",
        "price": "1.00",
        "currency": "EUR",
        "tax_rate": "21",
        "stock_on_hand": "3",
        "active": "y",
    }
    response = admin.post("/admin/products/new", data=data)
    assert response.status_code == 422
    assert "Another product has the SKU" in response.get_data(as_text=True)
    assert admin.post("/admin/products/new", data={**data, "sku": "NEW-1"}).status_code == 302
    new = _one(app, select(Product).where(Product.sku == "NEW-1"))
    number = _create_order(admin, app, qty=(1,))
    assert number
    product = _products(app, 1)[0]
    response = admin.post(f"/admin/products/{product.id}/delete", follow_redirects=True)
    assert "deactivate it instead" in response.get_data(as_text=True)
    assert admin.post(f"/admin/products/{new.id}/delete").status_code == 302
    # Deactivate: off the storefront catalog.
    inactive = {k: v for k, v in data.items() if k != "active"}  # unchecked box
    admin.post(f"/admin/products/{product.id}/edit", data={**inactive, "sku": product.sku})
    assert _one(app, select(Product.active).where(Product.id == product.id)) is False


# --- sales orders, packing slips, customer invoices -----------------------------------------


def test_order_to_partial_delivery_to_invoice(app, admin, client, login):
    number = _create_order(admin, app, qty=(5, 3))
    order = _order(app, number)
    assert order.status == OrderStatus.OPEN and order.order_type == OrderType.SALES_ORDER
    # Not confirmed: nothing ships.
    response = _deliver(admin, app, number, {1: 2})
    assert _order(app, number).packing_slips == []
    assert admin.post(f"/admin/orders/{number}/confirm").status_code == 302
    stock_before = {p.id: p.stock_on_hand for p in _products(app, 2)}
    # More than ordered: refused, nothing changes.
    response = _deliver(admin, app, number, {1: 6})
    assert "deliver between 0 and 5" in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert _order(app, number).lines[0].delivered_quantity == 0
    # Partial delivery.
    assert _deliver(admin, app, number, {1: 2, 2: 3}).status_code == 302
    order = _order(app, number)
    assert [(line.delivered_quantity, line.invoiced_quantity) for line in order.lines] == [
        (2, 0),
        (3, 0),
    ]
    assert order.status == OrderStatus.CONFIRMED
    assert {p.id: p.stock_on_hand for p in _products(app, 2)} == stock_before  # reserved
    # Invoice what was delivered.
    response = admin.post(f"/admin/orders/{number}/invoice")
    assert response.status_code == 302
    invoice = _one(app, select(Invoice).order_by(Invoice.id.desc()))
    retail = _customer(app, "Contoso Retail")
    group = _customer(app, "Contoso Group")
    assert invoice.customer_id == group.id  # billed to the invoice account (SPEC A3)
    terms = _one(app, select(PaymentTerms).where(PaymentTerms.id == retail.payment_terms_id))
    assert invoice.due_date == date.today() + timedelta(days=terms.net_days)
    assert invoice.cash_discount_date == date.today() + timedelta(days=terms.cash_discount_days)
    with app.app_context():
        lines = db.session.get(Invoice, invoice.id).lines
        assert [line.quantity for line in lines] == [2, 3]
        assert all(
            line.tax_amount
            == (line.net_amount * line.tax_rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            for line in lines
        )
    order = _order(app, number)
    assert [line.invoiced_quantity for line in order.lines] == [2, 3]
    assert order.status == OrderStatus.CONFIRMED  # 3 of line 1 still to deliver
    # Nothing new delivered: a second invoice is refused.
    response = admin.post(f"/admin/orders/{number}/invoice", follow_redirects=True)
    assert "Nothing delivered on this order is waiting" in response.get_data(as_text=True)
    # The rest, then the order is Invoiced.
    _deliver(admin, app, number, {1: 3})
    assert _order(app, number).status == OrderStatus.DELIVERED
    admin.post(f"/admin/orders/{number}/invoice")
    assert _order(app, number).status == OrderStatus.INVOICED
    # Invoice numbers are gap-free.
    with app.app_context():
        numbers = db.session.scalars(select(Invoice.number).order_by(Invoice.id)).all()
    assert [int(n[4:]) for n in numbers] == list(range(1, len(numbers) + 1))
    # The buyer sees it with the due date of the terms.
    buyer = app.test_client()
    login("buyer@contoso.example", c=buyer)
    html = buyer.get("/invoices?sort=-due_date").get_data(as_text=True)
    assert invoice.number in html
    # The invoice page names the terms the due date came from: the order's (Contoso
    # Retail's 2 % 10 / Net 30), not those of the billed invoice account (Net 30).
    page = buyer.get(f"/invoices/{invoice.number}").get_data(as_text=True)
    assert terms.name in page
    pdf_text = (
        PdfReader(io.BytesIO(buyer.get(f"/invoices/{invoice.number}.pdf").data))
        .pages[0]
        .extract_text()
    )
    assert terms.name in pdf_text


def test_several_packing_slips_invoiced_together_once(app, admin):
    first = _create_order(admin, app, qty=(2,))
    second = _create_order(admin, app, qty=(1,))
    for number in (first, second):
        admin.post(f"/admin/orders/{number}/confirm")
        _deliver(admin, app, number, {1: 1})
    with app.app_context():
        ids = db.session.scalars(select(PackingSlip.id).order_by(PackingSlip.id)).all()
    response = admin.post("/admin/packing-slips/invoice", data={"slip": ids})
    assert response.status_code == 302
    invoice = _one(app, select(Invoice).order_by(Invoice.id.desc()))
    with app.app_context():
        assert len(db.session.get(Invoice, invoice.id).lines) == 2
        assert db.session.scalar(select(func.count(Invoice.id))) == 28  # demo 27 + 1
    # Again: refused, no second invoice.
    response = admin.post("/admin/packing-slips/invoice", data={"slip": ids})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Invoice.id))) == 28
    # Slips of two customers cannot share an invoice.
    third = _create_order(admin, app, customer="Fabrikam", qty=(1,))
    fourth = _create_order(admin, app, qty=(1,))
    for number in (third, fourth):
        admin.post(f"/admin/orders/{number}/confirm")
        _deliver(admin, app, number, {1: 1})
    with app.app_context():
        open_ids = db.session.scalars(
            select(PackingSlip.id).where(PackingSlip.invoice_id.is_(None))
        ).all()
    response = admin.post(
        "/admin/packing-slips/invoice", data={"slip": open_ids}, follow_redirects=True
    )
    assert "must be for one customer" in response.get_data(as_text=True)


def test_order_types_rma_and_change_rules(app, admin):
    returned = _create_order(admin, app, order_type="returned_order", qty=(1,))
    assert re.fullmatch(r"RMA-\d{6}", _order(app, returned).rma_number)
    journal = _create_order(admin, app, order_type="journal", qty=(1,))
    response = admin.post(f"/admin/orders/{journal}/confirm", follow_redirects=True)
    assert "A journal is a draft" in response.get_data(as_text=True)
    admin.post(f"/admin/orders/{journal}/type", data={"order_type": "returned_order"})
    assert _order(app, journal).rma_number is not None
    # Item requirements keep their type once delivered (SPEC B5).
    items = _create_order(admin, app, order_type="item_requirements", qty=(2,))
    admin.post(f"/admin/orders/{items}/confirm")
    _deliver(admin, app, items, {1: 1})
    response = admin.post(
        f"/admin/orders/{items}/type", data={"order_type": "sales_order"}, follow_redirects=True
    )
    assert "keep their type once something is delivered" in response.get_data(as_text=True)
    assert _order(app, items).order_type == OrderType.ITEM_REQUIREMENTS
    # Before delivery the type changes freely.
    other = _create_order(admin, app, order_type="item_requirements", qty=(1,))
    admin.post(f"/admin/orders/{other}/type", data={"order_type": "subscription"})
    assert _order(app, other).order_type == OrderType.SUBSCRIPTION


def test_subscription_goes_back_to_open_after_invoicing(app, admin):
    number = _create_order(admin, app, order_type="subscription", qty=(2,))
    admin.post(f"/admin/orders/{number}/confirm")
    _deliver(admin, app, number, {1: 2})
    admin.post(f"/admin/orders/{number}/invoice")
    order = _order(app, number)
    assert order.status == OrderStatus.OPEN
    assert order.lines[0].delivered_quantity == 0 and order.lines[0].invoiced_quantity == 0
    # The next period runs the same way.
    admin.post(f"/admin/orders/{number}/confirm")
    assert _order(app, number).status == OrderStatus.CONFIRMED


def test_storefront_orders_appear_in_admin(app, client, login, demo):
    import uuid

    buyer = login("buyer@contoso.example")
    buyer.post("/cart/items", data={"sku": "OFF-PEN-BL", "qty": "1"})
    buyer.post("/checkout", data={"method": "on_account", "idempotency_key": str(uuid.uuid4())})
    order = _one(app, select(SalesOrder).order_by(SalesOrder.id.desc()))
    buyer_id = _one(app, select(User.id).where(User.email == "buyer@contoso.example"))
    assert order is not None and order.user_id == buyer_id
    admin = app.test_client()
    login(ADMIN, c=admin)
    assert order.number in admin.get("/admin/orders?customer=retail").get_data(as_text=True)


def test_order_form_refuses_bad_input_and_creates_nothing(app, admin):
    retail = _customer(app, "Contoso Retail")
    product = _products(app, 1)[0]
    key = {"idempotency_key": str(uuid.uuid4())}
    cases = [
        {
            "customer_id": retail.id,
            "order_type": "sales_order",
            "product-0": product.id,
            "quantity-0": 1,
        },  # no key
        {**key, "customer_id": retail.id, "order_type": "sales_order"},  # no lines
        {
            **key,
            "customer_id": retail.id,
            "order_type": "bogus",
            "product-0": product.id,
            "quantity-0": 1,
        },
        {
            **key,
            "customer_id": 999999,
            "order_type": "sales_order",
            "product-0": product.id,
            "quantity-0": 1,
        },
        {
            **key,
            "customer_id": retail.id,
            "order_type": "sales_order",
            "product-0": product.id,
            "quantity-0": "-2",
        },
        {
            **key,
            "customer_id": retail.id,
            "order_type": "sales_order",
            "product-0": 999999,
            "quantity-0": 1,
        },
    ]
    for data in cases:
        assert admin.post("/admin/orders/new", data=data).status_code == 422, data
    assert _one(app, select(func.count(SalesOrder.id))) == 0


def test_double_submits_create_one_order_and_deliver_once(app, admin):
    retail = _customer(app, "Contoso Retail")
    product = _products(app, 1)[0]
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "customer_id": retail.id,
        "order_type": "sales_order",
        "product-0": product.id,
        "quantity-0": 5,
    }
    first = admin.post("/admin/orders/new", data=data)
    second = admin.post("/admin/orders/new", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert _one(app, select(func.count(SalesOrder.id))) == 1
    number = first.headers["Location"].rsplit("/", 1)[1]
    admin.post(f"/admin/orders/{number}/confirm")
    # The same packing slip form sent twice (both saw no slip yet): delivered once.
    assert _deliver(admin, app, number, {1: 2}, slips_seen=0).status_code == 302
    response = _deliver(admin, app, number, {1: 2}, slips_seen=0)
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "posted for this order meanwhile" in page
    order = _order(app, number)
    assert order.lines[0].delivered_quantity == 2 and len(order.packing_slips) == 1


def test_pro_forma_for_an_order_is_marked_and_never_posted(app, admin):
    number = _create_order(admin, app, qty=(2,))
    response = admin.get(f"/admin/orders/{number}/pro-forma.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "PRO FORMA" in text
    assert "INV-" not in text
    assert _one(app, select(func.count(Invoice.id))) == 27
    with app.app_context():
        assert db.session.scalar(select(func.max(Invoice.number))) == "INV-000027"


# --- free text invoices ---------------------------------------------------------------------


def _free_text_data(customer_id: int, **line) -> dict:
    data = {
        "customer_id": customer_id,
        "invoice_date": date.today().isoformat(),
        "account-0": "4400",
        "description-0": "Installation, 6 hours",
        "amount-0": "540.00",
        "tax-0": "21",
        "action": "save",
    }
    data.update(line)
    return data


def test_free_text_invoice_validates_posts_and_reaches_the_buyer(app, admin, login):
    retail = _customer(app, "Contoso Retail")
    for bad in (
        {"account-0": ""},
        {"description-0": ""},
        {"amount-0": "0"},
        {"amount-0": "12.345"},
        {"amount-0": "abc"},
        {"tax-0": "100"},
    ):
        response = admin.post("/admin/free-text/new", data=_free_text_data(retail.id, **bad))
        assert response.status_code == 422, bad
    assert _one(app, select(func.count(FreeTextInvoice.id))) == 0
    response = admin.post("/admin/free-text/new", data=_free_text_data(retail.id))
    assert response.status_code == 302
    draft = _one(app, select(FreeTextInvoice))
    pro_forma = admin.get(f"/admin/free-text/{draft.id}/pro-forma.pdf")
    assert "PRO FORMA" in PdfReader(io.BytesIO(pro_forma.data)).pages[0].extract_text()
    assert _one(app, select(func.count(Invoice.id))) == 27  # a pro forma is never posted
    response = admin.post(
        f"/admin/free-text/{draft.id}", data=_free_text_data(retail.id, action="post")
    )
    assert response.status_code == 302
    invoice = _one(app, select(Invoice).order_by(Invoice.id.desc()))
    assert invoice.kind == InvoiceKind.FREE_TEXT and invoice.customer_id == retail.id
    assert invoice.total == Decimal("653.40")
    with app.app_context():
        line = db.session.get(Invoice, invoice.id).lines[0]
        assert line.ledger_account == "4400" and line.sku is None
    # Posting twice is refused.
    admin.post(f"/admin/free-text/{draft.id}", data=_free_text_data(retail.id, action="post"))
    assert _one(app, select(func.count(Invoice.id))) == 28
    buyer = app.test_client()
    login("buyer@contoso.example", c=buyer)
    assert invoice.number in buyer.get("/invoices?sort=-due_date").get_data(as_text=True)


# --- payments -------------------------------------------------------------------------------


def _open_invoice(app, customer: str) -> Invoice:
    return _one(
        app,
        select(Invoice)
        .join(Customer)
        .where(Customer.name == customer, Invoice.status == InvoiceStatus.UNPAID)
        .order_by(Invoice.id),
    )


def _manual_payment(admin, customer_id: int, amounts: dict[int, str], key: str | None = None):
    import uuid

    data = {"idempotency_key": key or str(uuid.uuid4()), "reference": "BANK-1"}
    data.update({f"amount-{invoice_id}": amount for invoice_id, amount in amounts.items()})
    return admin.post(f"/admin/payments/new?customer_id={customer_id}", data=data)


def test_manual_payment_settles_and_refuses_bad_amounts(app, admin):
    retail = _customer(app, "Contoso Retail")
    invoice = _open_invoice(app, "Contoso Retail")
    fabrikam_invoice = _open_invoice(app, "Fabrikam")
    payments_before = _one(app, select(func.count(Payment.id)))
    for amounts in (
        {invoice.id: str(invoice.total + 1)},
        {invoice.id: "0"},
        {invoice.id: "-5"},
        {invoice.id: "1.001"},
        {invoice.id: "ten"},
        {},
    ):
        assert _manual_payment(admin, retail.id, amounts).status_code == 422, amounts
    # Another customer's invoice is not offered, and not accepted either.
    assert _manual_payment(admin, retail.id, {fabrikam_invoice.id: "1.00"}).status_code == 422
    assert _one(app, select(func.count(Payment.id))) == payments_before
    key = "0b3f8a64-1f7e-4a5e-9d0b-2f3c4d5e6f70"
    assert _manual_payment(admin, retail.id, {invoice.id: "100.00"}, key).status_code == 302
    assert _manual_payment(admin, retail.id, {invoice.id: "100.00"}, key).status_code == 302
    with app.app_context():
        assert db.session.get(Invoice, invoice.id).amount_paid == Decimal("100.00")
        payments = db.session.scalars(
            select(Payment).where(Payment.provider_reference == "BANK-1")
        ).all()
        assert len(payments) == 1 and payments[0].provider_reference == "BANK-1"


def test_confirm_bank_transfer_and_reverse_payment_with_audit(app, admin, login):
    import uuid

    buyer = app.test_client()
    login("buyer@contoso.example", c=buyer)
    invoice = _open_invoice(app, "Contoso Retail")
    buyer.post("/cart/invoices", data={"invoice": invoice.number})
    buyer.post("/checkout", data={"method": "bank_transfer", "idempotency_key": str(uuid.uuid4())})
    payment = _one(app, select(Payment).where(Payment.status == PaymentStatus.PENDING))
    assert payment is not None
    with app.app_context():
        assert db.session.get(Invoice, invoice.id).amount_paid == 0
    assert admin.post(f"/admin/payments/{payment.number}/confirm").status_code == 302
    with app.app_context():
        settled = db.session.get(Invoice, invoice.id)
        assert settled.status == InvoiceStatus.PAID
    # Confirming twice is refused and changes nothing.
    response = admin.post(f"/admin/payments/{payment.number}/confirm", follow_redirects=True)
    assert "is not pending" in response.get_data(as_text=True)
    # Reverse: needs a reason; then the invoice is open again.
    admin.post(f"/admin/payments/{payment.number}/reverse", data={"reason": ""})
    assert (
        _one(app, select(Payment.status).where(Payment.id == payment.id)) == PaymentStatus.COMPLETED
    )
    admin.post(f"/admin/payments/{payment.number}/reverse", data={"reason": "Bounced"})
    with app.app_context():
        reopened = db.session.get(Invoice, invoice.id)
        assert reopened.amount_paid == 0 and reopened.status == InvoiceStatus.UNPAID
        assert db.session.get(Payment, payment.id).status == PaymentStatus.REVERSED
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == payment.number).order_by(AuditEntry.id)
        ).all()
        assert [e.action for e in entries] == ["payment.confirm", "payment.reverse"]
        reverse = entries[-1]
        assert reverse.actor.email == ADMIN
        assert reverse.before["status"] == "completed" and reverse.after["status"] == "reversed"
        assert reverse.before["invoices"][invoice.number] == str(invoice.total)
        assert reverse.after["invoices"][invoice.number] == "0.00"
        assert reverse.after["reason"] == "Bounced"
    # Reversing twice is refused.
    response = admin.post(
        f"/admin/payments/{payment.number}/reverse", data={"reason": "x"}, follow_redirects=True
    )
    assert "is not completed" in response.get_data(as_text=True)
    assert "payment.reverse" in admin.get("/admin/audit?q=payment").get_data(as_text=True)


def test_admin_translations_follow_the_admin_locale(app, admin):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == ADMIN))
        user.locale = "fr"
        db.session.commit()
    html = admin.get("/admin/orders").get_data(as_text=True)
    assert "Commandes client" in html
