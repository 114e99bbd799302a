"""Up-sell and cross-sell (SPEC B4): which rules apply, and acting on one in the cart.

A rule applies to a product when it names the product, or the product's category; it is
active and today is inside its date window. Its suggested product is offered only when the
buyer can have it: active, in the buyer's currency, and in stock or on an open purchase
order (the backorder rule: an order beyond stock waits for stock that is coming; nothing is
coming for a product out of stock with no open purchase order). All rules for any number of
products come in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import aliased, contains_eager

from b2bshop.accounts.models import User
from b2bshop.audit import service as audit
from b2bshop.catalog.models import Product
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

#: Suggestions shown per product, highest priority first.
PER_PRODUCT = 3


class RuleInvalid(DomainError):
    status_code = 422


class SuggestionGone(DomainError):
    """The rule no longer applies (ended, deactivated, out of stock, line removed)."""

    status_code = 409


@dataclass(frozen=True)
class Suggestion:
    rule: SuggestionRule
    #: The product the buyer has (or looks at).
    product_id: int
    suggested: Product

    @property
    def kind(self) -> SuggestionKind:
        return self.rule.kind


def _available(suggested: Any) -> object:
    """SQL: the suggested product can be had (in stock, or stock is on order)."""
    from b2bshop.purchasing.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus

    on_order = exists(
        select(PurchaseOrderLine.id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrderLine.product_id == SuggestionRule.suggested_product_id,
            PurchaseOrder.status == PurchaseOrderStatus.OPEN,
            PurchaseOrderLine.quantity > PurchaseOrderLine.received_quantity,
        )
    )
    return or_(suggested.stock_on_hand > 0, on_order)


def rules_statement(
    products: list[Product], currency: str, today: date, entity_id: int | None = None
) -> Select:
    ids = [p.id for p in products]
    categories = sorted({p.category for p in products if p.category})
    # Aliased here, not at import: aliasing configures the mappers, which must all be known.
    suggested = aliased(Product, name="suggested")
    target = SuggestionRule.product_id.in_(ids)
    if categories:
        target = or_(
            target,
            and_(SuggestionRule.product_id.is_(None), SuggestionRule.category.in_(categories)),
        )
    return (
        select(SuggestionRule)
        .join(suggested, suggested.id == SuggestionRule.suggested_product_id)
        .options(contains_eager(SuggestionRule.suggested_product.of_type(suggested)))
        .where(
            target,
            SuggestionRule.active.is_(True),
            or_(SuggestionRule.valid_from.is_(None), SuggestionRule.valid_from <= today),
            or_(SuggestionRule.valid_to.is_(None), SuggestionRule.valid_to >= today),
            suggested.active.is_(True),
            suggested.currency == currency,
            _available(suggested),
            # The buyer's own catalog only (each legal entity sells its own products).
            *([suggested.legal_entity_id == entity_id] if entity_id is not None else []),
        )
        .order_by(SuggestionRule.priority.desc(), SuggestionRule.id)
    )


def suggestions_for(
    products: Iterable[Product],
    currency: str,
    today: date | None = None,
    *,
    exclude: Iterable[int] = (),
    entity_id: int | None = None,
) -> dict[int, list[Suggestion]]:
    """For each product, its suggestions (at most PER_PRODUCT, highest priority first,
    one per suggested product), leaving out products in `exclude` (already in the cart) and
    the product itself. One query, whatever the number of products."""
    today = today or date.today()
    products = [p for p in products if p is not None]
    found: dict[int, list[Suggestion]] = {p.id: [] for p in products}
    if not products:
        return found
    excluded = set(exclude)
    by_category: dict[str, list[Product]] = {}
    for product in products:
        if product.category:
            by_category.setdefault(product.category, []).append(product)
    statement = rules_statement(products, currency, today, entity_id)
    for rule in db.session.scalars(statement).unique():
        targets = (
            [p for p in products if p.id == rule.product_id]
            if rule.product_id is not None
            else by_category.get(rule.category, [])
        )
        for product in targets:
            shown = found[product.id]
            suggested = rule.suggested_product
            if (
                suggested.id == product.id
                or suggested.id in excluded
                or len(shown) >= PER_PRODUCT
                or any(s.suggested.id == suggested.id for s in shown)
            ):
                continue
            shown.append(Suggestion(rule, product.id, suggested))
    return found


def _applying(user: User, rule_id: int, product: Product, kind: SuggestionKind) -> Suggestion:
    """The rule, if it still applies to the product for this buyer; else a clear 409."""
    rule = db.session.get(SuggestionRule, rule_id)
    if rule is None or rule.kind != kind:
        raise NotFound(_l("This suggestion does not exist."))
    customer = user.customer
    found = suggestions_for([product], customer.currency, entity_id=customer.legal_entity_id)
    for suggestion in found[product.id]:
        if suggestion.rule.id == rule_id:
            return suggestion
    raise SuggestionGone(_l("This suggestion is no longer available. Reload the page."))


def replace_in_cart(user: User, rule_id: int, line_id: int) -> Product:
    """Up-sell: the cart line's product is replaced by the suggested one, its quantity kept.
    Locks follow core/locks.py: the cart first."""
    from b2bshop.cart import service as cart_service

    cart = cart_service.get_cart(user, lock=True)
    line = next((ln for ln in (cart.lines if cart else []) if ln.id == line_id), None)
    if line is None or line.product is None:
        raise NotFound(_l("That line is not in your cart."))
    suggestion = _applying(user, rule_id, line.product, SuggestionKind.UPSELL)
    quantity = line.quantity
    cart_service.remove_line(user, line_id)
    cart_service.add_item(user, suggestion.suggested.sku, quantity)
    audit.record(
        user,
        "suggestion.replace",
        "suggestion_rule",
        rule_id,
        after={"from": line.product.sku, "to": suggestion.suggested.sku, "quantity": quantity},
    )
    return suggestion.suggested


def add_to_cart(user: User, rule_id: int, product_id: int) -> Product:
    """Cross-sell: one unit of the suggested product is added to the cart."""
    from b2bshop.cart import service as cart_service

    cart_service.get_cart(user, lock=True)
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound(_l("This suggestion does not exist."))
    suggestion = _applying(user, rule_id, product, SuggestionKind.CROSS_SELL)
    cart_service.add_item(user, suggestion.suggested.sku, 1)
    return suggestion.suggested


# -- rules (store admins) ----------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    kind: str
    product_id: int | None
    category: str
    suggested_product_id: int | None
    priority: int
    valid_from: date | None
    valid_to: date | None
    note: str
    active: bool


RULE_FIELDS = [
    "kind",
    "product_id",
    "category",
    "suggested_product_id",
    "priority",
    "valid_from",
    "valid_to",
    "note",
    "active",
]


def save_rule(acting_user: User, rule: SuggestionRule | None, data: RuleInput) -> SuggestionRule:
    category = (data.category or "").strip()
    if (data.product_id is None) == (not category):
        raise RuleInvalid(_l("Choose either a product or a category, not both."))
    if data.suggested_product_id is None:
        raise RuleInvalid(_l("Choose the product to suggest."))
    if data.product_id is not None and data.product_id == data.suggested_product_id:
        raise RuleInvalid(_l("A product cannot be suggested for itself."))
    if data.valid_from and data.valid_to and data.valid_from > data.valid_to:
        raise RuleInvalid(_l("The window must end on or after its first day."))
    for product_id in (data.product_id, data.suggested_product_id):
        if product_id is not None and db.session.get(Product, product_id) is None:
            raise RuleInvalid(_l("This product is not for sale."))
    before = audit.snapshot(rule, RULE_FIELDS) if rule is not None else None
    if rule is None:
        rule = SuggestionRule()
        db.session.add(rule)
    rule.kind = SuggestionKind(data.kind)
    rule.product_id = data.product_id
    rule.category = category if data.product_id is None else ""
    rule.suggested_product_id = data.suggested_product_id
    rule.priority = data.priority
    rule.valid_from = data.valid_from
    rule.valid_to = data.valid_to
    rule.note = (data.note or "").strip()[:300]
    rule.active = data.active
    db.session.flush()
    audit.record(
        acting_user,
        "suggestion_rule.save",
        "suggestion_rule",
        rule.id,
        before,
        audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


def delete_rule(acting_user: User, rule: SuggestionRule) -> None:
    audit.record(
        acting_user,
        "suggestion_rule.delete",
        "suggestion_rule",
        rule.id,
        audit.snapshot(rule, RULE_FIELDS),
        None,
    )
    db.session.delete(rule)
    db.session.flush()
