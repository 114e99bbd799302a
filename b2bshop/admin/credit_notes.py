"""Credit notes in the back office: post one for what a returned order received, reverse a
posted free text invoice, apply a credit note's open credit to open invoices of its account
(billing/credit_notes.py; the settlement goes through payments/service.py)."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import bp, refuse
from b2bshop.admin.invoices import _invoice_or_404
from b2bshop.admin.orders import _order_action
from b2bshop.billing import credit_notes
from b2bshop.billing.models import Invoice
from b2bshop.core import unit_of_work
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import parse_amount
from b2bshop.payments.service import Allocation, settle_credit_note


@bp.route("/orders/<number>/credit-note", methods=["POST"])
@store_admin_required
def credit_returned_order(number: str):
    original = (request.form.get("original") or "").strip()[:20]
    return _order_action(
        number,
        lambda order: credit_notes.credit_returned_order(current_user, order, original),
        lambda note: _("Credit note %(number)s posted.", number=note.number),
    )


def _run(number: str, work, done):  # type: ignore[no-untyped-def]
    try:
        result = unit_of_work.run(work)
    except DomainError as error:
        refuse(error)
        return redirect(url_for(".show_invoice", number=number))
    flash(done(result), "success")
    return redirect(url_for(".show_invoice", number=result.number))


@bp.route("/invoices/<number>/reverse", methods=["POST"])
@store_admin_required
def reverse_free_text(number: str):
    invoice_id = _invoice_or_404(number).id
    return _run(
        number,
        lambda: credit_notes.reverse_free_text(current_user, db.session.get(Invoice, invoice_id)),
        lambda note: _("Credit note %(number)s posted.", number=note.number),
    )


@bp.route("/invoices/<number>/apply-credit", methods=["POST"])
@store_admin_required
def apply_credit(number: str):
    note = _invoice_or_404(number)
    target = _invoice_or_404((request.form.get("invoice") or "")[:20])
    amount = parse_amount(request.form.get("amount"), note.currency)
    if amount is None or amount <= 0:
        flash(_("Enter an amount greater than zero, with at most two decimals."), "error")
        return redirect(url_for(".show_invoice", number=number))
    note_id, target_id = note.id, target.id

    def work() -> Invoice:
        settle_credit_note(current_user, note_id, [Allocation(target_id, Decimal(amount))])
        return db.session.get(Invoice, note_id)

    return _run(
        number,
        work,
        lambda saved: _("Credit applied to invoice %(number)s.", number=target.number),
    )
