"""Credit notes in the admin area and on the buyer's invoice list (issue 16)."""

from __future__ import annotations

from babel import Locale
from sqlalchemy import select

from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.extensions import db
from b2bshop.money import format_money
from b2bshop.sales.models import SalesOrder

ADMIN = "admin@b2bshop.example"
BUYER = "buyer@fabrikam.example"


def _invoice(app, number: str) -> Invoice:
    with app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
        db.session.expunge_all()
        return invoice


def test_return_credit_note_apply_and_reverse_through_the_admin(app, client, login, demo):
    admin = login(ADMIN)
    with app.app_context():
        from b2bshop.accounts.models import Customer
        from b2bshop.catalog.models import Product

        fabrikam = db.session.scalar(select(Customer).where(Customer.number == "C-2001"))
        product = db.session.scalar(select(Product).order_by(Product.id))
        fabrikam_id, product_id = fabrikam.id, product.id
        unpaid = db.session.scalars(
            select(Invoice.number)
            .where(Invoice.customer_id == fabrikam_id, Invoice.status == InvoiceStatus.UNPAID)
            .order_by(Invoice.id)
        ).all()
        paid = db.session.scalar(
            select(Invoice.number)
            .where(Invoice.customer_id == fabrikam_id, Invoice.status == InvoiceStatus.PAID)
            .order_by(Invoice.id)
        )
    response = admin.post(
        "/admin/orders/new",
        data={
            "customer_id": fabrikam_id,
            "order_type": "returned_order",
            "idempotency_key": "6f1d2c3b-0a4e-4b5c-9d8e-7f6a5b4c3d2e",
            "product-0": product_id,
            "quantity-0": "2",
        },
    )
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[-1]
    assert admin.post(f"/admin/orders/{number}/confirm").status_code == 302
    with app.app_context():
        line_id = (
            db.session.scalar(select(SalesOrder).where(SalesOrder.number == number)).lines[0].id
        )
    admin.post(f"/admin/orders/{number}/packing-slips", data={f"qty-{line_id}": "2"})
    page = admin.get(f"/admin/orders/{number}").get_data(as_text=True)
    assert "Post credit note for the returned goods" in page
    # The original invoice must be named; it is paid already, so the credit stays open.
    admin.post(f"/admin/orders/{number}/credit-note", data={"original": ""})
    assert _invoice(app, "CN-000001") is None
    response = admin.post(f"/admin/orders/{number}/credit-note", data={"original": paid})
    assert response.status_code == 302
    note = _invoice(app, "CN-000001")
    assert note.credit_note and note.status == InvoiceStatus.UNPAID
    listed = admin.get("/admin/invoices?q=CN-").get_data(as_text=True)
    assert "Credit note" in listed and "Open credit" in listed
    # The buyer sees it with a negative balance, not payable.
    buyer = app.test_client()
    login(BUYER, c=buyer)
    rows = buyer.get("/invoices?sort=number", headers={"HX-Request": "true"}).get_data(as_text=True)
    row = rows[rows.index('id="invoice-CN-000001"') :].split("</tr>", 1)[0]
    assert "Open credit" in row
    assert format_money(-note.total, "EUR", Locale.parse("en")) in row
    assert 'name="invoice" value="CN-000001"' not in row
    assert buyer.post("/cart/invoices", data={"invoice": "CN-000001"}).status_code == 409
    # The admin applies it to an open invoice of the account.
    target = unpaid[0]
    shown = admin.get("/admin/invoices/CN-000001").get_data(as_text=True)
    assert 'id="apply-credit"' in shown and target in shown
    amount = f"{note.total:.2f}"
    response = admin.post(
        "/admin/invoices/CN-000001/apply-credit", data={"invoice": target, "amount": amount}
    )
    assert response.status_code == 302
    assert _invoice(app, "CN-000001").status == InvoiceStatus.PAID
    assert _invoice(app, target).amount_paid == note.total
    # The buyer's credit note page: the credit used, and where it went.
    page = buyer.get("/invoices/CN-000001").get_data(as_text=True)
    used = format_money(note.total, "EUR", Locale.parse("en"))
    assert "Credit used" in page and page.count(used) >= 3  # total, used, the settlement
    settlement = page[page.index("Payments and settlements") :]
    assert "PAY-" in settlement and "Credit note" in settlement
    again = admin.post(
        "/admin/invoices/CN-000001/apply-credit", data={"invoice": target, "amount": "1.00"}
    )
    assert again.status_code == 302
    assert _invoice(app, target).amount_paid == note.total  # refused, nothing changed


def test_free_text_reversal_from_the_admin_invoice_page(app, client, login, demo):
    admin = login(ADMIN)
    with app.app_context():
        from b2bshop.accounts.models import Customer

        customer_id = db.session.scalar(select(Customer.id).where(Customer.number == "C-2001"))
    data = {
        "customer_id": customer_id,
        "invoice_date": "2026-11-02",
        "account-0": "4400",
        "description-0": "Workshop",
        "amount-0": "500.00",
        "tax-0": "21",
        "action": "post",
    }
    response = admin.post("/admin/free-text/new", data=data)
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[-1]
    page = admin.get(f"/admin/invoices/{number}").get_data(as_text=True)
    assert 'id="reverse-invoice"' in page
    response = admin.post(f"/admin/invoices/{number}/reverse")
    assert response.status_code == 302 and response.headers["Location"].endswith("CN-000001")
    assert _invoice(app, number).status == InvoiceStatus.PAID
    page = admin.get(f"/admin/invoices/{number}").get_data(as_text=True)
    assert "Reversed by" in page and 'id="reverse-invoice"' not in page
