"""Products: the catalog as buyers search it, and the back office's create, edit,
deactivate, and delete only what nothing uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select

from b2bshop.accounts.models import User
from b2bshop.cart.models import CartLine
from b2bshop.catalog.models import Product
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.pricing.service import Price, PriceRequest, price_lines
from b2bshop.sales.models import SalesOrderLine


def search_products(
    query: str | None, limit: int = 100, *, legal_entity_id: int | None = None
) -> list[Product]:
    """Active products, of one entity's catalog when `legal_entity_id` is given."""
    stmt = select(Product).where(Product.active.is_(True))
    if legal_entity_id is not None:
        stmt = stmt.where(Product.legal_entity_id == legal_entity_id)
    if query:
        pattern = f"%{query.strip()}%"
        stmt = stmt.where(or_(Product.name.ilike(pattern), Product.sku.ilike(pattern)))
    return list(db.session.scalars(stmt.order_by(Product.name).limit(limit)))


def catalog_prices(user: User, products: list[Product], on: date | None = None) -> dict[int, Price]:
    """Each product's price for the user's customer (one unit, today), in one batch: the
    catalog shows what the cart will charge. A store admin sees list prices."""
    prices = price_lines(user.customer, [PriceRequest(p) for p in products], on)
    return {price.product_id: price for price in prices}


class ProductInvalid(DomainError):
    pass


class ProductInUse(DomainError):
    status_code = 409


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    price: Decimal
    currency: str
    stock_on_hand: int
    tax_rate: Decimal
    active: bool = True
    description: str = ""
    #: Groups products for up-sell and cross-sell rules (suggestions/).
    category: str = ""


def save_product(
    acting_user: User,
    product: Product | None,
    data: ProductInput,
    *,
    legal_entity_id: int | None = None,
) -> Product:
    """Create or edit a product of one entity's catalog (`legal_entity_id`: the admin's
    entity; the first entity when None). A SKU is unique within its entity."""
    sku = data.sku.strip().upper()
    if not sku or not data.name.strip():
        raise ProductInvalid(_l("A product needs a SKU and a name."))
    if data.price < 0 or data.stock_on_hand < 0 or not (0 <= data.tax_rate < 100):
        raise ProductInvalid(
            _l("Price and stock cannot be negative, and the tax rate is under 100.")
        )
    if product is None and legal_entity_id is None:
        from b2bshop.entities.service import default_entity_id

        legal_entity_id = default_entity_id()
    entity_id = product.legal_entity_id if product is not None else legal_entity_id
    clash = select(Product.id).where(
        func.upper(Product.sku) == sku, Product.legal_entity_id == entity_id
    )
    if product is not None:
        clash = clash.where(Product.id != product.id)
    if db.session.scalar(clash) is not None:
        raise ProductInvalid(_l("Another product has the SKU %(sku)s.", sku=sku))
    if product is None:
        product = Product(legal_entity_id=entity_id)
        db.session.add(product)
    product.sku = sku
    product.name = data.name.strip()
    product.description = (data.description or "").strip()
    product.price = data.price
    product.currency = data.currency
    product.stock_on_hand = data.stock_on_hand
    product.tax_rate = data.tax_rate
    product.active = data.active
    product.category = (data.category or "").strip()[:60]
    db.session.flush()
    return product


def delete_product(acting_user: User, product: Product) -> None:
    """Only a product no order or cart ever used; otherwise deactivate it."""
    used = db.session.scalar(
        select(
            exists().where(SalesOrderLine.product_id == product.id)
            | exists().where(CartLine.product_id == product.id)
        )
    )
    if used:
        raise ProductInUse(
            _l("%(sku)s is on orders or in carts: deactivate it instead.", sku=product.sku)
        )
    from b2bshop.quotations.models import QuotationLine

    if db.session.scalar(select(exists().where(QuotationLine.product_id == product.id))):
        raise ProductInUse(_l("%(sku)s is on quotations: deactivate it instead.", sku=product.sku))
    db.session.delete(product)
    db.session.flush()
