"""The e-invoice downloads, scoped like the PDF: another customer's number answers 404.

Registered on the billing blueprint (DESIGN.md's URL contract):
`/invoices/<number>.ubl.xml` and `/invoices/<number>.facturx.pdf`.
"""

from __future__ import annotations

from datetime import date

from flask import Response

from b2bshop.accounts.access import buyer_required
from b2bshop.billing import service
from b2bshop.billing.views import _visible_or_404, bp
from b2bshop.core.read_only import read_only
from b2bshop.einvoice import document, ubl
from b2bshop.einvoice.facturx_pdf import facturx_pdf


@bp.route("/invoices/<number>.ubl.xml")
@read_only
@buyer_required("may_view_invoices")
def invoice_ubl(number: str):
    invoice = _visible_or_404(number)
    return Response(
        ubl.to_xml(document.build(invoice)),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.ubl.xml"'},
    )


@bp.route("/invoices/<number>.facturx.pdf")
@read_only
@buyer_required("may_view_invoices")
def invoice_facturx(number: str):
    invoice = _visible_or_404(number)
    body = facturx_pdf(invoice, service.settlements(invoice), date.today())
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.facturx.pdf"'},
    )
