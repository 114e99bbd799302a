"""A quotation as a PDF, laid out by the invoice PDF's document class (billing/pdf.py)."""

from __future__ import annotations

from functools import partial

from flask_babel import gettext as _

from b2bshop.billing.pdf import _Document, seller_legal_line
from b2bshop.i18n import format_day as format_date
from b2bshop.money import format_money
from b2bshop.quotations.models import Quotation, QuotationStatus


def quotation_pdf(quotation: Quotation) -> bytes:
    customer = quotation.customer
    entity = customer.legal_entity
    money = partial(format_money, currency=quotation.currency)
    title = _("Quotation %(number)s", number=quotation.number)
    doc = _Document(title)
    if quotation.status != QuotationStatus.SENT:
        # Only an open quotation is an offer; any other is a record of one.
        doc.stamp = {
            QuotationStatus.DRAFT: _("Not priced yet – not an offer"),
            QuotationStatus.ACCEPTED: _("Accepted"),
            QuotationStatus.DECLINED: _("Declined"),
            QuotationStatus.EXPIRED: _("Expired"),
        }[quotation.status]
        doc.draw_stamp()
    doc.heading(entity.name, entity.postal_address, title, seller_legal_line(entity))
    doc.block(
        _("For"),
        [
            f"{customer.name} ({customer.number})",
            *([customer.postal_address] if customer.postal_address else []),
        ],
    )
    facts = [(_("Date"), format_date(quotation.created_at))]
    if quotation.valid_until:
        facts.append((_("Valid until"), format_date(quotation.valid_until)))
    if quotation.order is not None:
        facts.append((_("Sales order"), quotation.order.number))
    doc.facts(facts)
    doc.grid(
        [_("Product"), _("Quantity"), _("Unit price"), _("Amount")],
        [
            [
                f"{line.product.name} ({line.product.sku})",
                str(line.quantity),
                money(line.unit_price) if line.unit_price is not None else "—",
                money(line.amount) if line.amount is not None else "—",
            ]
            for line in quotation.lines
        ],
        (90, 22, 31, 31),
        {1, 2, 3},
    )
    doc.set_font("DejaVu", "B", 10)
    doc.cell(130, 6, _("Total"), align="R")
    doc.cell(0, 6, money(quotation.total), align="R", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("DejaVu", "", 9)
    doc.cell(0, 5, _("Prices exclude sales tax."), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    if quotation.note:
        doc.block(_("Note"), [quotation.note])
    return bytes(doc.output())
