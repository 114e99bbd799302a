"""One posted invoice or credit note as the EN 16931 semantic model sees it.

ubl.py and cii.py write this same model in their two syntaxes, so both always say the same
thing. Amounts are the stored ones (each line's net and tax, the invoice's totals): the
e-invoice never recomputes what the buyer was billed. Business terms (BT-n) refer to
EN 16931-1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from b2bshop.accounts.models import Customer, LegalEntity
from b2bshop.billing.models import Invoice, InvoiceKind
from b2bshop.extensions import db
from b2bshop.money import format_money

#: UBL Peppol BIS Billing 3.0 identifiers (BT-24, BT-23), as the specification gives them.
PEPPOL_CUSTOMIZATION_ID = (
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
)
PEPPOL_PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#: CII: the EN 16931 profile of Factur-X (BT-24).
CII_GUIDELINE_ID = "urn:cen.eu:en16931:2017"

INVOICE_TYPE_CODE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE_TYPE_CODE = "381"  # credit note
#: UNTDID 4461: 30 credit transfer.
CREDIT_TRANSFER = "30"
#: UN/ECE Recommendation 20: C62 "one" (a unit, a piece).
UNIT_CODE = "C62"


@dataclass(frozen=True)
class Party:
    name: str
    street: str
    postal_code: str
    city: str
    country_code: str
    vat_number: str = ""
    registration_number: str = ""
    #: ISO 6523 ICD of the registration number (BT-30-1), from the country's register.
    registration_scheme: str = ""
    endpoint_scheme: str = ""
    endpoint_id: str = ""
    #: The buyer's number at the seller (BT-46) for the buyer; "" for the seller.
    identifier: str = ""


@dataclass(frozen=True)
class Line:
    line_id: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    net_amount: Decimal
    category: str
    rate: Decimal
    seller_item_id: str = ""
    #: BT-127: a free text line names its ledger account here.
    note: str = ""


@dataclass(frozen=True)
class TaxGroup:
    """One VAT breakdown (BG-23): a category and rate with its taxable and tax amounts."""

    category: str
    rate: Decimal
    taxable: Decimal
    tax: Decimal
    exemption_reason: str = ""


@dataclass(frozen=True)
class Delivery:
    """BG-13 / BT-72: who received the goods, and when (the packing slips)."""

    name: str = ""
    party: Party | None = None
    date: date | None = None
    #: BT-16: only when exactly one packing slip is billed.
    despatch_advice: str = ""


@dataclass
class EDocument:
    number: str
    credit_note: bool
    issue_date: date
    currency: str
    seller: Party
    buyer: Party
    lines: list[Line]
    tax_groups: list[TaxGroup]
    line_total: Decimal
    tax_total: Decimal
    total: Decimal
    prepaid: Decimal
    payable: Decimal
    due_date: date | None
    payment_terms: str
    iban: str
    bic: str
    buyer_reference: str
    notes: list[str] = field(default_factory=list)
    sales_order: str = ""
    #: BT-25, BT-26: the invoice a credit note corrects.
    preceding_invoice: tuple[str, date] | None = None
    delivery: Delivery | None = None

    @property
    def type_code(self) -> str:
        return CREDIT_NOTE_TYPE_CODE if self.credit_note else INVOICE_TYPE_CODE


#: The company register of each country the store sells from, as an ISO 6523 ICD: KvK (NL,
#: which Peppol's NL-R-003 asks for), SIRENE (FR), Foretaksregisteret (NO), KBO (BE).
REGISTRATION_SCHEMES = {"NL": "0106", "FR": "0002", "NO": "0192", "BE": "0208"}


def category_of(rate: Decimal) -> str:
    """UNCL 5305: S standard rate; E exempt (a 0 % line, with its exemption reason)."""
    return "S" if rate > 0 else "E"


def _seller(entity: LegalEntity) -> Party:
    street, postal, city = entity.street, entity.postal_code, entity.city
    if not street and entity.address:
        street = entity.address  # an entity whose address was never split up
    return Party(
        name=entity.name,
        street=street,
        postal_code=postal,
        city=city,
        country_code=entity.country_code,
        vat_number=entity.vat_number,
        registration_number=entity.registration_number,
        registration_scheme=REGISTRATION_SCHEMES.get(entity.country_code, ""),
        endpoint_scheme=entity.peppol_scheme,
        endpoint_id=entity.peppol_id,
    )


def _buyer(customer: Customer) -> Party:
    return Party(
        name=customer.name,
        street=customer.street,
        postal_code=customer.postal_code,
        city=customer.city,
        country_code=customer.country_code,
        vat_number=customer.vat_number,
        endpoint_scheme=customer.peppol_scheme,
        endpoint_id=customer.peppol_id,
        identifier=customer.number,
    )


def tax_groups(lines: Iterable[Line], taxes: Iterable[Decimal], reason: str) -> list[TaxGroup]:
    """The VAT breakdown: per category and rate, the lines' nets and their stored taxes."""
    groups: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line, tax in zip(lines, taxes, strict=True):
        sums = groups.setdefault((line.category, line.rate), [Decimal(0), Decimal(0)])
        sums[0] += line.net_amount
        sums[1] += tax
    return [
        TaxGroup(category, rate, taxable, tax, reason if category == "E" else "")
        for (category, rate), (taxable, tax) in sorted(groups.items())
    ]


