"""Who buys and who sells: legal entity, payment terms, customers and their users."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    cast,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from b2bshop.entities.models import store_admin_entities
from b2bshop.extensions import db
from b2bshop.money import MONEY


def enum_values(cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in cls]


def enum_type(cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    """A state column: the enum's values stored as strings, guarded by a CHECK constraint
    (portable across SQLite and PostgreSQL, unlike a native enum type)."""
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=enum_values,
        validate_strings=True,
        create_constraint=True,
        name=name,
    )


class EInvoiceFormat(enum.StrEnum):
    """What a customer's invoice email carries."""

    PDF = "pdf"
    PDF_UBL = "pdf_ubl"
    FACTURX = "facturx"


class PostalAddress:
    """The address as printed: street, postal code and city, country code."""

    @property
    def postal_lines(self) -> list[str]:
        if not self.street:  # type: ignore[attr-defined]
            legacy = getattr(self, "address", "")
            return [legacy] if legacy else []
        place = " ".join(p for p in (self.postal_code, self.city) if p)  # type: ignore[attr-defined]
        return [line for line in (self.street, place, self.country_code) if line]  # type: ignore[attr-defined]

    @property
    def postal_address(self) -> str:
        return ", ".join(self.postal_lines)


class LegalEntity(PostalAddress, db.Model):
    """The selling company; invoices and sequences belong to it."""

    __tablename__ = "legal_entities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    #: A one-line address from before the structured fields; shown only while street is empty.
    address: Mapped[str] = mapped_column(String(500), default="")
    vat_number: Mapped[str] = mapped_column(String(40), default="")
    # What invoices and e-invoices must say of the seller (migration 0012, einvoice/parties.py).
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: ISO 3166-1 alpha-2.
    country_code: Mapped[str] = mapped_column(String(2), default="", server_default="")
    #: Company registration (chamber of commerce, SIREN, organisasjonsnummer ...).
    registration_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    iban: Mapped[str] = mapped_column(String(34), default="", server_default="")
    bic: Mapped[str] = mapped_column(String(11), default="", server_default="")
    #: Peppol participant: EAS scheme (0106, 9944, 0192 ...) and identifier.
    peppol_scheme: Mapped[str] = mapped_column(String(4), default="", server_default="")
    peppol_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: Why a 0 % line carries no VAT (EN 16931 BT-120), printed and sent with it.
    vat_exemption_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    #: Put before every number of this entity's series ("NO-" makes NO-INV-000001), so
    #: numbers stay unique across entities; the default entity's is "" (migration 0018).
    number_prefix: Mapped[str] = mapped_column(String(10), default="", server_default="")


class PaymentTerms(db.Model):
    __tablename__ = "payment_terms"
    __table_args__ = (
        CheckConstraint("net_days >= 0", name="net_days_not_negative"),
        CheckConstraint(
            "cash_discount_percent >= 0 AND cash_discount_percent < 100",
            name="cash_discount_percent_range",
        ),
        CheckConstraint(
            "cash_discount_days >= 0 AND cash_discount_days <= net_days",
            name="cash_discount_days_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Days from the invoice date to the due date.
    net_days: Mapped[int] = mapped_column(Integer)
    #: Percent off the invoice total when paid within cash_discount_days (0 = no discount).
    cash_discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    cash_discount_days: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def has_cash_discount(self) -> bool:
        return self.cash_discount_percent > 0 and self.cash_discount_days > 0


class Customer(PostalAddress, db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        CheckConstraint(
            "invoice_account_id IS NULL OR invoice_account_id <> id",
            name="invoice_account_not_self",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_id: Mapped[int] = mapped_column(ForeignKey("payment_terms.id"))
    credit_limit: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    #: The organization account billed on this customer's behalf (SPEC A3). Its users see
    #: and pay that account's invoices too. Never the customer itself, never a cycle.
    invoice_account_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped by a trigger on every change to this customer's invoices (migration 0008):
    #: part of the invoice list's cache key. Never written by the application.
    invoices_version: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    # The buyer as invoices and e-invoices name it (migration 0012, einvoice/parties.py).
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: ISO 3166-1 alpha-2.
    country_code: Mapped[str] = mapped_column(String(2), default="", server_default="")
    vat_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    #: Peppol participant: EAS scheme (0106, 9944, 0192 ...) and identifier.
    peppol_scheme: Mapped[str] = mapped_column(String(4), default="", server_default="")
    peppol_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: What the invoice email attaches: the PDF, the PDF and the UBL file, or Factur-X.
    einvoice_format: Mapped[EInvoiceFormat] = mapped_column(
        enum_type(EInvoiceFormat, "einvoice_format"),
        default=EInvoiceFormat.PDF,
        server_default=EInvoiceFormat.PDF.value,
    )

    legal_entity: Mapped[LegalEntity] = relationship()
    payment_terms: Mapped[PaymentTerms] = relationship()
    invoice_account: Mapped[Customer | None] = relationship(remote_side=[id])
    users: Mapped[list[User]] = relationship(back_populates="customer", order_by="User.email")


class Role(enum.StrEnum):
    BUYER = "buyer"
    BUYER_ADMIN = "buyer_admin"
    STORE_ADMIN = "store_admin"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'store_admin' AND customer_id IS NULL)"
            " OR (role <> 'store_admin' AND customer_id IS NOT NULL)",
            name="customer_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        enum_type(Role, "role"),
        default=Role.BUYER,
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    may_order: Mapped[bool] = mapped_column(Boolean, default=True)
    may_view_invoices: Mapped[bool] = mapped_column(Boolean, default=True)
    may_pay_invoices: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Preferred language (en, fr, nb, nl); None follows the cookie, then the browser.
    locale: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: What the session cookie carries instead of the id: rotating it signs the user out
    #: everywhere (password change, removal).
    session_token: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer | None] = relationship(back_populates="users")
    #: A store admin limited to these legal entities (migration 0018); none: all of them.
    limited_entities: Mapped[list[LegalEntity]] = relationship(
        secondary="store_admin_entities", order_by="LegalEntity.id", viewonly=True
    )
    #: Their ids, comma-separated (entities.service.limited_ids), loaded with the user in
    #: load_user's one query, so scoping an admin page costs no query. A column, not the
    #: joined collection: that cost every request, buyers' too, a sixth of the query.
    limited_entity_ids: Mapped[str | None] = column_property(
        select(func.aggregate_strings(cast(store_admin_entities.c.legal_entity_id, String), ","))
        .where(store_admin_entities.c.user_id == id)
        .correlate_except(store_admin_entities)
        .scalar_subquery(),
        deferred=True,
    )

    #: The key of the sign-in session this object was loaded for (accounts/sessions.py);
    #: a plain attribute, not a column.
    signed_in_with = None
    #: The lines in the user's cart when load_user loaded it (the frame's badge); None when
    #: loaded otherwise. A plain attribute, not a column.
    cart_lines_when_loaded = None

    def get_id(self) -> str | None:
        """What the cookies carry: the server-side session's key, never the user's id."""
        return self.signed_in_with

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_store_admin(self) -> bool:
        return self.role == Role.STORE_ADMIN

    @property
    def is_buyer_admin(self) -> bool:
        return self.role == Role.BUYER_ADMIN


# Case-insensitive uniqueness, whatever a caller stored.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
