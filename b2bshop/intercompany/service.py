"""Intercompany document chain and payment journals (SPEC C1-C4).

The chain, each step in the caller's one transaction:
  sales order (selling entity) -> purchase order (buying entity)      purchase_for_order
  customer invoice posted      -> customer transaction (C1) + vendor
                                  invoice and vendor transaction (C2)  transactions_for_invoice
  vendor payment journal       -> vendor transactions settled + the
  posted                          seller's customer payment journal
                                  (C3), posted at once on auto-post    post_vendor_journal

Locks (core/locks.py, step 1b): the journal being changed first, then its vendor
transactions; the settlement service then takes accounts and invoices, numbers last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.catalog.models import Product
from b2bshop.core.locks import lock_rows
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.intercompany.models import (
    CustomerTransaction,
    IntercompanyRelation,
    IntercompanySettings,
    JournalKind,
    JournalName,
    JournalStatus,
    PaymentJournal,
    PaymentJournalLine,
    PaymentJournalSettlement,
    VendorInvoice,
    VendorTransaction,
)
from b2bshop.money import ZERO, quantize
from b2bshop.numbering import next_number
from b2bshop.payments import service as payments
from b2bshop.payments.models import PaymentMethod
from b2bshop.purchasing.models import PurchaseOrder, PurchaseOrderLine, Vendor
from b2bshop.sales.models import SalesOrder


class IntercompanyInvalid(DomainError):
    pass


class JournalConflict(DomainError):
    """The journal moved on meanwhile (posted, reversed): the page was stale."""

    status_code = 409


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- relation and settings --------------------------------------------------------------


def relation_for_customer(customer_id: int) -> IntercompanyRelation | None:
    return db.session.scalar(
        select(IntercompanyRelation).where(IntercompanyRelation.customer_id == customer_id)
    )


def relation_for_vendor(vendor_id: int) -> IntercompanyRelation | None:
    return db.session.scalar(
        select(IntercompanyRelation).where(IntercompanyRelation.vendor_id == vendor_id)
    )


def create_relation(
    acting_user: User, selling_entity_id: int, customer_id: int, vendor_id: int
) -> IntercompanyRelation:
    """Link a customer of the selling entity (the admin's) to a vendor of another entity."""
    customer = db.session.get(Customer, customer_id)
    vendor = db.session.get(Vendor, vendor_id)
    if customer is None or customer.legal_entity_id != selling_entity_id:
        raise IntercompanyInvalid(_l("Choose a customer of this legal entity."))
    if vendor is None or vendor.legal_entity_id == selling_entity_id:
        raise IntercompanyInvalid(_l("Choose a vendor of another legal entity."))
    if relation_for_customer(customer.id) or relation_for_vendor(vendor.id):
        raise IntercompanyInvalid(_l("This customer or vendor is already in a relation."))
    relation = IntercompanyRelation(customer=customer, vendor=vendor)
    db.session.add(relation)
    audit.record(
        acting_user,
        "intercompany.relation",
        "customer",
        customer.number,
        after={"vendor": vendor.number},
    )
    db.session.flush()
    return relation


def settings_for(entity_id: int) -> IntercompanySettings:
    """The selling entity's settings (auto-post on, no journal chosen, until saved)."""
    return db.session.get(IntercompanySettings, entity_id) or IntercompanySettings(
        legal_entity_id=entity_id, auto_post=True
    )


def customer_journal_names(entity_id: int) -> list[JournalName]:
    return list(
        db.session.scalars(
            select(JournalName)
            .where(
                JournalName.legal_entity_id == entity_id,
                JournalName.kind == JournalKind.CUSTOMER.value,
            )
            .order_by(JournalName.code)
        )
    )


def save_settings(
    acting_user: User, entity_id: int, journal_name_id: int | None, auto_post: bool
) -> IntercompanySettings:
    if journal_name_id is not None and journal_name_id not in {
        j.id for j in customer_journal_names(entity_id)
    }:
        raise IntercompanyInvalid(_l("Choose a customer payment journal of this entity."))
    settings = db.session.get(IntercompanySettings, entity_id)
    if settings is None:
        settings = IntercompanySettings(legal_entity_id=entity_id)
        db.session.add(settings)
    settings.customer_journal_name_id = journal_name_id
    settings.auto_post = auto_post
    audit.record(
        acting_user,
        "intercompany.settings",
        "legal_entity",
        entity_id,
        after={"journal": journal_name_id, "auto_post": auto_post},
    )
    db.session.flush()
    return settings


def save_journal_name(acting_user: User, entity_id: int, code: str, name: str) -> JournalName:
    code = (code or "").strip().upper()[:20]
    if not code or not (name or "").strip():
        raise IntercompanyInvalid(_l("A journal needs a code and a name."))
    if any(j.code == code for j in customer_journal_names(entity_id)):
        raise IntercompanyInvalid(_l("This entity has a journal %(code)s already.", code=code))
    journal = JournalName(
        legal_entity_id=entity_id,
        kind=JournalKind.CUSTOMER.value,
        code=code,
        name=name.strip()[:100],
    )
    db.session.add(journal)
    db.session.flush()
    return journal


# --- the document chain -----------------------------------------------------------------


def _buying_product(entity_id: int, source: Product, price: Decimal, currency: str) -> Product:
    """The buying entity's item for what it buys from its sister company: the same SKU in
    its own catalog, made (not for sale in its store) when it has none yet."""
    product = db.session.scalar(
        select(Product).where(Product.legal_entity_id == entity_id, Product.sku == source.sku)
    )
    if product is None:
        product = Product(
            legal_entity_id=entity_id,
            sku=source.sku,
            name=source.name,
            description=source.description,
            price=price,
            currency=currency,
            tax_rate=source.tax_rate,
            stock_on_hand=0,
            active=False,
            category=source.category,
        )
        db.session.add(product)
    return product


def purchase_for_order(order: SalesOrder) -> PurchaseOrder | None:
    """An intercompany customer's sales order: its purchase order in the buying entity, once
    (the key names the sales order), in the caller's transaction."""
    relation = relation_for_customer(order.customer_id)
    if relation is None:
        return None
    key = f"ic-order-{order.id}"
    existing = db.session.scalar(select(PurchaseOrder).where(PurchaseOrder.idempotency_key == key))
    if existing is not None:
        return existing
    vendor = relation.vendor
    expected = order.requested_ship_date or order.order_date
    purchase = PurchaseOrder(
        legal_entity_id=vendor.legal_entity_id,
        vendor=vendor,
        order_date=order.order_date,
        idempotency_key=key,
    )
    for line in order.lines:
        purchase.lines.append(
            PurchaseOrderLine(
                line_no=line.line_no,
                product=_buying_product(
                    vendor.legal_entity_id, line.product, line.unit_price, order.currency
                ),
                quantity=line.quantity,
                expected_date=max(expected, order.order_date),
                received_quantity=0,
            )
        )
    purchase.number = next_number("purchase_order", vendor.legal_entity_id)
    db.session.add(purchase)
    db.session.flush()
    return purchase


def purchase_order_of(order: SalesOrder) -> PurchaseOrder | None:
    return db.session.scalar(
        select(PurchaseOrder).where(PurchaseOrder.idempotency_key == f"ic-order-{order.id}")
    )


def transactions_for_invoice(invoice: Invoice) -> VendorInvoice | None:
    """C1 and C2 for an intercompany customer's invoice: the open customer transaction and,
    in the buying entity, the vendor invoice with its open vendor transaction, of the same
    amount, currency and due date. Credit notes and other customers: nothing."""
    if invoice.credit_note:
        return None
    relation = relation_for_customer(invoice.customer_id)
    if relation is None:
        return None
    vendor = relation.vendor
    db.session.add(
        CustomerTransaction(
            legal_entity_id=invoice.legal_entity_id,
            customer_id=invoice.customer_id,
            invoice=invoice,
            currency=invoice.currency,
            amount=invoice.total,
            due_date=invoice.due_date,
        )
    )
    vendor_invoice = VendorInvoice(
        legal_entity_id=vendor.legal_entity_id,
        vendor=vendor,
        number=invoice.number,
        customer_invoice=invoice,
        currency=invoice.currency,
        total=invoice.total,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
    )
    vendor_invoice.transaction = VendorTransaction(
        legal_entity_id=vendor.legal_entity_id,
        vendor_id=vendor.id,
        currency=invoice.currency,
        amount=invoice.total,
        settled_amount=ZERO,
        due_date=invoice.due_date,
    )
    db.session.add(vendor_invoice)
    db.session.flush()
    return vendor_invoice


# --- vendor payment journal -------------------------------------------------------------


@dataclass(frozen=True)
class VendorLineInput:
    vendor_id: int
    amount: Decimal
    paid_on: date
    #: The vendor invoices this payment settles, oldest due date first.
    vendor_invoice_ids: list[int] = field(default_factory=list)


def open_vendor_transactions(
    entity_id: int, vendor_id: int | None = None
) -> list[VendorTransaction]:
    stmt = (
        select(VendorTransaction)
        .where(
            VendorTransaction.legal_entity_id == entity_id,
            VendorTransaction.settled_amount < VendorTransaction.amount,
        )
        .order_by(VendorTransaction.due_date, VendorTransaction.id)
    )
    if vendor_id is not None:
        stmt = stmt.where(VendorTransaction.vendor_id == vendor_id)
    return list(db.session.scalars(stmt))


def _spread(amount: Decimal, items: Iterable[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """An amount over open items in the given order; all of it, or refused."""
    left, spread = amount, []
    for ident, open_amount in items:
        if left <= 0:
            break
        take = min(left, open_amount)
        if take > 0:
            spread.append((ident, take))
            left -= take
    if left > 0:
        raise IntercompanyInvalid(_l("The amount is more than the chosen invoices have open."))
    return spread


def _vendor_line(
    entity_id: int, line_no: int, data: VendorLineInput, planned: dict[int, Decimal]
) -> tuple[PaymentJournalLine, int | None]:
    """One payment line and the selling entity it pays (None: not intercompany). `planned`
    is what the journal's other lines already settle of each vendor transaction: two lines
    never pay the same open amount twice."""
    vendor = db.session.get(Vendor, data.vendor_id)
    if vendor is None or vendor.legal_entity_id != entity_id:
        raise IntercompanyInvalid(_l("Choose a vendor of this legal entity."))
    relation = relation_for_vendor(vendor.id)
    wanted = set(data.vendor_invoice_ids)
    chosen = [
        t for t in open_vendor_transactions(entity_id, vendor.id) if t.vendor_invoice_id in wanted
    ]
    if not wanted or len(chosen) != len(wanted):
        raise IntercompanyInvalid(_l("Choose open invoices of this vendor."))
    currencies = {t.currency for t in chosen}
    if len(currencies) != 1:
        raise IntercompanyInvalid(_l("The invoices of one line share one currency."))
    currency = currencies.pop()
    if data.amount <= 0 or data.amount != quantize(data.amount, currency):
        raise IntercompanyInvalid(_l("Enter an amount greater than zero, in whole cents."))
    if data.paid_on > date.today():
        raise IntercompanyInvalid(_l("The payment date cannot be after today."))
    line = PaymentJournalLine(
        line_no=line_no,
        vendor_id=vendor.id,
        currency=currency,
        amount=data.amount,
        paid_on=data.paid_on,
    )
    open_now = [(t.id, t.open_amount - planned.get(t.id, ZERO)) for t in chosen]
    for transaction_id, amount in _spread(data.amount, open_now):
        planned[transaction_id] = planned.get(transaction_id, ZERO) + amount
        line.settlements.append(
            PaymentJournalSettlement(vendor_transaction_id=transaction_id, amount=amount)
        )
    return line, relation.customer.legal_entity_id if relation is not None else None


def _one_sister(selling: set[int | None]) -> None:
    if len(selling - {None}) > 1:
        # One customer journal answers one vendor journal.
        raise IntercompanyInvalid(
            _l("Pay one sister company per journal: make a journal for each.")
        )


def _selling_entity(vendor_id: int | None) -> int | None:
    relation = relation_for_vendor(vendor_id) if vendor_id is not None else None
    return relation.customer.legal_entity_id if relation is not None else None


def create_vendor_journal(
    acting_user: User,
    entity_id: int,
    lines: list[VendorLineInput],
    *,
    idempotency_key: str | None = None,
) -> PaymentJournal:
    """A draft vendor payment journal of the buying entity. Each line pays a vendor's chosen
    invoices (oldest due first) with its amount; never more than they have open."""
    if idempotency_key:
        existing = db.session.scalar(
            select(PaymentJournal).where(PaymentJournal.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing
    if not lines:
        raise IntercompanyInvalid(_l("Add at least one payment line."))
    journal = PaymentJournal(
        legal_entity_id=entity_id,
        kind=JournalKind.VENDOR.value,
        status=JournalStatus.DRAFT.value,
        created_by_id=acting_user.id,
        idempotency_key=idempotency_key,
    )
    selling: set[int | None] = set()
    planned: dict[int, Decimal] = {}
    for line_no, data in enumerate(lines, start=1):
        line, sister = _vendor_line(entity_id, line_no, data, planned)
        selling.add(sister)
        journal.lines.append(line)
    _one_sister(selling)
    journal.number = next_number("vendor_journal", entity_id)
    db.session.add(journal)
    audit.record(
        acting_user,
        "journal.create",
        "payment_journal",
        journal.number,
        after={"total": str(journal.total)},
    )
    db.session.flush()
    return journal


def add_vendor_line(
    acting_user: User,
    entity_id: int,
    journal_id: int,
    data: VendorLineInput,
    *,
    lines_seen: int | None = None,
) -> PaymentJournal:
    """Another payment line on a draft vendor journal (locked, its status re-read).
    `lines_seen`: how many lines the form showed; a resubmitted form finds one more and is
    refused instead of adding the line twice."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.VENDOR)
    _expect(journal, JournalStatus.DRAFT)
    if lines_seen is not None and lines_seen != len(journal.lines):
        raise JournalConflict(
            _l(
                "Journal %(number)s was changed meanwhile: reload it before adding a line.",
                number=journal.number,
            )
        )
    planned: dict[int, Decimal] = {}
    for settlement in (s for line in journal.lines for s in line.settlements):
        key = settlement.vendor_transaction_id
        planned[key] = planned.get(key, ZERO) + settlement.amount  # type: ignore[index]
    line, sister = _vendor_line(entity_id, len(journal.lines) + 1, data, planned)
    _one_sister({sister, *(_selling_entity(x.vendor_id) for x in journal.lines)})
    journal.lines.append(line)
    audit.record(
        acting_user,
        "journal.add_line",
        "payment_journal",
        journal.number,
        after={"total": str(journal.total)},
    )
    db.session.flush()
    return journal


def _lock_journal(journal_id: int, entity_id: int, kind: JournalKind) -> PaymentJournal:
    journal = lock_rows(PaymentJournal, [journal_id]).get(journal_id)
    if journal is None or journal.legal_entity_id != entity_id or journal.kind != kind.value:
        raise NotFound(_l("There is no such journal."))
    return journal


def _expect(journal: PaymentJournal, status: JournalStatus) -> None:
    if journal.status != status.value:
        raise JournalConflict(
            _l(
                "Journal %(number)s was changed meanwhile: it is %(status)s now.",
                number=journal.number,
                status=status_label(journal.status),
            )
        )


def status_label(status: str) -> object:
    return {
        JournalStatus.DRAFT.value: _l("draft"),
        JournalStatus.POSTED.value: _l("posted"),
        JournalStatus.REVERSED.value: _l("reversed"),
    }.get(status, status)


def post_vendor_journal(acting_user: User, entity_id: int, journal_id: int) -> PaymentJournal:
    """draft -> posted: settles the vendor transactions and makes the selling entity's
    customer payment journal of the same lines and amounts (C3), posted at once when that
    entity auto-posts. A failed automatic posting leaves it unposted with the reason,
    nothing of it half done (a savepoint); the vendor side stays posted."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.VENDOR)
    _expect(journal, JournalStatus.DRAFT)
    settlements = [s for line in journal.lines for s in line.settlements]
    transactions = lock_rows(VendorTransaction, [s.vendor_transaction_id for s in settlements])
    for settlement in settlements:
        transaction = transactions[settlement.vendor_transaction_id]
        if settlement.amount > transaction.open_amount:
            raise JournalConflict(
                _l(
                    "Invoice %(number)s has less open than this journal pays: it was paid "
                    "meanwhile. Reverse this journal and make another.",
                    number=transaction.vendor_invoice.number,
                )
            )
        transaction.settled_amount += settlement.amount
    journal.status = JournalStatus.POSTED.value
    journal.posted_at = _now()
    journal.attention_reason = None
    audit.record(
        acting_user,
        "journal.post",
        "payment_journal",
        journal.number,
        after={"total": str(journal.total)},
    )
    customer_journal = _customer_journal_for(journal)
    db.session.flush()
    if customer_journal is not None:
        settings = settings_for(customer_journal.legal_entity_id)
        if settings.auto_post:
            try:
                with db.session.begin_nested():
                    _post_customer(acting_user, customer_journal)
            except DomainError as error:
                # The savepoint took back whatever the posting had done; the journal waits.
                customer_journal.attention_reason = str(error.message)[:500]
                db.session.flush()
    return journal


def _customer_journal_for(journal: PaymentJournal) -> PaymentJournal | None:
    """The selling entity's side of the intercompany lines: same amounts, same dates, the
    customer invoices the vendor invoices copy."""
    lines: list[PaymentJournalLine] = []
    entity_id = None
    for vendor_line in journal.lines:
        relation = relation_for_vendor(vendor_line.vendor_id)  # type: ignore[arg-type]
        if relation is None:
            continue
        entity_id = relation.customer.legal_entity_id
        line = PaymentJournalLine(
            line_no=len(lines) + 1,
            customer_id=relation.customer_id,
            currency=vendor_line.currency,
            amount=vendor_line.amount,
            paid_on=vendor_line.paid_on,
        )
        for settlement in vendor_line.settlements:
            line.settlements.append(
                PaymentJournalSettlement(
                    invoice_id=settlement.vendor_transaction.vendor_invoice.customer_invoice_id,
                    amount=settlement.amount,
                )
            )
        lines.append(line)
    if entity_id is None:
        return None
    settings = settings_for(entity_id)
    # Numbered before it joins the session: the sequence's UPDATE would flush it unnumbered.
    number = next_number("customer_journal", entity_id)
    customer_journal = PaymentJournal(
        number=number,
        legal_entity_id=entity_id,
        kind=JournalKind.CUSTOMER.value,
        journal_name_id=settings.customer_journal_name_id,
        status=JournalStatus.DRAFT.value,
        source_journal=journal,
        created_by_id=journal.created_by_id,
        lines=lines,
    )
    db.session.add(customer_journal)
    return customer_journal


def _post_customer(acting_user: User, journal: PaymentJournal) -> None:
    """Each line through the one settlement service: a payment of its customer's invoices.
    Another currency, or an invoice paid meanwhile, is refused by it (or here)."""
    for line in journal.lines:
        customer = line.customer
        assert customer is not None
        for settlement in line.settlements:
            invoice = settlement.invoice
            if invoice is None or invoice.currency != line.currency:
                raise IntercompanyInvalid(
                    _l(
                        "Invoice %(number)s is in another currency than this payment.",
                        number=invoice.number if invoice else "?",
                    )
                )
        line.payment = payments.create_payment(
            acting_user,
            customer,
            [payments.Allocation(s.invoice_id, s.amount) for s in line.settlements],  # type: ignore[arg-type]
            PaymentMethod.MANUAL,
            provider_reference=journal.number,
        )
        line.payment.received_on = line.paid_on
    journal.status = JournalStatus.POSTED.value
    journal.posted_at = _now()
    journal.attention_reason = None
    audit.record(
        acting_user,
        "journal.post",
        "payment_journal",
        journal.number,
        after={"total": str(journal.total)},
    )
    db.session.flush()


def post_customer_journal(acting_user: User, entity_id: int, journal_id: int) -> PaymentJournal:
    """An admin posts a waiting customer journal (auto-post off, or it failed)."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.CUSTOMER)
    _expect(journal, JournalStatus.DRAFT)
    _post_customer(acting_user, journal)
    return journal


def adjust_customer_journal(acting_user: User, entity_id: int, journal_id: int) -> PaymentJournal:
    """Resolve a failed posting by paying what is open now: each line's amount (unchanged,
    so both sides still agree) goes to its customer's open invoices of the line's currency,
    oldest due date first; then the journal posts."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.CUSTOMER)
    _expect(journal, JournalStatus.DRAFT)
    for line in journal.lines:
        open_invoices = db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == line.customer_id,
                Invoice.currency == line.currency,
                Invoice.status != InvoiceStatus.PAID,
            )
            .order_by(Invoice.due_date, Invoice.id)
        ).all()
        spread = _spread(
            line.amount,
            [(i.id, i.unreserved_balance) for i in open_invoices if not i.credit_note],
        )
        line.settlements.clear()
        db.session.flush()
        for invoice_id, amount in spread:
            line.settlements.append(PaymentJournalSettlement(invoice_id=invoice_id, amount=amount))
    db.session.flush()
    audit.record(acting_user, "journal.adjust", "payment_journal", journal.number, after={})
    _post_customer(acting_user, journal)
    return journal


def reverse_vendor_journal(acting_user: User, entity_id: int, journal_id: int) -> PaymentJournal:
    """posted -> reversed: the vendor transactions are open again. The customer side is not
    touched here: the page proposes reversing it too (reverse_customer_journal). A draft is
    withdrawn the same way: it settled nothing."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.VENDOR)
    if journal.status != JournalStatus.DRAFT.value:
        _expect(journal, JournalStatus.POSTED)
        settlements = [s for line in journal.lines for s in line.settlements]
        transactions = lock_rows(VendorTransaction, [s.vendor_transaction_id for s in settlements])
        for settlement in settlements:
            transactions[settlement.vendor_transaction_id].settled_amount -= settlement.amount
    journal.status = JournalStatus.REVERSED.value
    journal.reversed_at = _now()
    audit.record(acting_user, "journal.reverse", "payment_journal", journal.number, after={})
    db.session.flush()
    return journal


def reverse_customer_journal(acting_user: User, entity_id: int, journal_id: int) -> PaymentJournal:
    """A posted customer journal's payments are reversed through the settlement service; a
    waiting one is withdrawn (nothing was settled)."""
    journal = _lock_journal(journal_id, entity_id, JournalKind.CUSTOMER)
    if journal.status == JournalStatus.POSTED.value:
        for line in journal.lines:
            if line.payment_id is not None:
                payments.reverse_payment(
                    acting_user, line.payment_id, f"Journal {journal.number} reversed"
                )
    else:
        _expect(journal, JournalStatus.DRAFT)
    journal.status = JournalStatus.REVERSED.value
    journal.reversed_at = _now()
    journal.attention_reason = None
    audit.record(acting_user, "journal.reverse", "payment_journal", journal.number, after={})
    db.session.flush()
    return journal


# --- balances -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Balances:
    """What each side of a relation has open, and what waits in unposted customer journals
    (auto-post off, or a failed posting). The sides agree when the seller's open amount less
    what waits is the buyer's open amount. A payment the seller records outside the chain
    has no twin on the buyer's side: the sides then differ by it until it is undone."""

    @property
    def difference(self) -> Decimal:
        return self.customer_open - self.waiting - self.vendor_open

    customer_open: Decimal
    vendor_open: Decimal
    waiting: Decimal

    @property
    def agree(self) -> bool:
        return self.difference == 0


def balances(relation: IntercompanyRelation) -> Balances:
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.customer_id == relation.customer_id)
    ).all()
    customer_open = sum((i.total - i.amount_paid for i in invoices if not i.credit_note), ZERO)
    vendor_open = sum(
        (
            t.open_amount
            for t in db.session.scalars(
                select(VendorTransaction).where(VendorTransaction.vendor_id == relation.vendor_id)
            )
        ),
        ZERO,
    )
    waiting_lines = db.session.scalars(
        select(PaymentJournalLine)
        .join(PaymentJournal)
        .where(
            PaymentJournalLine.customer_id == relation.customer_id,
            PaymentJournal.status == JournalStatus.DRAFT.value,
        )
    ).all()
    waiting = sum((line.amount for line in waiting_lines), ZERO)
    return Balances(customer_open, vendor_open, waiting)
