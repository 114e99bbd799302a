"""The cart: read side for the page frame (the badge)."""

from __future__ import annotations

from sqlalchemy import func, select

from b2bshop.accounts.models import User
from b2bshop.cart.models import Cart, CartLine
from b2bshop.extensions import db


def get_cart(user: User) -> Cart | None:
    return db.session.scalar(select(Cart).where(Cart.user_id == user.id))


def line_count(user: User) -> int:
    return (
        db.session.scalar(select(func.count(CartLine.id)).join(Cart).where(Cart.user_id == user.id))
        or 0
    )
