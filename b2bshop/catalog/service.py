"""The product catalog as buyers see it."""

from __future__ import annotations

from sqlalchemy import or_, select

from b2bshop.catalog.models import Product
from b2bshop.extensions import db


def search_products(query: str | None, limit: int = 100) -> list[Product]:
    stmt = select(Product).where(Product.active.is_(True))
    if query:
        pattern = f"%{query.strip()}%"
        stmt = stmt.where(or_(Product.name.ilike(pattern), Product.sku.ilike(pattern)))
    return list(db.session.scalars(stmt.order_by(Product.name).limit(limit)))
