"""/admin/intercompany: the selling entity's intercompany settings (C4), its customer
payment journals, its relations (customer here, vendor in a sister entity) and their
open balances on both sides."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Customer
from b2bshop.admin.common import admin_entity_id, bp, refuse
from b2bshop.core.inputs import parse_id
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.intercompany import service
from b2bshop.intercompany.models import IntercompanyRelation
from b2bshop.purchasing.models import Vendor


def _relations(entity_id: int) -> list[IntercompanyRelation]:
    """Relations where this entity sells or buys."""
    rows = db.session.scalars(
        select(IntercompanyRelation)
        .join(Customer, Customer.id == IntercompanyRelation.customer_id)
        .join(Vendor, Vendor.id == IntercompanyRelation.vendor_id)
        .where((Customer.legal_entity_id == entity_id) | (Vendor.legal_entity_id == entity_id))
        .order_by(IntercompanyRelation.id)
    )
    return list(rows)


@bp.route("/intercompany", methods=["GET", "POST"])
@store_admin_required
def intercompany():
    entity_id = admin_entity_id()
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "settings":
                service.save_settings(
                    current_user,
                    entity_id,  # type: ignore[arg-type]
                    parse_id(request.form.get("journal_name_id")),
                    request.form.get("auto_post") == "y",
                )
                message = _("The intercompany settings are saved.")
            elif action == "journal":
                service.save_journal_name(
                    current_user,
                    entity_id,  # type: ignore[arg-type]
                    request.form.get("code", "")[:20],
                    request.form.get("name", "")[:100],
                )
                message = _("The journal is saved.")
            else:
                service.create_relation(
                    current_user,
                    entity_id,  # type: ignore[arg-type]
                    parse_id(request.form.get("customer_id")) or 0,
                    parse_id(request.form.get("vendor_id")) or 0,
                )
                message = _("The intercompany relation is saved.")
        except DomainError as error:
            refuse(error)
            status = 422
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for(".intercompany"), 303)
    relations = _relations(entity_id)  # type: ignore[arg-type]
    customers = db.session.scalars(
        select(Customer).where(Customer.legal_entity_id == entity_id).order_by(Customer.name)
    ).all()
    vendors = db.session.scalars(
        select(Vendor).where(Vendor.legal_entity_id != entity_id).order_by(Vendor.name)
    ).all()
    return render_template(
        "intercompany/settings.html",
        settings=service.settings_for(entity_id),  # type: ignore[arg-type]
        journals=service.customer_journal_names(entity_id),  # type: ignore[arg-type]
        relations=[(r, service.balances(r)) for r in relations],
        customers=customers,
        vendors=vendors,
    ), status
