"""Up-sell and cross-sell rules (SPEC B4).

For a product, or every product of a category, an *up-sell* rule offers another product in
its place (the buyer's quantity kept) and a *cross-sell* rule offers one to add. The higher
priority is shown first; a rule may be limited to a date window; its note is shown to the
buyer.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import enum_type
from b2bshop.catalog.models import Product
from b2bshop.extensions import db


class SuggestionKind(enum.StrEnum):
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"


class SuggestionRule(db.Model):
    __tablename__ = "suggestion_rules"
    __table_args__ = (
        CheckConstraint("(product_id IS NULL) <> (category = '')", name="product_or_category"),
        CheckConstraint(
            "product_id IS NULL OR product_id <> suggested_product_id", name="not_itself"
        ),
        CheckConstraint(
            "valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to", name="window"
        ),
        CheckConstraint("priority >= 0 AND priority <= 1000", name="priority_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SuggestionKind] = mapped_column(enum_type(SuggestionKind, "suggestion_kind"))
    #: The product the rule is for; or None, and then every product of `category`.
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(60), default="", index=True)
    #: The replacement (up-sell) or the addition (cross-sell).
    #: A rule goes with either of its products (a product is deleted only when unused).
    suggested_product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    #: Higher first.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    #: Shown to the buyer beside the suggestion.
    note: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    product: Mapped[Product | None] = relationship(foreign_keys=[product_id])
    suggested_product: Mapped[Product] = relationship(foreign_keys=[suggested_product_id])
