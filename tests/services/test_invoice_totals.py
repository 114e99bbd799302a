"""The trigger-kept invoice totals always equal a recount of the invoices."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, select, update

from b2bshop.billing.models import Invoice, InvoiceTotals
from b2bshop.extensions import db
from b2bshop.payments.models import PaymentMethod
from b2bshop.payments.service import Allocation, record_payment
from tests import factories


def recounted_totals() -> dict:
    rows = db.session.execute(
        select(
            Invoice.customer_id,
            Invoice.status,
            func.count(),
            func.sum(Invoice.total),
            func.sum(Invoice.amount_paid),
        ).group_by(Invoice.customer_id, Invoice.status)
    ).all()
    return {
        (c, s.value): (
            n,
            Decimal(str(t)).quantize(Decimal("0.01")),
            Decimal(str(p)).quantize(Decimal("0.01")),
        )
        for c, s, n, t, p in rows
    }


def kept_totals() -> dict:
    rows = db.session.scalars(select(InvoiceTotals)).all()
    return {
        (r.customer_id, r.status): (
            r.invoice_count,
            Decimal(str(r.total)).quantize(Decimal("0.01")),
            Decimal(str(r.amount_paid)).quantize(Decimal("0.01")),
        )
        for r in rows
        if r.invoice_count
    }


def test_totals_follow_posting_settlement_and_deletion(app_ctx):
    a, b = factories.customer("A"), factories.customer("B")
    invoices = [
        factories.invoice(a, "100.10"),
        factories.invoice(a, "0.30"),
        factories.invoice(b, "55.55"),
        factories.invoice(b, "12.34"),
    ]
    db.session.flush()
    assert kept_totals() == recounted_totals()
    record_payment(None, a, [Allocation(invoices[0].id, Decimal("40.05"))], PaymentMethod.MANUAL)
    record_payment(None, a, [Allocation(invoices[1].id, Decimal("0.30"))], PaymentMethod.MANUAL)
    record_payment(None, b, [Allocation(invoices[2].id, Decimal("55.55"))], PaymentMethod.MANUAL)
    db.session.flush()
    assert kept_totals() == recounted_totals()
    # moved to another customer, then deleted
    db.session.execute(update(Invoice).where(Invoice.id == invoices[3].id).values(customer_id=a.id))
    assert kept_totals() == recounted_totals()
    db.session.execute(delete(Invoice).where(Invoice.id == invoices[3].id))
    assert kept_totals() == recounted_totals()
    db.session.commit()
