"""Free text invoices (SPEC B8): lines with a ledger account, a description, an amount and a
tax rate, never an item. Written as a draft (printable pro forma), then posted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.billing.models import (
    DraftStatus,
    FreeTextInvoice,
    FreeTextLine,
    Invoice,
    InvoiceKind,
    LedgerAccount,
)
from b2bshop.billing.service import LineInput, build_invoice, post_invoice
from b2bshop.core.locks import lock_accounts, lock_rows
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import fits_money, quantize


class FreeTextInvalid(DomainError):
    pass


class AlreadyPosted(DomainError):
    status_code = 409


@dataclass(frozen=True)
class FreeTextLineInput:
    ledger_account: str
    description: str
    amount: Decimal
    #: None when left blank: refused, a free text line names its tax (SPEC B8); 0 is a rate.
    tax_rate: Decimal | None


def active_ledger_accounts() -> list[LedgerAccount]:
    return list(
        db.session.scalars(
            select(LedgerAccount).where(LedgerAccount.active).order_by(LedgerAccount.number)
        )
    )


#: What the description column holds (an invoice line's is as long).
DESCRIPTION_MAX = FreeTextLine.__table__.c.description.type.length


#: How far from today a free text invoice may be dated: its due date must exist too (a draft
#: dated 9999-12-31 could not be posted, nor printed).
DATE_RANGE = timedelta(days=3660)


def _validate(customer: Customer, invoice_date: date, lines: list[FreeTextLineInput]) -> None:
    """Every field of every line, so a draft that saves also posts (SPEC B8)."""
    if abs(invoice_date - date.today()) > DATE_RANGE:
        raise FreeTextInvalid(_l("The invoice date must be within ten years of today."))
    if not customer.active:
        raise FreeTextInvalid(_l("Customer %(name)s is not active.", name=customer.name))
    if not lines:
        raise FreeTextInvalid(_l("Add at least one line."))
    accounts = {a.number for a in active_ledger_accounts()}
    for no, line in enumerate(lines, start=1):
        if line.ledger_account not in accounts:
            raise FreeTextInvalid(_l("Line %(line)s: choose a ledger account.", line=no))
        if not line.description.strip():
            raise FreeTextInvalid(_l("Line %(line)s: a description is required.", line=no))
        if len(line.description.strip()) > DESCRIPTION_MAX:
            raise FreeTextInvalid(
                _l(
                    "Line %(line)s: the description is longer than %(max)s characters.",
                    line=no,
                    max=DESCRIPTION_MAX,
                )
            )
        if (
            not fits_money(line.amount)
            or line.amount <= 0
            or quantize(line.amount, customer.currency) != line.amount
        ):
            raise FreeTextInvalid(
                _l(
                    "Line %(line)s: the amount must be greater than zero, in whole cents.",
                    line=no,
                )
            )
        if line.tax_rate is None:
            raise FreeTextInvalid(_l("Line %(line)s: enter a tax rate (0 for no tax).", line=no))
        if not (0 <= line.tax_rate < 100):
            raise FreeTextInvalid(
                _l("Line %(line)s: the tax rate must be from 0 to under 100 %%.", line=no)
            )
    net = sum((line.amount for line in lines), Decimal(0))
    # Net plus each line's tax as the invoice will round it (billing/service.py).
    total = sum((quantize(ln.amount * ln.tax_rate / 100, customer.currency) for ln in lines), net)
    if not fits_money(total):
        raise FreeTextInvalid(
            _l("This invoice's total is more than one invoice can hold. Split it into several.")
        )


def save_draft(
    acting_user: User,
    draft: FreeTextInvoice | None,
    customer: Customer,
    invoice_date: date,
    lines: list[FreeTextLineInput],
) -> FreeTextInvoice:
    """Create or replace a draft. A posted one never changes."""
    _validate(customer, invoice_date, lines)
    if draft is None:
        draft = FreeTextInvoice(status=DraftStatus.DRAFT)
        db.session.add(draft)
    elif draft.status != DraftStatus.DRAFT:
        raise AlreadyPosted(_l("This free text invoice is posted and can no longer change."))
    draft.customer = customer
    draft.invoice_date = invoice_date
    draft.lines = [
        FreeTextLine(
            line_no=no,
            ledger_account=line.ledger_account,
            description=line.description.strip(),
            amount=line.amount,
            tax_rate=line.tax_rate,
        )
        for no, line in enumerate(lines, start=1)
    ]
    db.session.flush()
    return draft


def _line_inputs(draft: FreeTextInvoice) -> list[LineInput]:
    return [
        LineInput(
            description=line.description,
            quantity=Decimal(1),
            unit_price=line.amount,
            tax_rate=line.tax_rate,
            ledger_account=line.ledger_account,
        )
        for line in draft.lines
    ]


def _inputs(draft: FreeTextInvoice) -> list[FreeTextLineInput]:
    return [
        FreeTextLineInput(line.ledger_account, line.description, line.amount, line.tax_rate)
        for line in draft.lines
    ]


def pro_forma(draft: FreeTextInvoice) -> Invoice:
    """The invoice the draft would post, never numbered, never stored."""
    return build_invoice(
        draft.customer, _line_inputs(draft), draft.invoice_date, kind=InvoiceKind.FREE_TEXT
    )


def post_draft(acting_user: User, draft: FreeTextInvoice) -> Invoice:
    """Post the draft as an invoice the customer sees and pays like any other.

    A guarded transition: the billed account, then the draft are locked (core/locks.py) and
    its status re-read, so two simultaneous posts make one invoice."""
    lock_accounts([draft.customer_id])
    lock_rows(FreeTextInvoice, [draft.id])
    if draft.status != DraftStatus.DRAFT:
        raise AlreadyPosted(_l("This free text invoice is already posted."))
    _validate(draft.customer, draft.invoice_date, _inputs(draft))
    invoice = post_invoice(
        draft.customer, _line_inputs(draft), draft.invoice_date, kind=InvoiceKind.FREE_TEXT
    )
    draft.status = DraftStatus.POSTED
    draft.invoice = invoice
    audit.record(
        acting_user,
        "invoice.post",
        "invoice",
        invoice.number,
        after={"customer": draft.customer.number, "total": invoice.total, "kind": "free_text"},
    )
    db.session.flush()
    return invoice
