"""The buyer's sales agreements (/account/agreements): their customer's only, with what was
released against each commitment."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, g, render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import buyer_required
from b2bshop.admin.agreements import commitment_labels, status_labels
from b2bshop.agreements import service
from b2bshop.agreements.models import SalesAgreement, SalesAgreementLine
from b2bshop.extensions import db
from b2bshop.purchasing.service import customer_expected_dates
from b2bshop.sales.models import SalesOrderLine

bp = Blueprint("agreements", __name__)


@bp.app_template_global()
def backorder_expected(line: SalesOrderLine) -> date | None:
    """When a buyer's backordered line is expected (templates/accounts/_order_lines.html):
    computed once per request for all the customer's waiting lines."""
    if not line.backorder_quantity or not current_user.is_authenticated:
        return None
    if "backorder_expected" not in g:
        g.backorder_expected = customer_expected_dates(line.order.customer_id)
    return g.backorder_expected.get(line.id)


#: A customer has a handful of agreements; the page shows the latest this many.
PAGE_LIMIT = 100


@bp.route("/account/agreements")
@buyer_required()
def list_agreements():
    agreements = list(
        db.session.scalars(
            service.visible_agreements(current_user)
            .options(selectinload(SalesAgreement.lines).selectinload(SalesAgreementLine.product))
            .order_by(SalesAgreement.valid_to.desc(), SalesAgreement.id.desc())
            .limit(PAGE_LIMIT)
        )
    )
    return render_template(
        "agreements/list.html",
        fulfilments=[service.fulfilments(agreements)[a.id] for a in agreements],
        status_labels=status_labels(),
        commitment_labels=commitment_labels(),
    )


@bp.route("/account/agreements/<number>")
@buyer_required()
def show_agreement(number: str):
    agreement = db.session.scalar(
        service.visible_agreements(current_user).where(SalesAgreement.number == number[:20])
    )
    if agreement is None:
        abort(404)
    return render_template(
        "agreements/agreement.html",
        agreement=agreement,
        fulfilment=service.fulfilment(agreement),
        status_labels=status_labels(),
        commitment_labels=commitment_labels(),
    )
