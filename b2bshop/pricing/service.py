"""The one pricing service: what a product costs a customer, for a quantity, on a date.

Every place a price is shown or charged asks here: the catalog, the cart, quotations' default
price and order placement (sales.service.place_order). The rules, in order:

1. an *effective* sales agreement of the customer, valid on the date (the requested ship
   date), with a line for the product, overrides everything else;
2. otherwise the lowest price of the trade agreements that apply: for the customer or one of
   its customer groups, the quantity at least the agreement's quantity break, the date
   inside its window;
3. otherwise the product's list price.

Two effective sales agreements covering the same product and date: the lower price wins.
`price_lines` prices any number of lines in a constant number of queries (two: sales
agreement lines, trade agreements; the products come in loaded).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.numbers import format_percent
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from b2bshop.accounts.models import Customer
from b2bshop.agreements.models import (
    AgreementStatus,
    CustomerGroupMember,
    SalesAgreement,
    SalesAgreementLine,
    TradeAgreement,
)
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.money import Money, quantize

HUNDRED = Decimal(100)


class PriceSource(enum.StrEnum):
    LIST = "list"
    TRADE_AGREEMENT = "trade_agreement"
    SALES_AGREEMENT = "sales_agreement"
    #: Fixed before the order (a quotation's quoted price).
    FIXED = "fixed"


@dataclass(frozen=True)
class PriceRequest:
    product: Product
    quantity: int = 1


@dataclass(frozen=True)
class Price:
    """A unit price with where it came from."""

    product_id: int
    quantity: int
    unit: Money
    list_price: Money
    source: PriceSource
    #: "SA-000012", "TA-000003", a quotation number, or None for the list price.
    reference: str | None = None
    #: The sales agreement line that priced it: its fulfilment counts the order line.
    sales_agreement_line_id: int | None = None

    @property
    def amount(self) -> Money:
        """The line amount: unit price times quantity, rounded once."""
        return Money(
            quantize(self.unit.amount * self.quantity, self.unit.currency), self.unit.currency
        )

    @property
    def label(self) -> str:
        return price_label(self.source, self.reference, self.unit.amount, self.list_price.amount)


def percent_change(unit_price: Decimal, list_price: Decimal) -> str:
    """'-8 %' or '+3 %' in the user's locale, with a real minus sign (U+2212); one decimal,
    so an 8 % discount whose price was rounded to the cent still reads 8 %."""
    if not list_price:
        return ""
    change = (unit_price - list_price) / list_price
    text = format_percent(abs(change), format="#,##0.#%", locale=get_locale())
    sign = "\u2212" if change < 0 else "+" if change > 0 else "±"
    return f"{sign}{text}"


def price_label(
    source: PriceSource | str | None,
    reference: str | None,
    unit_price: Decimal,
    list_price: Decimal | None,
) -> str:
    """Where a price came from, for the cart and the order line: "Agreement SA-000012: -8 %"."""
    if source in (None, PriceSource.LIST):
        return str(_l("List price"))
    change = percent_change(unit_price, list_price) if list_price is not None else ""
    if source == PriceSource.SALES_AGREEMENT:
        return str(_l("Agreement %(number)s: %(change)s", number=reference, change=change))
    if source == PriceSource.TRADE_AGREEMENT:
        return str(_l("Trade agreement %(number)s: %(change)s", number=reference, change=change))
    if reference:
        return str(_l("Quoted price (%(number)s)", number=reference))
    return str(_l("Quoted price"))


def _net(
    list_price: Decimal, unit_price: Decimal | None, discount: Decimal | None, cur: str
) -> Decimal:
    if unit_price is not None:
        return unit_price
    return quantize(list_price * (HUNDRED - (discount or Decimal(0))) / HUNDRED, cur)


def price_lines(
    customer: Customer | None, requests: Sequence[PriceRequest], on: date | None = None
) -> list[Price]:
    """Price each request for `customer` on `on` (the requested ship date; today if None).

    Constant queries whatever the number of lines. A customer of None (a store admin looking
    at the catalog) gets list prices.
    """
    on = on or date.today()
    product_ids = sorted({r.product.id for r in requests})
    agreement_lines: dict[int, list[tuple[SalesAgreement, SalesAgreementLine]]] = {}
    trade: dict[int, list[TradeAgreement]] = {}
    if customer is not None and product_ids:
        rows = db.session.execute(
            select(SalesAgreement, SalesAgreementLine)
            .join(SalesAgreementLine, SalesAgreementLine.agreement_id == SalesAgreement.id)
            .where(
                SalesAgreement.customer_id == customer.id,
                SalesAgreement.status == AgreementStatus.EFFECTIVE,
                SalesAgreement.valid_from <= on,
                SalesAgreement.valid_to >= on,
                SalesAgreementLine.product_id.in_(product_ids),
            )
            .order_by(SalesAgreement.id)
        ).all()
        for agreement, line in rows:
            agreement_lines.setdefault(line.product_id, []).append((agreement, line))
        groups = select(CustomerGroupMember.group_id).where(
            CustomerGroupMember.customer_id == customer.id
        )
        for ta in db.session.scalars(
            select(TradeAgreement)
            .where(
                TradeAgreement.product_id.in_(product_ids),
                or_(
                    TradeAgreement.customer_id == customer.id,
                    TradeAgreement.customer_group_id.in_(groups),
                ),
                or_(TradeAgreement.valid_from.is_(None), TradeAgreement.valid_from <= on),
                or_(TradeAgreement.valid_to.is_(None), TradeAgreement.valid_to >= on),
            )
            .order_by(TradeAgreement.id)
        ):
            trade.setdefault(ta.product_id, []).append(ta)
    return [_price_one(r, agreement_lines, trade) for r in requests]


def _price_one(
    request: PriceRequest,
    agreement_lines: dict[int, list[tuple[SalesAgreement, SalesAgreementLine]]],
    trade: dict[int, list[TradeAgreement]],
) -> Price:
    product = request.product
    cur = product.currency
    list_price = Money(product.price, cur)
    best: Price | None = None
    for agreement, line in agreement_lines.get(product.id, []):
        if agreement.currency != cur:
            continue
        unit = _net(product.price, line.unit_price, line.discount_percent, cur)
        if best is None or unit < best.unit.amount:
            best = Price(
                product.id,
                request.quantity,
                Money(unit, cur),
                list_price,
                PriceSource.SALES_AGREEMENT,
                agreement.number,
                line.id,
            )
    if best is not None:
        return best
    for ta in trade.get(product.id, []):
        if ta.currency != cur or request.quantity < ta.min_quantity:
            continue
        unit = _net(product.price, ta.unit_price, ta.discount_percent, cur)
        if unit < (best.unit.amount if best else product.price):
            best = Price(
                product.id,
                request.quantity,
                Money(unit, cur),
                list_price,
                PriceSource.TRADE_AGREEMENT,
                ta.reference,
            )
    if best is not None:
        return best
    return Price(product.id, request.quantity, list_price, list_price, PriceSource.LIST)


def price_for(
    customer: Customer | None, product: Product, quantity: int = 1, on: date | None = None
) -> Price:
    """The price of one product: price_lines for a single line."""
    return price_lines(customer, [PriceRequest(product, quantity)], on)[0]
