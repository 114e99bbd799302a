"""Gap-free number sequences (invoice, credit note, order, payment, RMA), one set per entity.

A database sequence skips numbers on rollback; tax law wants invoice numbers without gaps.
So each sequence is a row, incremented by an UPDATE ... RETURNING inside the caller's
transaction: the row lock serializes concurrent takers on PostgreSQL (SQLite serializes all
writers anyway), and a rollback gives the number back.

Each legal entity has its own series (migration 0018): the row is keyed by (entity, name)
and its prefix is the entity's number_prefix before the kind's ("NO-" + "INV-"), so numbers
stay unique across entities. A series an entity has not used yet is created on first use.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    #: Payment journals (intercompany/): the buying entity's vendor side, the seller's side.
    "vendor_journal": "VPJ-",
    "customer_journal": "CPJ-",
}


class NumberSequence(db.Model):
    __tablename__ = "number_sequences"

    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(10))
    #: The value the next call hands out.
    next_value: Mapped[int] = mapped_column(Integer, default=1)


def _take(name: str, entity_id: int) -> tuple[str, int] | None:
    row = db.session.execute(
        update(NumberSequence)
        .where(NumberSequence.legal_entity_id == entity_id, NumberSequence.name == name)
        .values(next_value=NumberSequence.next_value + 1)
        .returning(NumberSequence.prefix, NumberSequence.next_value)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def next_number(name: str, entity_id: int) -> str:
    """Take the next number of the entity's sequence. The caller's commit makes it final.

    `entity_id` is the entity of the document being numbered, always explicit."""
    if name not in SEQUENCES:
        raise LookupError(f"no number sequence named {name!r}")
    taken = _take(name, entity_id)
    if taken is None:
        from b2bshop.accounts.models import LegalEntity

        prefix = db.session.scalar(
            select(LegalEntity.number_prefix).where(LegalEntity.id == entity_id)
        )
        if prefix is None:
            raise LookupError(f"no legal entity {entity_id}")
        # Two first takers at once: one inserts, the other's insert does nothing; both then
        # take their number through the row lock as usual.
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(NumberSequence)
            .values(
                legal_entity_id=entity_id,
                name=name,
                prefix=(prefix + SEQUENCES[name])[:10],
                next_value=1,
            )
            .on_conflict_do_nothing()
        )
        taken = _take(name, entity_id)
        assert taken is not None
    prefix, after = taken
    return f"{prefix}{after - 1:06d}"
