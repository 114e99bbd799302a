"""The one pricing service: list price, trade agreements (customer and group, quantity
breaks, date windows), sales agreements (effective only, inside validity), in one batch."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from b2bshop.agreements import service as agreements
from b2bshop.agreements.models import AgreementStatus
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.pricing.service import PriceRequest, PriceSource, price_for, price_lines
from b2bshop.sales import service as sales
from tests import factories
from tests.web.test_query_counts import count_queries

TODAY = date(2026, 11, 30)


def _admin():
    from b2bshop.accounts.models import Role

    return factories.user(role=Role.STORE_ADMIN)


def _sales_agreement(admin, customer, product, *, discount=None, price=None, status="effective",
                     valid_from=TODAY, valid_to=TODAY + timedelta(days=30)):  # fmt: skip
    agreement = agreements.create_sales_agreement(
        admin,
        agreements.SalesAgreementInput(customer.id, "product_quantity", valid_from, valid_to),
    )
    agreements.set_agreement_line(
        admin,
        agreement.id,
        agreements.AgreementLineInput(
            product.id,
            unit_price=Decimal(price) if price else None,
            discount_percent=Decimal(discount) if discount else None,
            committed_quantity=100,
        ),
    )
    if status != "on_hold":
        agreements.change_status(admin, agreement.id, "effective")
    if status == "closed":
        agreements.change_status(admin, agreement.id, "closed")
    return agreement


def test_list_price_without_agreements(app_ctx):
    customer = factories.customer()
    product = factories.product(price="10.00")
    price = price_for(customer, product, 3, TODAY)
    assert price.unit.amount == Decimal("10.00") and price.unit.currency == "EUR"
    assert price.source == PriceSource.LIST and price.amount.amount == Decimal("30.00")
    assert price.label == "List price"


def test_trade_agreement_quantity_breaks_and_window(app_ctx):
    admin = _admin()
    customer = factories.customer()
    product = factories.product(price="10.00")
    for qty, unit in ((10, "9.00"), (50, "8.00")):
        agreements.create_trade_agreement(
            admin,
            agreements.TradeAgreementInput(
                product.id, customer_id=customer.id, min_quantity=qty, unit_price=Decimal(unit)
            ),
        )
    agreements.create_trade_agreement(
        admin,
        agreements.TradeAgreementInput(
            product.id,
            customer_id=customer.id,
            discount_percent=Decimal("50"),
            valid_from=TODAY + timedelta(days=10),
        ),
    )
    assert price_for(customer, product, 9, TODAY).unit.amount == Decimal("10.00")
    assert price_for(customer, product, 10, TODAY).unit.amount == Decimal("9.00")
    fifty = price_for(customer, product, 50, TODAY)
    assert fifty.unit.amount == Decimal("8.00") and fifty.source == PriceSource.TRADE_AGREEMENT
    assert fifty.label == f"Trade agreement {fifty.reference}: −20%"
    # The 50 % discount's window opens in ten days: then it is the lowest price.
    assert price_for(customer, product, 1, TODAY + timedelta(days=10)).unit.amount == Decimal(
        "5.00"
    )
    # Another customer gets none of it.
    assert price_for(factories.customer(), product, 50, TODAY).source == PriceSource.LIST


def test_group_trade_agreement_applies_to_members_only(app_ctx):
    admin = _admin()
    member, outsider = factories.customer(), factories.customer()
    product = factories.product(price="20.00")
    group = agreements.create_customer_group(admin, "wholesale", "Wholesale", [member.id])
    agreements.create_trade_agreement(
        admin,
        agreements.TradeAgreementInput(
            product.id, customer_group_id=group.id, discount_percent=Decimal("10")
        ),
    )
    assert price_for(member, product, 1, TODAY).unit.amount == Decimal("18.00")
    assert price_for(outsider, product, 1, TODAY).unit.amount == Decimal("20.00")


@pytest.mark.parametrize(
    ("status", "day", "applies"),
    [
        ("effective", TODAY, True),
        ("effective", TODAY + timedelta(days=30), True),
        ("effective", TODAY + timedelta(days=31), False),
        ("effective", TODAY - timedelta(days=1), False),
        ("on_hold", TODAY, False),
        ("closed", TODAY, False),
    ],
)
def test_sales_agreement_prices_only_while_effective_and_valid(app_ctx, status, day, applies):
    admin = _admin()
    customer = factories.customer()
    product = factories.product(price="100.00")
    agreements.create_trade_agreement(
        admin,
        agreements.TradeAgreementInput(
            product.id, customer_id=customer.id, discount_percent=Decimal("5")
        ),
    )
    agreement = _sales_agreement(admin, customer, product, discount="8", status=status)
    price = price_for(customer, product, 1, day)
    if applies:
        # It overrides the trade agreement, even though 5 % off would be... also lower than list.
        assert price.unit.amount == Decimal("92.00")
        assert price.source == PriceSource.SALES_AGREEMENT
        assert price.label == f"Agreement {agreement.number}: −8%"
    else:
        assert price.source == PriceSource.TRADE_AGREEMENT
        assert price.unit.amount == Decimal("95.00")


def test_sales_agreement_overrides_a_lower_trade_price(app_ctx):
    admin = _admin()
    customer = factories.customer()
    product = factories.product(price="100.00")
    agreements.create_trade_agreement(
        admin,
        agreements.TradeAgreementInput(
            product.id, customer_id=customer.id, unit_price=Decimal("50.00")
        ),
    )
    _sales_agreement(admin, customer, product, price="90.00")
    assert price_for(customer, product, 1, TODAY).unit.amount == Decimal("90.00")


def test_labels_are_translated(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("fr"):
        from b2bshop.pricing.service import price_label

        label = price_label(PriceSource.SALES_AGREEMENT, "SA-000012", Decimal("92"), Decimal("100"))
        assert label.startswith("Contrat SA-000012\u00a0:")
        assert "−8" in label


def test_fifty_lines_cost_a_constant_number_of_queries(app):
    with app.app_context():
        admin = _admin()
        customer = factories.customer()
        products = [factories.product(price=f"{10 + n}.00") for n in range(50)]
        for p in products[::2]:
            agreements.create_trade_agreement(
                admin,
                agreements.TradeAgreementInput(
                    p.id, customer_id=customer.id, discount_percent=Decimal("10")
                ),
            )
        _sales_agreement(admin, customer, products[1], discount="20")
        db.session.commit()
        # The products come in loaded (the cart loads them with its lines): one query here.
        products = db.session.scalars(
            select(Product).where(Product.id.in_([p.id for p in products])).order_by(Product.id)
        ).all()
        customer.name  # noqa: B018  (loaded before counting)
        requests = [PriceRequest(p, 2) for p in products]
        with count_queries(app) as one:
            price_lines(customer, requests[:1], TODAY)
        with count_queries(app) as fifty:
            prices = price_lines(customer, requests, TODAY)
        assert len(one) == len(fifty) == 2
        assert prices[0].source == PriceSource.TRADE_AGREEMENT
        assert prices[1].source == PriceSource.SALES_AGREEMENT
        assert prices[3].source == PriceSource.LIST


def test_place_order_charges_the_agreement_price_and_records_its_source(app_ctx):
    admin = _admin()
    customer = factories.customer()
    buyer = factories.user(customer=customer)
    product = factories.product(price="100.00", stock=10)
    agreement = _sales_agreement(admin, customer, product, discount="8")
    order = sales.place_order(
        buyer,
        customer,
        [sales.OrderLineInput(product.id, 2)],
        today=TODAY,
        requested_ship_date=TODAY + timedelta(days=3),
        confirm=True,
    )
    line = order.lines[0]
    assert line.unit_price == Decimal("92.00") and line.amount == Decimal("184.00")
    assert order.total == Decimal("184.00")
    assert line.price_source == "sales_agreement" and line.price_reference == agreement.number
    assert line.list_price == Decimal("100.00")
    assert order.requested_ship_date == TODAY + timedelta(days=3)
    ful = agreements.fulfilment(agreement)
    assert ful.lines[0].released_quantity == 2
    assert ful.lines[0].released_amount == Decimal("184.00")
    assert ful.lines[0].percent == 2
    # Shipped after the validity: the list price.
    late = sales.place_order(
        buyer,
        customer,
        [sales.OrderLineInput(product.id, 1)],
        today=TODAY,
        requested_ship_date=TODAY + timedelta(days=60),
    )
    assert late.lines[0].unit_price == Decimal("100.00")
    assert late.lines[0].price_source == "list"


def test_a_fixed_price_is_kept_and_named(app_ctx):
    customer = factories.customer()
    buyer = factories.user(customer=customer)
    product = factories.product(price="100.00")
    order = sales.place_order(
        buyer,
        customer,
        [sales.OrderLineInput(product.id, 1, Decimal("70.00"), price_reference="QU-000001")],
        today=TODAY,
    )
    assert order.lines[0].unit_price == Decimal("70.00")
    assert order.lines[0].price_source == "fixed"
    assert order.lines[0].price_label == "Quoted price (QU-000001)"


def test_cancelled_orders_do_not_count_as_released(app_ctx):
    admin = _admin()
    customer = factories.customer()
    buyer = factories.user(customer=customer)
    product = factories.product(price="10.00")
    agreement = _sales_agreement(admin, customer, product, price="9.00")
    order = sales.place_order(buyer, customer, [sales.OrderLineInput(product.id, 5)], today=TODAY)
    assert agreements.fulfilment(agreement).lines[0].released_quantity == 5
    sales.cancel_order(admin, order)
    assert agreements.fulfilment(agreement).lines[0].released_quantity == 0
    assert agreement.status == AgreementStatus.EFFECTIVE
