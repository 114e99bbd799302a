"""Small factories for tests: valid objects with sensible defaults, flushed, not committed."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from b2bshop.accounts import service as accounts
from b2bshop.accounts.models import Customer, LegalEntity, PaymentTerms, Role, User
from b2bshop.billing.models import Invoice
from b2bshop.billing.service import LineInput, post_invoice
from b2bshop.catalog.models import Product
from b2bshop.extensions import db

_seq = itertools.count(1)


def legal_entity() -> LegalEntity:
    entity = db.session.query(LegalEntity).first()
    if entity is None:
        entity = LegalEntity(code="TST", name="Test Seller", currency="EUR")
        db.session.add(entity)
        db.session.flush()
    return entity


def payment_terms(net_days: int = 30, percent: str = "0", days: int = 0) -> PaymentTerms:
    n = next(_seq)
    terms = PaymentTerms(
        code=f"T{n}",
        name=f"Terms {n}",
        net_days=net_days,
        cash_discount_percent=Decimal(percent),
        cash_discount_days=days,
    )
    db.session.add(terms)
    db.session.flush()
    return terms


def customer(
    name: str | None = None,
    *,
    terms: PaymentTerms | None = None,
    invoice_account: Customer | None = None,
    currency: str = "EUR",
    credit_limit: str = "10000",
) -> Customer:
    n = next(_seq)
    c = Customer(
        legal_entity=legal_entity(),
        number=f"C-{n:05d}",
        name=name or f"Customer {n}",
        email=f"ap{n}@customer.example",
        currency=currency,
        payment_terms=terms or payment_terms(),
        credit_limit=Decimal(credit_limit),
    )
    db.session.add(c)
    db.session.flush()
    if invoice_account is not None:
        accounts.set_invoice_account(c, invoice_account)
    return c


def user(
    email: str | None = None,
    *,
    customer: Customer | None = None,
    role: Role = Role.BUYER,
    password: str = "secret-pass",
    **permissions: bool,
) -> User:
    n = next(_seq)
    if role != Role.STORE_ADMIN and customer is None:
        customer = globals()["customer"]()
    return accounts.create_user(
        email or f"user{n}@example.com",
        password,
        role=role,
        customer=customer if role != Role.STORE_ADMIN else None,
        **permissions,
    )


def product(sku: str | None = None, price: str = "10.00", stock: int = 100) -> Product:
    n = next(_seq)
    p = Product(
        sku=sku or f"SKU-{n}",
        name=f"Product {n}",
        price=Decimal(price),
        currency="EUR",
        stock_on_hand=stock,
    )
    db.session.add(p)
    db.session.flush()
    return p


def invoice(
    cust: Customer,
    amount: str = "100.00",
    *,
    days_ago: int = 5,
    tax_rate: str = "0",
    today: date | None = None,
) -> Invoice:
    today = today or date.today()
    return post_invoice(
        cust,
        [
            LineInput(
                description="Goods",
                quantity=Decimal(1),
                unit_price=Decimal(amount),
                tax_rate=Decimal(tax_rate),
            )
        ],
        today - timedelta(days=days_ago),
    )


# --- Relationships and campaigns (issue 17) ---


def party(kind: str = "lead", name: str | None = None, *, country: str = "NL", customer=None):  # type: ignore[no-untyped-def]
    from b2bshop.relationships.models import Party, PartyKind

    n = next(_seq)
    p = Party(
        kind=PartyKind(kind),
        name=name or f"Party {n}",
        country_code=country,
        vat_number="",
        street="Street 1",
        postal_code="1000 AA",
        city="Amsterdam",
        source="admin",
        notes="",
        customer=customer,
    )
    db.session.add(p)
    db.session.flush()
    return p


def contact(party, email: str | None = None, *, language: str = "en", consent: bool = True):  # type: ignore[no-untyped-def]
    from b2bshop.relationships.models import Contact

    n = next(_seq)
    c = Contact(
        party=party,
        name=f"Contact {n}",
        email=email or f"contact{n}@party.example",
        phone="",
        role="",
        language=language,
        marketing_consent=consent,
    )
    db.session.add(c)
    db.session.flush()
    return c


# --- Legal entities and intercompany (issue 20) ---


def second_entity(code: str = "NO", currency: str = "EUR") -> LegalEntity:
    """A sister company beside the first (default) entity, which is made first if missing."""
    legal_entity()
    entity = db.session.query(LegalEntity).filter_by(code=code).first()
    if entity is None:
        entity = LegalEntity(
            code=code, name=f"b2bshop {code}", currency=currency, number_prefix=f"{code}-"
        )
        db.session.add(entity)
        db.session.flush()
    return entity


def customer_of(entity: LegalEntity, name: str | None = None, currency: str = "EUR") -> Customer:
    c = customer(name, currency=currency)
    c.legal_entity = entity
    db.session.flush()
    return c


def product_of(entity: LegalEntity, sku: str | None = None, price: str = "10.00") -> Product:
    p = product(sku, price)
    p.legal_entity_id = entity.id
    db.session.flush()
    return p


def vendor_of(entity: LegalEntity, name: str = "Sister vendor"):  # type: ignore[no-untyped-def]
    from b2bshop.numbering import next_number
    from b2bshop.purchasing.models import Vendor

    v = Vendor(number=next_number("vendor", entity.id), name=name, legal_entity_id=entity.id)
    db.session.add(v)
    db.session.flush()
    return v


def intercompany(auto_post: bool = True, currency: str = "EUR"):  # type: ignore[no-untyped-def]
    """The store's entity (first) sells to "NO": NO's customer account in the first
    entity, the first entity as NO's vendor, a customer payment journal "IC" and settings."""
    from b2bshop.intercompany.models import (
        IntercompanyRelation,
        IntercompanySettings,
        JournalName,
    )

    selling = legal_entity()
    buying = second_entity()
    cust = customer_of(selling, "b2bshop NO (intercompany)", currency)
    vend = vendor_of(buying, "b2bshop NL (intercompany)")
    journal = JournalName(legal_entity_id=selling.id, kind="customer", code="IC", name="IC")
    db.session.add(journal)
    db.session.flush()
    db.session.add(
        IntercompanySettings(
            legal_entity_id=selling.id, customer_journal_name_id=journal.id, auto_post=auto_post
        )
    )
    relation = IntercompanyRelation(customer=cust, vendor=vend)
    db.session.add(relation)
    db.session.flush()
    return relation