def payment_terms_text(invoice: Invoice) -> str:
    """BT-20 in the user's language: the due date, and the cash discount the terms give."""
    if invoice.credit_note:
        return _("Credit note: it is settled against your open invoices.")
    text = _(
        "%(terms)s: due by %(date)s.",
        terms=invoice.terms.name,
        date=invoice.due_date.isoformat(),
    )
    if invoice.cash_discount_date and invoice.cash_discount_amount > 0:
        text += " " + _(
            "Cash discount of %(amount)s if paid by %(date)s.",
            amount=format_money(invoice.cash_discount_amount, invoice.currency),
            date=invoice.cash_discount_date.isoformat(),
        )
    return text


def build(invoice: Invoice) -> EDocument:
    """The semantic model of a posted invoice or credit note."""
    from b2bshop.sales.models import PackingSlip, SalesOrder

    entity = invoice.customer.legal_entity
    reason = entity.vat_exemption_reason or _("Exempt from VAT")
    lines = [
        Line(
            line_id=str(line.line_no),
            name=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            net_amount=line.net_amount,
            category=category_of(line.tax_rate),
            rate=line.tax_rate,
            seller_item_id=line.sku or "",
            note=_("Ledger account %(account)s", account=line.ledger_account)
            if line.ledger_account
            else "",
        )
        for line in invoice.lines
    ]
    notes: list[str] = []
    delivery = None
    sales_order = ""
    if invoice.kind == InvoiceKind.CUSTOMER and invoice.sales_order_id:
        slips = list(
            db.session.scalars(
                select(PackingSlip)
                .where(PackingSlip.invoice_id == invoice.id)
                .order_by(PackingSlip.id)
            )
        )
        order = db.session.get(SalesOrder, invoice.sales_order_id)
        sales_order = order.number if order is not None else ""
        if slips:
            notes.append(
                _("Packing slips: %(numbers)s", numbers=", ".join(s.number for s in slips))
            )
            receiver = order.customer if order is not None else invoice.customer
            delivery = Delivery(
                name=receiver.name,
                party=_buyer(receiver) if receiver.id != invoice.customer_id else None,
                date=max(s.slip_date for s in slips),
                despatch_advice=slips[0].number if len(slips) == 1 else "",
            )
            if receiver.id != invoice.customer_id:
                notes.append(
                    _(
                        "Ordered by %(name)s (%(number)s), billed to its invoice account.",
                        name=receiver.name,
                        number=receiver.number,
                    )
                )
    preceding = None
    if invoice.credited_invoice is not None:
        preceding = (invoice.credited_invoice.number, invoice.credited_invoice.invoice_date)
    return EDocument(
        number=invoice.number,
        credit_note=invoice.credit_note,
        issue_date=invoice.invoice_date,
        currency=invoice.currency,
        seller=_seller(entity),
        buyer=_buyer(invoice.customer),
        lines=lines,
        tax_groups=tax_groups(lines, (line.tax_amount for line in invoice.lines), reason),
        line_total=invoice.subtotal,
        tax_total=invoice.tax,
        total=invoice.total,
        prepaid=invoice.amount_paid,
        payable=invoice.total - invoice.amount_paid,
        due_date=None if invoice.credit_note else invoice.due_date,
        payment_terms=payment_terms_text(invoice),
        iban=entity.iban,
        bic=entity.bic,
        buyer_reference=invoice.customer.number,
        notes=notes,
        sales_order=sales_order,
        preceding_invoice=preceding,
        delivery=delivery,
    )


def amount(value: Decimal) -> str:
    """An amount as both syntaxes write it: two decimals, a point, no grouping."""
    return f"{value:.2f}"


def plain(value: Decimal) -> str:
    """A quantity or a percent without trailing zeros and never in exponent notation."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
