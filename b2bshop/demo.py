"""Demo data (DESIGN.md): the sign-ins with password `demo`, two customers and an invoice
account, payment terms, products, and invoices in every state, dated relative to today."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import (
    Customer,
    EInvoiceFormat,
    LegalEntity,
    PaymentTerms,
    Role,
    User,
)
from b2bshop.billing.service import LineInput, post_invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.payments.models import PaymentMethod
from b2bshop.payments.service import Allocation, record_payment

PASSWORD = "demo"

PRODUCTS = [
    ("OFF-PAP-A4", "Copy paper A4, 80 g, box of 5 reams", "24.90", 400),
    ("OFF-PAP-A3", "Copy paper A3, 80 g, box of 5 reams", "39.50", 120),
    ("OFF-PEN-BL", "Ballpoint pens, blue, pack of 50", "17.80", 300),
    ("OFF-PEN-BK", "Ballpoint pens, black, pack of 50", "17.80", 280),
    ("OFF-MRK-4C", "Whiteboard markers, 4 colours", "8.40", 150),
    ("OFF-STP-24", "Stapler, 24/6, metal", "21.00", 60),
    ("OFF-STA-24", "Staples 24/6, box of 5,000", "3.20", 500),
    ("OFF-BND-A4", "Lever arch files A4, pack of 10", "34.00", 90),
    ("OFF-NTB-A5", "Notebooks A5, ruled, pack of 10", "22.50", 140),
    ("OFF-ENV-C4", "Envelopes C4, box of 250", "29.90", 75),
    ("IT-MSE-WL", "Wireless mouse", "19.90", 200),
    ("IT-KBD-WL", "Wireless keyboard, nordic layout", "44.00", 80),
    ("IT-KBD-FR", "Wireless keyboard, French layout", "44.00", 40),
    ("IT-HUB-7", "USB-C hub, 7 ports", "59.00", 55),
    ("IT-MON-27", "Monitor 27 inch, QHD", "289.00", 25),
    ("IT-ARM-2", "Monitor arm, dual", "119.00", 18),
    ("IT-HDS-BT", "Bluetooth headset with microphone", "89.00", 35),
    ("IT-CBL-HD", "HDMI cable, 2 m", "7.90", 600),
    ("IT-SSD-1T", "External SSD, 1 TB", "99.00", 45),
    ("IT-LCK-KS", "Laptop security lock", "29.00", 70),
    ("FUR-CHR-ERG", "Ergonomic office chair", "349.00", 12),
    ("FUR-DSK-160", "Sit-stand desk, 160 x 80 cm", "529.00", 6),
    ("FUR-CAB-3D", "Mobile pedestal, 3 drawers", "189.00", 14),
    ("FUR-LMP-LED", "LED desk lamp", "49.00", 50),
    ("FUR-MAT-CH", "Chair mat, polycarbonate", "65.00", 30),
    ("CLN-WIP-100", "Surface wipes, tub of 100", "6.50", 250),
    ("CLN-SOP-5L", "Hand soap refill, 5 l", "14.90", 80),
    ("CLN-TWL-24", "Paper towels, 24 rolls", "27.00", 110),
    ("KIT-COF-1K", "Coffee beans, 1 kg", "18.50", 160),
    ("KIT-TEA-100", "Black tea, 100 bags", "5.90", 220),
    ("KIT-CUP-50", "Paper cups, 50 pieces", "3.40", 400),
    ("KIT-WTR-24", "Sparkling water, 24 x 0.5 l", "11.90", 90),
]


#: The customers' address, VAT number, Peppol endpoint and e-invoice preference (valid check
#: digits; migration 0012 fills the same values into an existing demo database).
DEMO_PARTIES = {
    "C-1000": {
        "street": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country_code": "FR",
        "vat_number": "FR44732829320",
        "peppol_scheme": "0009",
        "peppol_id": "73282932000017",
        "einvoice_format": EInvoiceFormat.FACTURX,
    },
    "C-1001": {
        "street": "Rue Royale 120",
        "postal_code": "1000",
        "city": "Bruxelles",
        "country_code": "BE",
        "vat_number": "BE0403177530",
        "peppol_scheme": "0208",
        "peppol_id": "0403177530",
        "einvoice_format": EInvoiceFormat.PDF_UBL,
    },
    "C-2001": {
        "street": "Karl Johans gate 22",
        "postal_code": "0159",
        "city": "Oslo",
        "country_code": "NO",
        "vat_number": "NO923980474MVA",
        "peppol_scheme": "0192",
        "peppol_id": "923980474",
        "einvoice_format": EInvoiceFormat.PDF_UBL,
    },
}


def is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


def load(today: date | None = None) -> None:
    """Create the demo data. The caller commits."""
    today = today or date.today()
    rng = random.Random(20261123)
    entity = LegalEntity(
        code="B2B",
        name="b2bshop Supplies B.V.",
        currency="EUR",
        address="Keizersgracht 1, 1015 CJ Amsterdam",
        # Plausible and valid (check digits, IBAN checksum): what migration 0012 fills in too.
        street="Keizersgracht 1",
        postal_code="1015 CJ",
        city="Amsterdam",
        country_code="NL",
        vat_number="NL812345678B01",
        registration_number="81234567",
        iban="NL91ABNA0417164300",
        bic="ABNANL2A",
        peppol_scheme="0106",
        peppol_id="81234567",
        vat_exemption_reason="Exempt from VAT (Article 135(1) of Directive 2006/112/EC)",
    )
    net30 = PaymentTerms(code="NET30", name="Net 30", net_days=30)
    net14 = PaymentTerms(code="NET14", name="Net 14", net_days=14)
    disc = PaymentTerms(
        code="2-10-NET30",
        name="2 % 10 / Net 30",
        net_days=30,
        cash_discount_percent=Decimal("2.00"),
        cash_discount_days=10,
    )
    db.session.add_all([entity, net30, net14, disc])

    def customer(number: str, name: str, email: str, terms: PaymentTerms, limit: str) -> Customer:
        c = Customer(
            legal_entity=entity,
            number=number,
            name=name,
            email=email,
            currency="EUR",
            payment_terms=terms,
            credit_limit=Decimal(limit),
            **DEMO_PARTIES[number],
        )
        db.session.add(c)
        return c

    group = customer("C-1000", "Contoso Group", "ap@contoso-group.example", net30, "250000")
    retail = customer("C-1001", "Contoso Retail", "finance@contoso.example", disc, "50000")
    fabrikam = customer("C-2001", "Fabrikam", "ap@fabrikam.example", net14, "20000")
    db.session.flush()
    accounts.set_invoice_account(retail, group)

    accounts.create_user(
        "admin@b2bshop.example", PASSWORD, role=Role.STORE_ADMIN, name="Store Admin"
    )
    accounts.create_user(
        "buyer@contoso.example",
        PASSWORD,
        role=Role.BUYER_ADMIN,
        customer=retail,
        name="Chris Buyer",
    )
    accounts.create_user(
        "ap@contoso.example", PASSWORD, customer=retail, name="Alex Payables", may_order=False
    )
    accounts.create_user(
        "buyer@fabrikam.example",
        PASSWORD,
        role=Role.BUYER_ADMIN,
        customer=fabrikam,
        name="Fran Buyer",
    )

    products = [
        Product(
            sku=sku,
            name=name,
            price=Decimal(price),
            currency="EUR",
            stock_on_hand=stock,
            tax_rate=Decimal("21.00"),
        )
        for sku, name, price, stock in PRODUCTS
    ]
    db.session.add_all(products)
    db.session.flush()

    def invoice(cust: Customer, days_ago: int, paid: str | None = None) -> None:
        picks = rng.sample(products, rng.randint(1, 4))
        lines = [
            LineInput(
                description=p.name,
                sku=p.sku,
                quantity=Decimal(rng.randint(1, 12)),
                unit_price=p.price,
                tax_rate=p.tax_rate,
            )
            for p in picks
        ]
        inv = post_invoice(cust, lines, today - timedelta(days=days_ago))
        if paid is None:
            return
        amount = (
            inv.total if paid == "full" else (inv.total * Decimal(paid)).quantize(Decimal("0.01"))
        )
        record_payment(None, cust, [Allocation(inv.id, amount)], PaymentMethod.MANUAL)

    # Every state for each account: paid, partially paid, unpaid (not yet due), overdue
    # unpaid and overdue partially paid; Contoso Retail's 2 % 10 terms give invoices that
    # are still inside their cash-discount period.
    for cust in (retail, group, fabrikam):
        invoice(cust, 75, "full")
        invoice(cust, 50, "full")
        invoice(cust, 45, "0.4")  # overdue, partially paid
        invoice(cust, 40)  # overdue
        invoice(cust, 95)  # long overdue
        invoice(cust, 20, "0.5")  # partially paid, not yet due
        invoice(cust, 12)
        invoice(cust, 3)  # inside the cash-discount period where the terms have one
        invoice(cust, 1)
    db.session.flush()


def load_sister_company(today: date | None = None) -> None:
    """A second legal entity, "b2bshop NO", that buys from the store (issue 20): its
    customer account here, the store as its vendor there, and intercompany payments
    received into journal IC and posted at once; one open intercompany invoice. Loaded by
    `flask demo` after load() (the tests' demo data set stays one entity). The caller
    commits."""
    from b2bshop.intercompany.models import IntercompanyRelation, IntercompanySettings, JournalName
    from b2bshop.numbering import next_number
    from b2bshop.purchasing.models import Vendor

    today = today or date.today()
    store = db.session.scalar(select(LegalEntity).order_by(LegalEntity.id))
    terms = db.session.scalar(select(PaymentTerms).where(PaymentTerms.code == "NET30"))
    widget = db.session.scalar(select(Product).order_by(Product.id))
    sister = LegalEntity(code="NO", name="b2bshop NO AS", currency="EUR", number_prefix="NO-")
    sister.street, sister.postal_code, sister.city, sister.country_code = (
        "Karl Johans gate 1", "0154", "Oslo", "NO",
    )  # fmt: skip
    db.session.add(sister)
    db.session.flush()
    buyer = Customer(
        legal_entity=store, number="C-9000", name="b2bshop NO AS", email="ap@no.b2bshop.example",
        currency="EUR", payment_terms=terms, credit_limit=Decimal("100000"),
    )  # fmt: skip
    vendor = Vendor(
        legal_entity_id=sister.id, number=next_number("vendor", sister.id), name=store.name,
        email="ar@b2bshop.example",
    )  # fmt: skip
    journal = JournalName(legal_entity_id=store.id, kind="customer", code="IC", name="Intercompany")
    db.session.add_all([buyer, vendor, journal])
    db.session.flush()
    db.session.add(
        IntercompanySettings(legal_entity_id=store.id, customer_journal_name_id=journal.id)
    )
    db.session.add(IntercompanyRelation(customer=buyer, vendor=vendor))
    db.session.flush()
    line = LineInput(
        description=widget.name, sku=widget.sku, quantity=Decimal(10),
        unit_price=widget.price, tax_rate=widget.tax_rate,
    )  # fmt: skip
    post_invoice(buyer, [line], today - timedelta(days=10))
