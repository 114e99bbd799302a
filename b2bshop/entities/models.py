"""Which entities a store admin may act in, and the rule that fills a record's entity."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, Table, event, insert, select
from sqlalchemy.orm import Session

from b2bshop.extensions import db

#: A store admin limited to some entities: one row per allowed entity. None at all = all.
store_admin_entities = Table(
    "store_admin_entities",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "legal_entity_id",
        Integer,
        ForeignKey("legal_entities.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


def _parent_entity(session: Session, obj: object) -> int | None:
    """A document takes its party's entity: orders, invoices and payments their customer's,
    a purchase order its vendor's. The entity is never chosen apart from the party."""
    from b2bshop.accounts.models import Customer
    from b2bshop.purchasing.models import Vendor

    for relation, model, key in (
        ("customer", Customer, "customer_id"),
        ("vendor", Vendor, "vendor_id"),
    ):
        if not hasattr(type(obj), key):
            continue
        parent = obj.__dict__.get(relation)
        if parent is not None:
            return parent.legal_entity_id or (
                parent.legal_entity.id if getattr(parent, "legal_entity", None) else None
            )
        ident = getattr(obj, key, None)
        if ident is not None:
            return session.scalar(select(model.legal_entity_id).where(model.id == ident))
    return None


def first_entity(session: Session) -> int:
    """The first entity. A store never set up has none: it gets one on first need, as the
    migration made one for data that had none (the admin names it at /admin/legal-entity)."""
    from flask import current_app, has_app_context

    from b2bshop.accounts.models import LegalEntity

    first = session.scalar(select(LegalEntity.id).order_by(LegalEntity.id).limit(1))
    if first is not None:
        return first
    name = current_app.config.get("STORE_NAME", "b2bshop") if has_app_context() else "b2bshop"
    return session.execute(
        insert(LegalEntity).values(code="MAIN", name=name, currency="EUR").returning(LegalEntity.id)
    ).scalar_one()


@event.listens_for(Session, "before_flush")
def _fill_entity(session: Session, _context: object, _instances: object) -> None:
    """A new record without its entity gets it from its party; products and vendors made
    without one (demo data, fixtures, the CLI) belong to the default entity. Admin pages
    and services that know the entity set it themselves."""
    with session.no_autoflush:
        for obj in list(session.new):
            if (
                not hasattr(obj, "legal_entity_id")
                or getattr(obj, "legal_entity_id", 1) is not None
            ):
                continue
            if type(obj).__name__ == "Customer":
                continue  # a customer names its entity itself (accounts/service.py)
            entity = _parent_entity(session, obj)
            obj.legal_entity_id = entity or first_entity(session)  # type: ignore[attr-defined]
