"""Gap-free number sequences (invoice, credit note, order, payment, RMA).

A database sequence skips numbers on rollback; tax law wants invoice numbers without gaps.
So each sequence is a row, incremented by an UPDATE ... RETURNING inside the caller's
transaction: the row lock serializes concurrent takers on PostgreSQL (SQLite serializes all
writers anyway), and a rollback gives the number back.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, update
from sqlalchemy.orm import Mapped, mapped_column

from b2bshop.extensions import db

#: name -> prefix; the migration creates one row for each.
SEQUENCES = {
    "invoice": "INV-",
    "order": "SO-",
    "payment": "PAY-",
    "rma": "RMA-",
    "packing_slip": "PS-",
    "credit_note": "CN-",
    "sales_agreement": "SA-",
    "purchase_order": "PO-",
    "receipt": "RCT-",
    "vendor": "V-",
    #: Customers converted from prospects (relationships/service.py).
    "customer": "CU-",
    "quotation": "QU-",
}


class NumberSequence(db.Model):
    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(10))
    #: The value the next call hands out.
    next_value: Mapped[int] = mapped_column(Integer, default=1)


def next_number(name: str) -> str:
    """Take the next number of a sequence. The caller's commit makes it final."""
    row = db.session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == name)
        .values(next_value=NumberSequence.next_value + 1)
        .returning(NumberSequence.prefix, NumberSequence.next_value)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no number sequence named {name!r}")
    prefix, after = row
    return f"{prefix}{after - 1:06d}"
