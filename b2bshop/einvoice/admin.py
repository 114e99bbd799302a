"""Admin pages for e-invoice data: the store's legal data and each customer's e-invoice
fields (registered on the admin blueprint)."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer, LegalEntity
from b2bshop.admin.common import admin_entity_id, bp, edit_page, get_or_404, input_from
from b2bshop.einvoice import parties
from b2bshop.einvoice.forms import CustomerEInvoiceForm, LegalEntityForm
from b2bshop.extensions import db


@bp.route("/settings/legal", methods=["GET", "POST"])
@store_admin_required
def edit_legal_entity():
    # The legal data of the entity the admin works in (the header's switcher, issue 20).
    entity_id = admin_entity_id()
    entity = db.session.get(LegalEntity, entity_id) if entity_id is not None else None
    if entity is None:
        abort(404)
    form = LegalEntityForm(obj=entity)
    return edit_page(
        form,
        lambda: parties.save_legal_entity(
            current_user, entity, input_from(form, parties.LegalEntityInput)
        ),
        lambda _saved: (_("The store's legal data is saved."), url_for(".edit_legal_entity")),
        title=_("Legal data of the store"),
        back_url=url_for(".dashboard"),
        back_label=_("Dashboard"),
    )


@bp.route("/customers/<int:customer_id>/einvoice", methods=["GET", "POST"])
@store_admin_required
def edit_customer_einvoice(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    form = CustomerEInvoiceForm(obj=customer)
    if request.method == "GET":
        form.einvoice_format.data = customer.einvoice_format.value
    return edit_page(
        form,
        lambda: parties.save_customer_einvoice(
            current_user, customer, input_from(form, parties.CustomerEInvoiceInput)
        ),
        lambda saved: (
            _("E-invoice data of %(name)s saved.", name=saved.name),
            url_for(".show_customer", customer_id=saved.id),
        ),
        title=_("E-invoice data of %(name)s", name=customer.name),
        back_url=url_for(".show_customer", customer_id=customer.id),
        back_label=customer.name,
    )
