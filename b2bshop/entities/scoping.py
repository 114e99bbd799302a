"""Entity conditions for queries and records: what an admin list or lookup may show.

A table with a legal_entity_id is filtered on it; a table without one but with a customer_id
(quotations, agreements, carts) follows its customer's entity; a sales order's children
(packing slips) their order's. Anything else is not company-owned data of one entity.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select


def _follows(model: Any, key: str) -> bool:
    """Always has that parent (NOT NULL): a lead's optional customer link does not make it
    the customer's entity's record."""
    column = getattr(getattr(model, "__table__", None), "c", {}).get(key)
    return column is not None and not column.nullable


def _owner_condition(model: Any, entity_id: int) -> Any | None:
    from b2bshop.accounts.models import Customer
    from b2bshop.sales.models import SalesOrder

    if model is Customer or hasattr(model, "legal_entity_id"):
        return model.legal_entity_id == entity_id
    if _follows(model, "customer_id"):
        return model.customer_id.in_(
            select(Customer.id).where(Customer.legal_entity_id == entity_id)
        )
    if _follows(model, "sales_order_id"):
        return model.sales_order_id.in_(
            select(SalesOrder.id).where(SalesOrder.legal_entity_id == entity_id)
        )
    return None


def scope_to_entity(stmt: Select, entity_id: int | None) -> Select:
    """The list's rows of one entity only (its first selected model decides how)."""
    if entity_id is None:
        return stmt
    descriptions = stmt.column_descriptions
    model = descriptions[0].get("entity") if descriptions else None
    if model is None:
        return stmt
    condition = _owner_condition(model, entity_id)
    return stmt if condition is None else stmt.where(condition)


def entity_of(row: Any) -> int | None:
    """The entity a record belongs to, or None when it is not one entity's data."""
    if getattr(row, "legal_entity_id", None) is not None:
        return row.legal_entity_id
    for parent in ("customer", "order", "sales_order", "purchase_order", "vendor"):
        if not _follows(type(row), f"{parent}_id"):
            continue
        owner = getattr(row, parent, None)
        if owner is not None and hasattr(owner, "legal_entity_id"):
            return owner.legal_entity_id
    return None


def in_entity(row: Any, entity_id: int | None) -> bool:
    owner = entity_of(row)
    return entity_id is None or owner is None or owner == entity_id
