"""View guards. Store-admin pages answer 404 to everyone else: they do not exist for them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, render_template
from flask_login import current_user, login_required

#: Permission attribute -> what the refusal page says is missing.
PERMISSIONS = ("may_order", "may_view_invoices", "may_pay_invoices")


def store_admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed-out visitors get 404 too, not a sign-in page: /admin gives nothing away."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not (current_user.is_authenticated and current_user.is_store_admin):
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def buyer_required(permission: str | None = None) -> Callable[..., Any]:
    """Signed in as a customer's user, holding `permission` when one is named."""
    assert permission is None or permission in PERMISSIONS

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.customer_id is None:
                return render_template("errors/forbidden.html", reason="buyers_only"), 403
            if permission and not getattr(current_user, permission):
                return render_template("errors/forbidden.html", reason=permission), 403
            return view(*args, **kwargs)

        return wrapped

    return decorator
