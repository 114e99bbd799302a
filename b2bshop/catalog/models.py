"""What the store sells."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from b2bshop.entities.columns import entity_column
from b2bshop.extensions import db
from b2bshop.money import MONEY


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock_on_hand >= 0", name="stock_not_negative"),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 100", name="tax_rate_range"),
        UniqueConstraint("legal_entity_id", "sku", name="uq_products_legal_entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = entity_column()
    #: Unique within its entity (each entity has its own catalog, migration 0018).
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    #: Sales tax percent charged on invoice lines for this product.
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    #: Units in the warehouse; orders beyond it become backorders, never a negative stock.
    stock_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    #: A product group for up-sell and cross-sell rules (suggestions/), "" for none.
    category: Mapped[str] = mapped_column(String(60), default="", server_default="", index=True)
