"""The buyer's sales agreements (/account/agreements): their customer's only, with what was
released against each commitment."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import buyer_required
from b2bshop.admin.agreements import commitment_labels, status_labels
from b2bshop.agreements import service
from b2bshop.agreements.models import SalesAgreement, SalesAgreementLine
from b2bshop.extensions import db

bp = Blueprint("agreements", __name__)

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
