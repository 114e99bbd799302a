"""Trade agreements and sales agreements (SPEC B6): what a customer pays, agreed in advance.

A trade agreement is a standing price or line discount for one customer or a customer
group, from a quantity on, within an optional date window. A sales agreement is a
commitment (a quantity or an amount, within a validity period) with its own prices; while
effective it overrides trade agreements. Both are read by pricing/service.py only.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from b2bshop.accounts.models import Customer, enum_type
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import MONEY

PERCENT = Numeric(5, 2)


class CustomerGroup(db.Model):
    """Customers who share trade agreements (a price group)."""

    __tablename__ = "customer_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    members: Mapped[list[CustomerGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class CustomerGroupMember(db.Model):
    __tablename__ = "customer_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    group: Mapped[CustomerGroup] = relationship(back_populates="members")
    customer: Mapped[Customer] = relationship()


class TradeAgreement(db.Model):
    """A price or a line discount for a customer or a group, from `min_quantity` on."""

    __tablename__ = "trade_agreements"
    __table_args__ = (
        CheckConstraint(
            "(customer_id IS NULL) <> (customer_group_id IS NULL)", name="customer_or_group"
        ),
        CheckConstraint(
            "(unit_price IS NULL AND discount_percent > 0 AND discount_percent < 100)"
            " OR (discount_percent IS NULL AND unit_price >= 0)",
            name="price_or_discount",
        ),
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint(
            "valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to", name="window"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    customer_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_groups.id"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    #: The quantity break: the agreement applies to a line of at least this many units.
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    #: A net unit price in the product's currency, or None when this is a line discount.
    unit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    discount_percent: Mapped[Decimal | None] = mapped_column(PERCENT)
    currency: Mapped[str] = mapped_column(String(3))
    #: Inclusive date window; None is open-ended.
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    #: The creating form's key: a double submit finds this row instead of making a second.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer | None] = relationship()
    customer_group: Mapped[CustomerGroup | None] = relationship()
    product: Mapped[Product] = relationship()

    @property
    def reference(self) -> str:
        return f"TA-{self.id:06d}"


class AgreementStatus(enum.StrEnum):
    """on hold -> effective -> closed; only an effective agreement prices orders."""

    ON_HOLD = "on_hold"
    EFFECTIVE = "effective"
    CLOSED = "closed"


class CommitmentType(enum.StrEnum):
    #: Each line commits to a quantity of its product.
    PRODUCT_QUANTITY = "product_quantity"
    #: Each line commits to an amount spent on its product.
    PRODUCT_AMOUNT = "product_amount"
    #: The agreement commits to one amount across all its products.
    TOTAL_AMOUNT = "total_amount"


class SalesAgreement(db.Model):
    __tablename__ = "sales_agreements"
    __table_args__ = (
        CheckConstraint("valid_from <= valid_to", name="validity"),
        CheckConstraint(
            "committed_amount IS NULL OR committed_amount > 0", name="committed_amount_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    commitment_type: Mapped[CommitmentType] = mapped_column(
        enum_type(CommitmentType, "commitment_type")
    )
    status: Mapped[AgreementStatus] = mapped_column(
        enum_type(AgreementStatus, "agreement_status"), default=AgreementStatus.ON_HOLD
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    #: For a total-amount commitment: what the customer commits to buy across the lines.
    committed_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    #: The creating form's key: a double submit finds this row instead of making a second.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[SalesAgreementLine]] = relationship(
        back_populates="agreement", cascade="all, delete-orphan", order_by="SalesAgreementLine.id"
    )

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


class SalesAgreementLine(db.Model):
    __tablename__ = "sales_agreement_lines"
    __table_args__ = (
        UniqueConstraint("agreement_id", "product_id", name="uq_sales_agreement_lines_product"),
        CheckConstraint(
            "(unit_price IS NULL AND discount_percent > 0 AND discount_percent < 100)"
            " OR (discount_percent IS NULL AND unit_price >= 0)",
            name="price_or_discount",
        ),
        CheckConstraint(
            "committed_quantity IS NULL OR committed_quantity > 0",
            name="committed_quantity_positive",
        ),
        CheckConstraint(
            "committed_amount IS NULL OR committed_amount > 0", name="committed_amount_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("sales_agreements.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    unit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    discount_percent: Mapped[Decimal | None] = mapped_column(PERCENT)
    #: Product-quantity commitment: units the customer commits to buy.
    committed_quantity: Mapped[int | None] = mapped_column(Integer)
    #: Product-amount commitment: what the customer commits to spend on this product.
    committed_amount: Mapped[Decimal | None] = mapped_column(MONEY)

    agreement: Mapped[SalesAgreement] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
