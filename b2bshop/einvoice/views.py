"""The e-invoice downloads, scoped like the PDF: another customer's number answers 404.

Registered on the billing blueprint (DESIGN.md's URL contract):
`/invoices/<number>.ubl.xml`, `/invoices/<number>.facturx.pdf`, and
`/invoices.zip?format=ubl|facturx&...` for the list's current filter.
"""

from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, flash, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import buyer_required
from b2bshop.billing import listing, service
from b2bshop.billing.forms import InvoiceFilterForm, filter_from
from b2bshop.billing.views import _render_list, _visible_or_404, bp
from b2bshop.core.read_only import read_only
from b2bshop.einvoice import bulk, document, ubl
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


@bp.route("/invoices.zip")
@buyer_required("may_view_invoices")
def invoices_zip():
    """The e-invoices of the current filter (the list's query string), as one ZIP streamed
    while it is built; refused with the list and a message past the format's maximum."""
    fmt = request.args.get("format", "ubl")
    if fmt not in bulk.FORMATS:
        abort(404)
    form = InvoiceFilterForm(request.args)
    form.validate()
    flt = filter_from(form)
    today = date.today()
    count = listing.list_invoices(current_user, flt, limit=1, today=today).count
    most = current_app.config[f"EINVOICE_ZIP_MAX_{fmt.upper()}"]
    if count > most:
        flash(
            _(
                "The filter matches %(count)s invoices; one ZIP holds at most %(max)s. "
                "Narrow the filter, for example by due dates.",
                count=count,
                max=most,
            ),
            "error",
        )
        return _render_list(today), 422
    ids = [
        invoice.id for invoice, _account in listing.iter_invoices(current_user, flt, today=today)
    ]
    return Response(
        stream_with_context(bulk.stream_zip(ids[:most], fmt, today)),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="invoices-{fmt}-{today.isoformat()}.zip"'
        },
    )
