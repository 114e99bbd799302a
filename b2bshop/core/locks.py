"""The one lock order of every money path, and the helpers that take the locks.

Every transaction that moves money or stock takes its row locks in this order, each kind in
id order, and skips the kinds it does not need:

    1. the buyer's cart                       (cart.service.get_cart(lock=True); adding an
                                               invoice: _locked_cart_statement)
    1b. a payment journal, then its vendor   (intercompany/service.py: the journal being
        transactions                          posted or reversed; its settlement then takes
                                              the steps below)
    2. customer accounts                      (lock_accounts: the billed invoice account for
                                               credit; the invoices' customers before them)
    2b. a purchase order or vendor           (a receipt: the purchase order, then the sales
                                               orders it allocates to, then products;
                                               purchasing/service.py)
    3. sales orders, then their packing slips (a quotation being accepted: here, after
                                               its billed account, before place_order's
                                               products; quotations/service.py)
    4. products                               (stock)
    5. payments                               (lock_payment: the one being changed)
    6. invoices                               (lock_invoices)
    7. number sequences                       (numbering.next_number, always last)

Why accounts come before invoices: the invoice triggers (migrations 0003 and 0008) update
the customer row of every invoice they touch, so a payment locks its invoices' customers
anyway, after the invoices, unless it locked them first. lock_invoices() locks them first,
so no path holds an invoice while it waits for an account.

Why sequences come last: the gap-free number row is shared by every transaction that takes
a number of that kind; it is held only for the final insert. The first review found the
deadlock this prevents: checkout took cart -> invoices -> sequence while a manual payment
took sequence -> invoices.

PostgreSQL may still report a deadlock or a serialization failure (a trigger, an index
page); core/unit_of_work.py retries the whole unit a bounded number of times. An external
call (the card provider) is never inside a retried unit: its intent is committed first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import select

from b2bshop.extensions import db

Model = TypeVar("Model")


def lock_rows(model: type[Model], ids: Iterable[int]) -> dict[int, Model]:
    """Lock rows of one kind in id order and read them afresh (what another transaction
    committed while we waited is what we see)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(model)
        .where(model.id.in_(wanted))  # type: ignore[attr-defined]
        .order_by(model.id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}  # type: ignore[attr-defined]


def lock_accounts(customer_ids: Iterable[int]):  # type: ignore[no-untyped-def]
    """Step 2: customer rows, in id order."""
    from b2bshop.accounts.models import Customer

    return lock_rows(Customer, customer_ids)


def lock_invoices(invoice_ids: Iterable[int]):  # type: ignore[no-untyped-def]
    """Step 6, with step 2 first: the invoices' customers, then the invoices, in id order."""
    from b2bshop.accounts.models import Customer
    from b2bshop.billing.models import Invoice

    ids = sorted(set(invoice_ids))
    if not ids:
        return {}
    customer_ids = db.session.scalars(
        select(Invoice.customer_id).where(Invoice.id.in_(ids)).distinct()
    ).all()
    lock_rows(Customer, customer_ids)
    return lock_rows(Invoice, ids)


def lock_payment(payment_id: int):  # type: ignore[no-untyped-def]
    """Step 5: the payment whose state changes; its status is re-read under the lock."""
    from b2bshop.payments.models import Payment

    return lock_rows(Payment, [payment_id]).get(payment_id)
