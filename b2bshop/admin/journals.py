"""Payment journals at /admin/journals: the buying entity's vendor payments (draft -> posted)
and the customer journals they create in the selling entity (intercompany/service.py)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import admin_entity_id, admin_list, bp, refuse
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id, parse_int
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.intercompany import service
from b2bshop.intercompany.forms import JournalFilterForm
from b2bshop.intercompany.models import (
    JournalKind,
    JournalStatus,
    PaymentJournal,
    PaymentJournalLine,
    PaymentJournalSettlement,
)
from b2bshop.money import parse_amount
from b2bshop.purchasing.models import Vendor


def status_labels() -> dict[str, str]:
    return {
        "draft": _("Draft"),
        "posted": _("Posted"),
        "reversed": _("Reversed"),
        "attention": _("Needs attention"),
    }


@bp.route("/journals")
@store_admin_required
def list_journals():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(PaymentJournal)
        if kind := form.valid_value("kind"):
            stmt = stmt.where(PaymentJournal.kind == kind)
        if status := form.valid_value("status"):
            if status == "attention":
                stmt = stmt.where(
                    PaymentJournal.status == JournalStatus.DRAFT.value,
                    PaymentJournal.attention_reason.is_not(None),
                )
            else:
                stmt = stmt.where(PaymentJournal.status == status)
        return stmt

    return admin_list(
        JournalFilterForm,
        build,
        PaymentJournal.id,
        PaymentJournal.id,
        "intercompany/_journals.html",
        "admin.list_journals",
        title=_("Payment journals"),
        new_url=url_for(".new_journal"),
        options=(
            selectinload(PaymentJournal.lines),
            selectinload(PaymentJournal.journal_name),
        ),
        status_labels=status_labels(),
    )


def _journal_or_404(number: str) -> PaymentJournal:
    journal = db.session.scalar(
        select(PaymentJournal)
        .where(
            PaymentJournal.number == number[:20],
            PaymentJournal.legal_entity_id == admin_entity_id(),
        )
        .options(
            selectinload(PaymentJournal.lines)
            .selectinload(PaymentJournalLine.settlements)
            .selectinload(PaymentJournalSettlement.vendor_transaction),
            selectinload(PaymentJournal.lines)
            .selectinload(PaymentJournalLine.settlements)
            .selectinload(PaymentJournalSettlement.invoice),
        )
    )
    if journal is None:
        abort(404)
    return journal


@bp.route("/journals/<number>")
@store_admin_required
def show_journal(number: str):
    journal = _journal_or_404(number)
    return render_template(
        "intercompany/journal.html", journal=journal, status_labels=status_labels()
    )


@bp.route("/journals/new", methods=["GET", "POST"])
@store_admin_required
def new_journal():
    """One payment line of a vendor: the invoices it pays, amount and date; a new draft
    journal, or another line of the draft named by `journal`."""
    entity_id = admin_entity_id()
    target = _journal_or_404(request.values["journal"]) if request.values.get("journal") else None
    if target is not None and (target.kind != JournalKind.VENDOR.value or target.status != "draft"):
        abort(404)
    vendors = list(
        db.session.scalars(
            select(Vendor)
            .where(Vendor.legal_entity_id == entity_id, Vendor.active.is_(True))
            .order_by(Vendor.name)
        )
    )
    chosen_vendor = parse_id(request.values.get("vendor_id"))
    open_items = (
        service.open_vendor_transactions(entity_id, chosen_vendor)  # type: ignore[arg-type]
        if chosen_vendor
        else []
    )
    errors: list[tuple[str | None, str]] = []
    #: A field error or refusal is 422; a journal that moved meanwhile is the service's 409.
    refused_status = 422
    values = {
        "amount": (request.form.get("amount") or "").strip()[:30],
        "paid_on": (request.form.get("paid_on") or date.today().isoformat())[:10],
        "invoices": {parse_id(v) for v in request.form.getlist("invoice_id")},
        "key": request.form.get("idempotency_key") or uuid.uuid4().hex,
    }
    if request.method == "POST" and request.form.get("save"):
        amount = parse_amount(values["amount"])
        try:
            paid_on = date.fromisoformat(values["paid_on"])
        except ValueError:
            paid_on = None
        if chosen_vendor is None or chosen_vendor not in {v.id for v in vendors}:
            errors.append(("vendor_id", _("Choose a vendor of this legal entity.")))
        if not values["invoices"] - {None}:
            errors.append(("invoices", _("Choose open invoices of this vendor.")))
        if amount is None or amount <= Decimal(0):
            errors.append(("amount", _("Enter an amount greater than zero, in whole cents.")))
        if paid_on is None:
            errors.append(("paid_on", _("Enter the payment date as YYYY-MM-DD.")))
        if not errors:
            line = service.VendorLineInput(
                vendor_id=chosen_vendor,  # type: ignore[arg-type]
                amount=amount,  # type: ignore[arg-type]
                paid_on=paid_on,  # type: ignore[arg-type]
                vendor_invoice_ids=sorted(i for i in values["invoices"] if i is not None),
            )
            if target is not None:
                target_id, seen = target.id, parse_int(request.form.get("lines_seen"))

                def work():  # type: ignore[no-untyped-def]
                    return service.add_vendor_line(
                        current_user, entity_id, target_id, line, lines_seen=seen
                    )

                done = _("A payment line is added to journal %(number)s.")
            else:

                def work():  # type: ignore[no-untyped-def]
                    return service.create_vendor_journal(
                        current_user, entity_id, [line], idempotency_key=values["key"][:64]
                    )

                done = _("Journal %(number)s saved as a draft.")
            try:
                journal = unit_of_work.run(work)
            except DomainError as error:
                db.session.rollback()
                errors.append((None, str(error.message)))
                refused_status = error.status_code
            else:
                flash(done % {"number": journal.number}, "success")
                return redirect(url_for(".show_journal", number=journal.number))
    status = refused_status if errors else 200
    return render_template(
        "intercompany/journal_new.html",
        vendors=vendors,
        chosen_vendor=chosen_vendor,
        open_items=open_items,
        values=values,
        error_items=errors,
        errors=dict(errors),
        target=target,
    ), status


def _transition(number: str, work, done: str):  # type: ignore[no-untyped-def]
    """A guarded journal transition: refused (a stale page: 409) shows the journal as it
    is now, with why; done redirects to it."""
    journal_id, entity_id = _journal_or_404(number).id, admin_entity_id()
    try:
        journal = unit_of_work.run(lambda: work(current_user, entity_id, journal_id))
    except DomainError as error:
        refuse(error)
        fresh = _journal_or_404(number)
        return render_template(
            "intercompany/journal.html", journal=fresh, status_labels=status_labels()
        ), error.status_code
    flash(done % {"number": journal.number}, "success")
    other = journal.customer_journal
    if other is not None and other.needs_attention:
        flash(
            _(
                "Customer journal %(number)s could not be posted: %(reason)s",
                number=other.number,
                reason=other.attention_reason,
            ),
            "error",
        )
    return redirect(url_for(".show_journal", number=journal.number), 303)


@bp.route("/journals/<number>/post", methods=["POST"])
@store_admin_required
def post_journal(number: str):
    vendor = _journal_or_404(number).kind == JournalKind.VENDOR.value
    work = service.post_vendor_journal if vendor else service.post_customer_journal
    return _transition(number, work, _("Journal %(number)s is posted."))


@bp.route("/journals/<number>/adjust", methods=["POST"])
@store_admin_required
def adjust_journal(number: str):
    return _transition(number, service.adjust_customer_journal, _("Journal %(number)s is posted."))


@bp.route("/journals/<number>/reverse", methods=["POST"])
@store_admin_required
def reverse_journal(number: str):
    vendor = _journal_or_404(number).kind == JournalKind.VENDOR.value
    work = service.reverse_vendor_journal if vendor else service.reverse_customer_journal
    return _transition(number, work, _("Journal %(number)s is reversed."))
