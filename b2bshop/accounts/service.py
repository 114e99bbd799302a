"""Accounts: sign-in, users, customers and their invoice accounts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import joinedload, undefer

from b2bshop.accounts.models import Customer, PaymentTerms, Role, User
from b2bshop.audit import service as audit
from b2bshop.audit.service import snapshot
from b2bshop.billing.models import Invoice
from b2bshop.errors import DomainError
from b2bshop.extensions import db


def _hasher() -> PasswordHasher:
    """Argon2id with the library's defaults; tests lower the cost through the config."""
    config = current_app.config
    key = (config.get("ARGON2_TIME_COST"), config.get("ARGON2_MEMORY_COST"))
    hasher = _hashers.get(key)
    if hasher is None:
        options = {"time_cost": key[0], "memory_cost": key[1]}
        hasher = PasswordHasher(**{k: v for k, v in options.items() if v})
        # Verified against when the email is unknown, so both cases take the same time.
        _hashers[key] = hasher
        _dummy_hashes[key] = hasher.hash("no such user")
    return hasher


_hashers: dict[tuple, PasswordHasher] = {}
_dummy_hashes: dict[tuple, str] = {}


class InvoiceAccountInvalid(DomainError):
    pass


class EmailTaken(DomainError):
    pass


class EmailInvalid(DomainError):
    pass


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def valid_email(email: str) -> str:
    """The address normalized, when the email-validator library accepts its syntax (no DNS
    lookup); else EmailInvalid. Every address a user is created with, or a user types for
    a new user, goes through here or through WTForms' Email() (the same library)."""
    from email_validator import EmailNotValidError, validate_email

    email = normalize_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise EmailInvalid(_l("Enter a valid email address, such as name@example.com.")) from error
    return email


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The user when email and password match an active account, else None.

    The caller says the same thing for every failure, so a stranger cannot learn whether
    an email has an account.
    """
    hasher = _hasher()
    user = find_user_by_email(email)
    if user and user.password_hash:
        stored = user.password_hash
    else:
        stored = _dummy_hashes[
            (
                current_app.config.get("ARGON2_TIME_COST"),
                current_app.config.get("ARGON2_MEMORY_COST"),
            )
        ]
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


def load_user(session_key: str) -> User | None:
    """The signed-in user of a request, by the key of a live server-side session, with its
    customer and invoice account in the same query: every buyer page needs them
    (visible_accounts()), so no page asks again. The same query counts the lines of the
    user's cart, which every full page's frame shows (its badge)."""
    row = db.session.execute(_user_by_session_key(), {"key": session_key}).first()
    if row is None:
        return None
    user, cart_lines = row
    user.signed_in_with = session_key
    user.cart_lines_when_loaded = cart_lines
    return user


@cache
def _user_by_session_key() -> Select:
    # Built once: every request runs it, and building it cost a tenth of a cached list page.
    from b2bshop.accounts.sessions import UserSession
    from b2bshop.cart.models import Cart, CartLine

    cart_lines = (
        select(func.count(CartLine.id))
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(Cart.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    return (
        select(User, cart_lines)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.id == bindparam("key"),
            UserSession.revoked_at.is_(None),
            # Rotating the user's token (sign out everywhere, removal) ends every session.
            UserSession.user_token == User.session_token,
            User.active.is_(True),
        )
        .options(
            joinedload(User.customer).joinedload(Customer.invoice_account),
            undefer(User.limited_entity_ids),
        )
    )


def create_user(
    email: str,
    password: str | None,
    *,
    role: Role = Role.BUYER,
    customer: Customer | None = None,
    name: str = "",
    may_order: bool = True,
    may_view_invoices: bool = True,
    may_pay_invoices: bool = True,
    locale: str | None = None,
) -> User:
    email = valid_email(email)
    if find_user_by_email(email) is not None:
        raise EmailTaken(_l("A user with this email address already exists."))
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        role=role,
        customer=customer,
        may_order=may_order,
        may_view_invoices=may_view_invoices,
        may_pay_invoices=may_pay_invoices,
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_locale(user: User, locale: str | None) -> None:
    user.locale = locale
    db.session.flush()


def currency_in_use(customer: Customer) -> bool:
    """An account's currency is locked once anything is denominated in it: its invoices,
    orders or payments, or a customer billed through it (whose currency must match)."""
    from b2bshop.payments.models import Payment
    from b2bshop.sales.models import SalesOrder

    return bool(
        db.session.scalar(
            select(
                exists().where(Invoice.customer_id == customer.id)
                | exists().where(SalesOrder.customer_id == customer.id)
                | exists().where(Payment.customer_id == customer.id)
                | exists().where(Customer.invoice_account_id == customer.id)
            )
        )
    )


def set_invoice_account(customer: Customer, invoice_account: Customer | None) -> None:
    """Name the organization account billed on the customer's behalf (SPEC A3).

    Never the customer itself, never a chain that leads back to it.
    """
    if invoice_account is not None:
        if invoice_account.id == customer.id:
            raise InvoiceAccountInvalid(_l("A customer cannot be its own invoice account."))
        if invoice_account.currency != customer.currency:
            raise InvoiceAccountInvalid(
                _l("The invoice account must bill in the customer's currency.")
            )
        if (invoice_account.legal_entity_id or invoice_account.legal_entity.id) != (
            customer.legal_entity_id or customer.legal_entity.id
        ):
            # Its invoices are the other entity's: a buyer of one store cannot see them.
            raise InvoiceAccountInvalid(
                _l("The invoice account must belong to the customer's legal entity.")
            )
        seen = {customer.id}
        current: Customer | None = invoice_account
        while current is not None:
            if current.id in seen:
                raise InvoiceAccountInvalid(
                    _l("This invoice account would make a cycle of invoice accounts.")
                )
            seen.add(current.id)
            current = current.invoice_account
    customer.invoice_account = invoice_account
    db.session.flush()


# --- Store admins: customers and payment terms (issue 6) ---


class CustomerInvalid(DomainError):
    pass


class TermsInvalid(DomainError):
    pass


class TermsInUse(DomainError):
    status_code = 409


@dataclass(frozen=True)
class CustomerInput:
    number: str
    name: str
    email: str
    currency: str
    payment_terms_id: int
    credit_limit: Decimal
    invoice_account_id: int | None
    active: bool = True


#: What the audit log keeps of a customer edit: credit and terms move money.
CUSTOMER_AUDITED = [
    "number",
    "name",
    "email",
    "currency",
    "payment_terms_id",
    "credit_limit",
    "invoice_account_id",
    "active",
]


def save_customer(
    acting_user: User,
    customer: Customer | None,
    data: CustomerInput,
    *,
    legal_entity_id: int | None = None,
) -> Customer:
    """Create or edit a customer. Its invoice account is never itself, never a cycle.
    A new customer belongs to `legal_entity_id` (the admin's entity), else the first."""
    number = data.number.strip().upper()
    if not number or not data.name.strip() or not data.email.strip():
        raise CustomerInvalid(_l("A customer needs a number, a name and an email address."))
    email = valid_email(data.email)
    if data.credit_limit < 0:
        raise CustomerInvalid(_l("The credit limit cannot be negative."))
    clash = select(Customer.id).where(func.upper(Customer.number) == number)
    if customer is not None:
        clash = clash.where(Customer.id != customer.id)
    if db.session.scalar(clash) is not None:
        raise CustomerInvalid(_l("Another customer has the number %(number)s.", number=number))
    terms = db.session.get(PaymentTerms, data.payment_terms_id) if data.payment_terms_id else None
    if terms is None or not terms.active:
        raise CustomerInvalid(_l("Choose active payment terms."))
    before = snapshot(customer, CUSTOMER_AUDITED) if customer is not None else None
    if customer is None:
        if legal_entity_id is None:
            from b2bshop.entities.service import default_entity_id

            legal_entity_id = default_entity_id()
        customer = Customer(legal_entity_id=legal_entity_id)
        db.session.add(customer)
    elif customer.currency != data.currency and currency_in_use(customer):
        raise CustomerInvalid(
            _l(
                "%(name)s keeps its currency: invoices, orders, payments or customers billed "
                "through it depend on it.",
                name=customer.name,
            )
        )
    customer.number = number
    customer.name = data.name.strip()
    customer.email = email
    customer.currency = data.currency
    customer.payment_terms = terms
    customer.credit_limit = data.credit_limit
    customer.active = data.active
    db.session.flush()
    invoice_account = (
        db.session.get(Customer, data.invoice_account_id) if data.invoice_account_id else None
    )
    if data.invoice_account_id and invoice_account is None:
        raise InvoiceAccountInvalid(_l("There is no such invoice account."))
    set_invoice_account(customer, invoice_account)
    audit.record(
        acting_user,
        "customer.update" if before else "customer.create",
        "customer",
        customer.number,
        before,
        snapshot(customer, CUSTOMER_AUDITED),
    )
    return customer


@dataclass(frozen=True)
class TermsInput:
    code: str
    name: str
    net_days: int
    cash_discount_percent: Decimal
    cash_discount_days: int
    active: bool = True


def save_terms(acting_user: User, terms: PaymentTerms | None, data: TermsInput) -> PaymentTerms:
    code = data.code.strip().upper()
    if not code or not data.name.strip():
        raise TermsInvalid(_l("Payment terms need a code and a name."))
    if data.net_days < 0 or data.cash_discount_days < 0:
        raise TermsInvalid(_l("Days cannot be negative."))
    if not (0 <= data.cash_discount_percent < 100):
        raise TermsInvalid(_l("The cash discount percent is from 0 to under 100."))
    if data.cash_discount_days > data.net_days:
        raise TermsInvalid(_l("The cash discount period cannot be longer than the net days."))
    if bool(data.cash_discount_percent) != bool(data.cash_discount_days):
        raise TermsInvalid(_l("A cash discount needs both a percent and a number of days."))
    clash = select(PaymentTerms.id).where(func.upper(PaymentTerms.code) == code)
    if terms is not None:
        clash = clash.where(PaymentTerms.id != terms.id)
    if db.session.scalar(clash) is not None:
        raise TermsInvalid(_l("Other payment terms have the code %(code)s.", code=code))
    fields = ["code", "name", "net_days", "cash_discount_percent", "cash_discount_days", "active"]
    before = snapshot(terms, fields) if terms is not None else None
    if terms is None:
        terms = PaymentTerms()
        db.session.add(terms)
    terms.code = code
    terms.name = data.name.strip()
    terms.net_days = data.net_days
    terms.cash_discount_percent = data.cash_discount_percent
    terms.cash_discount_days = data.cash_discount_days
    terms.active = data.active
    db.session.flush()
    audit.record(
        acting_user,
        "terms.update" if before else "terms.create",
        "payment_terms",
        terms.code,
        before,
        snapshot(terms, fields),
    )
    return terms


def delete_terms(acting_user: User, terms: PaymentTerms) -> None:
    """Only terms no customer or order uses; otherwise deactivate them."""
    from b2bshop.sales.models import SalesOrder

    used = db.session.scalar(
        select(
            exists().where(Customer.payment_terms_id == terms.id)
            | exists().where(SalesOrder.payment_terms_id == terms.id)
            | exists().where(Invoice.payment_terms_id == terms.id)
        )
    )
    if used:
        raise TermsInUse(
            _l(
                "%(code)s is used by customers, orders or invoices: deactivate it instead.",
                code=terms.code,
            )
        )
    audit.record(acting_user, "terms.delete", "payment_terms", terms.code)
    db.session.delete(terms)
    db.session.flush()
