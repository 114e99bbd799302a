"""Factur-X: the invoice PDF as PDF/A-3 with its CII XML embedded as factur-x.xml (EN 16931
profile), built and checked against the Factur-X schema by the factur-x library."""

from __future__ import annotations

import logging
from datetime import date

from facturx import generate_from_binary
from flask_babel import get_locale

from b2bshop.billing import pdf
from b2bshop.billing.models import Invoice
from b2bshop.einvoice import cii, document

# The library reports each step at INFO; the store's logs need none of it.
logging.getLogger("factur-x").setLevel(logging.WARNING)


def facturx_pdf(invoice: Invoice, settlements: list, today: date) -> bytes:
    """The Factur-X PDF of a posted invoice or credit note, in the current locale."""
    xml = cii.to_xml(document.build(invoice))
    visible = pdf.invoice_pdf(invoice, settlements, today, pdfa=True)
    locale = str(get_locale() or "en")
    return generate_from_binary(
        visible,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata={
            "author": invoice.customer.legal_entity.name,
            "keywords": "Factur-X",
            "title": invoice.number,
            "subject": f"Factur-X {invoice.number} {invoice.invoice_date.isoformat()}",
        },
        lang=locale.replace("_", "-"),
    )
