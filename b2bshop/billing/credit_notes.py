"""Credit notes: posted like invoices, in their own gap-free series (CN-), with positive
amounts as UBL and CII write them; to the buyer a credit note's balance is negative.

A credit note comes from posting what a returned order (RMA) received, or from reversing a
posted free text invoice. It settles against the invoice it corrects while that one is open
(payments/service.py: settle_credit_note, the one settlement service); whatever is left stays
open credit on the account, which a store admin can apply to other open invoices of it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.credit import billed_account
from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.billing.models import DocumentType, Invoice, InvoiceKind, InvoiceStatus
from b2bshop.billing.service import LineInput, build_invoice
from b2bshop.core.locks import lock_accounts, lock_invoices
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.numbering import next_number


class CreditNoteRefused(DomainError):
    status_code = 409


def _post(
    customer: Customer,
    lines: list[LineInput],
    today: date,
    *,
    kind: InvoiceKind,
    credited: Invoice | None,
    sales_order_id: int | None = None,
) -> Invoice:
    """Build, number (the credit note sequence, taken last) and add a credit note."""
    note = build_invoice(
        customer,
        lines,
        today,
        terms=credited.terms if credited is not None else None,
        kind=kind,
        sales_order_id=sales_order_id,
    )
    note.document_type = DocumentType.CREDIT_NOTE
    note.credited_invoice = credited
    # Nothing to pay by a date, no discount to earn: it is credit.
    note.due_date = today
    note.cash_discount_date = None
    note.cash_discount_amount = Decimal(0)
    note.number = next_number("credit_note", customer.legal_entity_id)
    db.session.add(note)
    db.session.flush()
    return note


def _settle_against(acting_user: User | None, note: Invoice, invoice: Invoice | None) -> None:
    """Apply the credit to the corrected invoice while it has something open."""
    from b2bshop.payments.service import Allocation, settle_credit_note

    if invoice is None or invoice.status == InvoiceStatus.PAID:
        return
    amount = min(note.total - note.amount_paid, invoice.unreserved_balance)
    if amount > 0:
        settle_credit_note(acting_user, note, [Allocation(invoice.id, amount)])


def credit_returned_order(
    acting_user: User,
    order,  # type: ignore[no-untyped-def]
    original_number: str,
    today: date | None = None,
) -> Invoice:
    """Post a credit note for what a returned order received and has not yet credited
    (its packing slips), billed like the order's invoices. It names the original invoice
    (BT-25; Peppol's NL-R-001 wants one on every Dutch credit note) and settles against it
    while it is open; otherwise the credit stays open on the account.

    Locks (core/locks.py): the billed account, the order's slips, the original invoice,
    then the number sequences."""
    from b2bshop.sales.models import OrderType, PackingSlip
    from b2bshop.sales.service import OPEN_STATES, _after_invoicing, bill_slips

    today = today or date.today()
    account = billed_account(order.customer)
    lock_accounts([account.id])
    if order.order_type != OrderType.RETURNED_ORDER:
        raise CreditNoteRefused(_l("Only a returned order is credited."))
    if order.status not in OPEN_STATES:
        raise CreditNoteRefused(_l("This return takes no more credit notes."))
    slips = list(
        db.session.scalars(
            select(PackingSlip)
            .where(PackingSlip.order_id == order.id, PackingSlip.invoice_id.is_(None))
            .order_by(PackingSlip.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not slips:
        raise CreditNoteRefused(_l("Nothing received on this return is waiting for a credit note."))
    if not (original_number or "").strip():
        raise CreditNoteRefused(_l("Name the original invoice of the returned goods."))
    original = db.session.scalar(
        select(Invoice).where(
            Invoice.number == original_number.strip().upper(),
            Invoice.customer_id == account.id,
            Invoice.document_type == DocumentType.INVOICE,
        )
    )
    if original is None:
        raise CreditNoteRefused(
            _l(
                "%(number)s is not an invoice of %(account)s.",
                number=original_number.strip(),
                account=account.name,
            )
        )
    if original.currency != order.currency:
        raise CreditNoteRefused(_l("The original invoice is in another currency."))
    original = lock_invoices([original.id])[original.id]
    lines = bill_slips(slips, lambda slip: f"{order.rma_number}, {slip.number}")
    note = _post(
        account,
        lines,
        today,
        kind=InvoiceKind.CUSTOMER,
        credited=original,
        sales_order_id=order.id,
    )
    for slip in slips:
        slip.invoice_id = note.id
    _after_invoicing(order)
    audit.record(
        acting_user,
        "credit_note.post",
        "invoice",
        note.number,
        after={
            "customer": account.number,
            "total": note.total,
            "rma": order.rma_number,
            "credits": original.number,
        },
    )
    _settle_against(acting_user, note, original)
    db.session.flush()
    return note


def reverse_free_text(acting_user: User, invoice: Invoice, today: date | None = None) -> Invoice:
    """Reverse a posted free text invoice: a credit note of the same lines, once, settled
    against the invoice as far as it is open (the rest stays credit)."""
    today = today or date.today()
    invoice = lock_invoices([invoice.id])[invoice.id]
    if invoice.kind != InvoiceKind.FREE_TEXT or invoice.credit_note:
        raise CreditNoteRefused(_l("Only a posted free text invoice is reversed this way."))
    existing = db.session.scalar(
        select(Invoice.number).where(
            Invoice.credited_invoice_id == invoice.id,
            Invoice.document_type == DocumentType.CREDIT_NOTE,
            Invoice.kind == InvoiceKind.FREE_TEXT,
        )
    )
    if existing is not None:
        raise CreditNoteRefused(
            _l(
                "Invoice %(number)s is already reversed by credit note %(note)s.",
                number=invoice.number,
                note=existing,
            )
        )
    lines = [
        LineInput(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
            ledger_account=line.ledger_account,
        )
        for line in invoice.lines
    ]
    note = _post(invoice.customer, lines, today, kind=InvoiceKind.FREE_TEXT, credited=invoice)
    audit.record(
        acting_user,
        "credit_note.post",
        "invoice",
        note.number,
        after={
            "customer": invoice.customer.number,
            "total": note.total,
            "reverses": invoice.number,
        },
    )
    _settle_against(acting_user, note, invoice)
    db.session.flush()
    return note


def open_credit_notes(customer_id: int) -> list[Invoice]:
    """The account's credit notes with credit left, oldest first."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.customer_id == customer_id,
                Invoice.document_type == DocumentType.CREDIT_NOTE,
                Invoice.status != InvoiceStatus.PAID,
            )
            .order_by(Invoice.invoice_date, Invoice.id)
        )
    )


def admin_context(invoice: Invoice) -> dict[str, object]:
    """What the admin invoice page offers: for a credit note with credit left, the open
    invoices of its account to apply it to; for a free text invoice, its reversal if any."""
    open_invoices: list[Invoice] = []
    if invoice.credit_note and invoice.status != InvoiceStatus.PAID:
        open_invoices = list(
            db.session.scalars(
                select(Invoice)
                .where(
                    Invoice.customer_id == invoice.customer_id,
                    Invoice.document_type == DocumentType.INVOICE,
                    Invoice.status != InvoiceStatus.PAID,
                )
                .order_by(Invoice.due_date, Invoice.id)
                .limit(200)
            )
        )
    reversed_by = None
    if invoice.kind == InvoiceKind.FREE_TEXT and not invoice.credit_note:
        reversed_by = db.session.scalar(
            select(Invoice.number).where(
                Invoice.credited_invoice_id == invoice.id,
                Invoice.document_type == DocumentType.CREDIT_NOTE,
            )
        )
    return {"credit_targets": open_invoices, "reversed_by": reversed_by}
