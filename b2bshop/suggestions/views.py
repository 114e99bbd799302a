"""Up-sell and cross-sell for buyers (SPEC B4): the suggestions fragments of the cart and
of a product page, and the one-click "Replace with…" and "Add" actions.

The fragments are HTMX partials loaded by the cart and the product page; each has a page of
its own that includes it, for browsers without JavaScript. Actions are plain form posts
that go back where they came from.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from b2bshop.accounts.access import buyer_required
from b2bshop.cart import service as cart_service
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.core.inputs import parse_id
from b2bshop.core.read_only import read_only
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.htmx import render
from b2bshop.pricing.service import PriceRequest, price_lines
from b2bshop.suggestions import service

bp = Blueprint("suggestions", __name__)


def _prices(suggestions: dict) -> dict:
    """The buyer's price of every suggested product, in one batch (pricing/service.py)."""
    products = {s.suggested.id: s.suggested for shown in suggestions.values() for s in shown}
    if not products:
        return {}
    prices = price_lines(current_user.customer, [PriceRequest(p) for p in products.values()])
    return {price.product_id: price for price in prices}


def cart_context() -> dict:
    """The cart's item lines and their suggestions: a fixed number of queries whatever the
    number of lines (the cart with its lines and products, the rules, the prices)."""
    cart = cart_service.get_cart(current_user)
    lines = [ln for ln in (cart.lines if cart else []) if ln.product is not None]
    products = [ln.product for ln in lines]
    customer = current_user.customer
    suggestions = service.suggestions_for(
        products,
        customer.currency,
        exclude={p.id for p in products},
        entity_id=customer.legal_entity_id,
    )
    return {"lines": lines, "suggestions": suggestions, "prices": _prices(suggestions)}


@bp.route("/suggestions/cart")
@read_only
@buyer_required()
def cart_suggestions():
    return render("suggestions/cart.html", "suggestions/_cart_suggestions.html", **cart_context())


def _product_or_404(sku: str) -> Product:
    product = db.session.scalar(
        select(Product).where(
            Product.sku == sku[:40],
            Product.active.is_(True),
            Product.legal_entity_id == current_user.customer.legal_entity_id,
        )
    )
    if product is None:
        abort(404)
    return product


@bp.route("/products/<sku>")
@read_only
@buyer_required()
def show_product(sku: str):
    product = _product_or_404(sku)
    customer = current_user.customer
    suggestions = service.suggestions_for(
        [product], customer.currency, entity_id=customer.legal_entity_id
    )
    prices = _prices(suggestions)
    price = price_lines(customer, [PriceRequest(product)])[0]
    return render(
        "suggestions/product.html",
        "suggestions/_product_suggestions.html",
        product=product,
        price=price,
        suggestions=suggestions[product.id],
        prices=prices,
        sells=product.currency == customer.currency,
    )


def _back(default: str) -> str:
    """Where the action came from: the cart or a product page, never elsewhere."""
    target = request.form.get("next", "")
    if target == "cart":
        return url_for("cart.show_cart")
    if target.startswith("product:"):
        return url_for(".show_product", sku=target[8:48])
    return default


def _act(work, done):  # type: ignore[no-untyped-def]
    try:
        product = unit_of_work.run(work)
    except DomainError as error:
        db.session.rollback()
        return render_template("cart/refused.html", message=error.message), error.status_code
    flash(done(product), "success")
    return redirect(_back(url_for("cart.show_cart")), 303)


@bp.route("/suggestions/<int:rule_id>/replace", methods=["POST"])
@buyer_required("may_order")
def replace(rule_id: int):
    line_id = parse_id(request.form.get("line_id"))
    if line_id is None:
        abort(404)
    return _act(
        lambda: service.replace_in_cart(current_user, rule_id, line_id),
        lambda product: _("Replaced with %(name)s, same quantity.", name=product.name),
    )


@bp.route("/suggestions/<int:rule_id>/add", methods=["POST"])
@buyer_required("may_order")
def add(rule_id: int):
    product_id = parse_id(request.form.get("product_id"))
    if product_id is None:
        abort(404)
    return _act(
        lambda: service.add_to_cart(current_user, rule_id, product_id),
        lambda product: _("%(name)s is added to your cart.", name=product.name),
    )


__all__ = ["bp"]
