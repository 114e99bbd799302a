"""What the invoice email attaches, by the billed customer's e-invoice preference: the PDF,
the PDF and the UBL file (Peppol BIS Billing 3.0), or the Factur-X PDF (the PDF with its CII
XML inside)."""

from __future__ import annotations

from datetime import date

from b2bshop.accounts.models import EInvoiceFormat
from b2bshop.billing import pdf
from b2bshop.billing.models import Invoice
from b2bshop.einvoice import document, ubl
from b2bshop.einvoice.facturx_pdf import facturx_pdf

#: (file name, content, MIME type)
Attachment = tuple[str, bytes, str]


def invoice_attachments(invoice: Invoice, settlements: list, today: date) -> list[Attachment]:
    """The files for the invoice email, in the current locale."""
    preference = invoice.customer.einvoice_format
    if preference == EInvoiceFormat.FACTURX:
        body = facturx_pdf(invoice, settlements, today)
        return [(f"{invoice.number}.facturx.pdf", body, "application/pdf")]
    files = [
        (f"{invoice.number}.pdf", pdf.invoice_pdf(invoice, settlements, today), "application/pdf")
    ]
    if preference == EInvoiceFormat.PDF_UBL:
        xml = ubl.to_xml(document.build(invoice))
        files.append((f"{invoice.number}.ubl.xml", xml, "application/xml"))
    return files
