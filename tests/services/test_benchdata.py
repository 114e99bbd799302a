"""`flask --app wsgi bench-data`, small: reproducible from its seed, consistent with the
trigger-kept totals, and it leaves the triggers on (on PostgreSQL it turns them off to load)."""

from __future__ import annotations

from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, User
from b2bshop.benchdata import BENCH_USER
from b2bshop.billing.models import Invoice
from b2bshop.extensions import db
from tests import factories
from tests.conftest import _truncate_all
from tests.services.test_invoice_totals import kept_totals, recounted_totals

ARGS = ["bench-data", "--customers", "12", "--invoices", "400", "--org-invoices", "60"]


def _fingerprint() -> tuple:
    return db.session.execute(
        select(
            func.count(Invoice.id),
            func.sum(Invoice.total),
            func.sum(Invoice.amount_paid),
            func.min(Invoice.number),
            func.max(Invoice.due_date),
        )
    ).one()


def _totals_match_invoices() -> bool:
    return kept_totals() == recounted_totals()


def test_bench_data_is_reproducible_consistent_and_leaves_the_triggers_on(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=[*ARGS, "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "400 invoices" in result.output
    with app.app_context():
        first = _fingerprint()
        assert first[0] == 400
        assert _totals_match_invoices()
        bench = db.session.scalar(select(User).where(User.email == BENCH_USER))
        org = bench.customer.invoice_account
        assert org is not None
        assert db.session.scalar(select(func.count()).where(Invoice.customer_id == org.id)) >= 60
        # Triggers on again: a new invoice moves the totals and the list's version.
        version = org.invoices_version
        factories.invoice(org, "12.34")
        db.session.flush()
        db.session.refresh(org)
        assert org.invoices_version > version
        assert _totals_match_invoices()
        db.session.rollback()

    again = runner.invoke(args=[*ARGS, "--seed", "7"])
    assert again.exit_code != 0 and "empty database" in again.output

    with app.app_context():
        _truncate_all()
    assert runner.invoke(args=[*ARGS, "--seed", "7"]).exit_code == 0
    with app.app_context():
        assert _fingerprint() == first  # the same seed, the same data
        _truncate_all()
    assert runner.invoke(args=[*ARGS, "--seed", "8"]).exit_code == 0
    with app.app_context():
        other = _fingerprint()
        assert other[0] == 400 and other[1] != first[1]
        assert db.session.scalar(select(func.count(Customer.id))) == 12
