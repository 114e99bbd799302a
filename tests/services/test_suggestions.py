"""Up-sell and cross-sell rules (issue 18): which suggestions a buyer sees."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from b2bshop.accounts.models import Role
from b2bshop.extensions import db
from b2bshop.purchasing.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, Vendor
from b2bshop.suggestions import service
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

TODAY = date(2026, 11, 30)


def _rule(source, target, kind=SuggestionKind.UPSELL, **values) -> SuggestionRule:
    rule = SuggestionRule(
        kind=kind,
        product_id=source.id if source is not None else None,
        category=values.pop("category", ""),
        suggested_product_id=target.id,
        priority=values.pop("priority", 0),
        note=values.pop("note", ""),
        active=values.pop("active", True),
        **values,
    )
    db.session.add(rule)
    db.session.flush()
    return rule


def _shown(products, exclude=()):
    found = service.suggestions_for(products, "EUR", TODAY, exclude=exclude)
    return {pid: [(s.kind.value, s.suggested.sku) for s in shown] for pid, shown in found.items()}


@pytest.fixture
def catalog(app_ctx):
    from tests import factories

    names = ("PEN", "PEN-PRO", "INK", "PAPER", "PAPER-PLUS", "GONE", "USD")
    products = {name: factories.product(name, stock=10) for name in names}
    products["GONE"].stock_on_hand = 0
    products["USD"].currency = "USD"
    products["PAPER"].category = "paper"
    db.session.flush()
    return products


def test_product_and_category_rules_by_priority(catalog):
    p = catalog
    _rule(p["PEN"], p["INK"], SuggestionKind.CROSS_SELL, priority=1)
    _rule(p["PEN"], p["PEN-PRO"], priority=5, note="Lasts twice as long")
    _rule(None, p["PAPER-PLUS"], category="paper")
    shown = _shown([p["PEN"], p["PAPER"], p["INK"]])
    assert shown[p["PEN"].id] == [("upsell", "PEN-PRO"), ("cross_sell", "INK")]
    assert shown[p["PAPER"].id] == [("upsell", "PAPER-PLUS")]
    assert shown[p["INK"].id] == []


def test_window_inactive_currency_and_stock(catalog):
    p = catalog
    _rule(p["PEN"], p["PEN-PRO"], valid_from=TODAY + timedelta(days=1))
    _rule(p["PEN"], p["INK"], SuggestionKind.CROSS_SELL, valid_to=TODAY - timedelta(days=1))
    _rule(p["PEN"], p["PAPER"], SuggestionKind.CROSS_SELL, active=False)
    _rule(p["PEN"], p["USD"], SuggestionKind.CROSS_SELL)  # the buyer's currency does not sell it
    gone = _rule(p["PEN"], p["GONE"], SuggestionKind.CROSS_SELL)  # no stock, nothing coming
    assert _shown([p["PEN"]])[p["PEN"].id] == []
    # Stock on an open purchase order: an order for it waits on backorder; it is offered.
    vendor = Vendor(number="V-1", name="Vendor")
    order = PurchaseOrder(
        number="PO-1", vendor=vendor, status=PurchaseOrderStatus.OPEN, order_date=TODAY
    )
    order.lines.append(
        PurchaseOrderLine(
            line_no=1, product_id=p["GONE"].id, quantity=5, expected_date=TODAY, received_quantity=0
        )
    )
    db.session.add(order)
    db.session.flush()
    assert _shown([p["PEN"]])[p["PEN"].id] == [("cross_sell", "GONE")]
    order.lines[0].received_quantity = 5  # all of it came (and went): nothing coming any more
    db.session.flush()
    assert _shown([p["PEN"]])[p["PEN"].id] == []
    assert gone.id


def test_what_is_in_the_cart_is_not_suggested(catalog):
    p = catalog
    _rule(p["PEN"], p["INK"], SuggestionKind.CROSS_SELL)
    _rule(p["PEN"], p["PEN-PRO"])
    shown = _shown([p["PEN"], p["INK"]], exclude={p["PEN"].id, p["INK"].id})
    assert shown[p["PEN"].id] == [("upsell", "PEN-PRO")]


def test_rule_validation(catalog):
    from tests import factories

    admin = factories.user(role=Role.STORE_ADMIN)
    p = catalog

    def data(**values):
        base = dict(
            kind="upsell",
            product_id=p["PEN"].id,
            category="",
            suggested_product_id=p["PEN-PRO"].id,
            priority=1,
            valid_from=None,
            valid_to=None,
            note="",
            active=True,
        )
        return service.RuleInput(**{**base, **values})

    for bad in (
        data(category="paper"),
        data(product_id=None),
        data(suggested_product_id=p["PEN"].id),
        data(suggested_product_id=None),
        data(valid_from=TODAY, valid_to=TODAY - timedelta(days=1)),
        data(product_id=2_000_000_000),
    ):
        with pytest.raises(service.RuleInvalid):
            service.save_rule(admin, None, bad)
    rule = service.save_rule(admin, None, data(note="  Better  "))
    assert rule.note == "Better" and rule.kind == SuggestionKind.UPSELL
    rule = service.save_rule(admin, rule, data(product_id=None, category="paper"))
    assert rule.product_id is None and rule.category == "paper"


def test_deleting_products_with_rules_or_quotations(catalog):
    from b2bshop.catalog import service as catalog_service
    from b2bshop.quotations import service as quotations
    from b2bshop.quotations.service import QuoteLineInput
    from tests import factories

    admin = factories.user(role=Role.STORE_ADMIN)
    p = catalog
    rule = _rule(p["PEN"], p["PEN-PRO"])
    rule_id = rule.id
    catalog_service.delete_product(admin, p["PEN-PRO"])  # its rule goes with it
    db.session.expire_all()
    assert db.session.get(SuggestionRule, rule_id) is None
    quotation = quotations.create_draft(admin, factories.customer())
    quotations.save_quotation(
        admin, quotation, [QuoteLineInput(p["INK"].id, 1, None)], valid_until=None, note=""
    )
    with pytest.raises(catalog_service.ProductInUse) as refused:
        catalog_service.delete_product(admin, p["INK"])
    assert "on quotations" in str(refused.value.message)
