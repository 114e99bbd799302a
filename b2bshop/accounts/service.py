"""Accounts: sign-in, users, customers and their invoice accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, Role, User
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


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


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


def load_user(session_token: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.session_token == session_token, User.active.is_(True))
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
    email = normalize_email(email)
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
