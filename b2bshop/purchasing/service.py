"""Vendors, purchase orders, receipts and backorder allocation (SPEC B7).

Stock model (README, "Orders and stock"): `products.stock_on_hand` is free stock; a confirmed
sales order line's units are either reserved for it (allocated, the next packing slip
delivers them) or on backorder. So at any time

    sum(stock_on_hand) + sum(reserved) = stock at start + receipts - deliveries

A receipt allocates what it brings to waiting backorders first, oldest requested ship date
first (an admin's priority before that); what is left goes on hand. An admin can also split
on-hand stock between waiting lines. Locks (core/locks.py): the purchase order, then the
waiting sales orders, then the products, then the number sequences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import contains_eager

from b2bshop.accounts.models import User
from b2bshop.accounts.service import valid_email
from b2bshop.audit import service as audit
from b2bshop.catalog.models import Product
from b2bshop.core.locks import lock_rows
from b2bshop.entities.service import default_entity_id
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.numbering import next_number
from b2bshop.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
    Vendor,
)
from b2bshop.sales.models import OrderStatus, OrderType, SalesOrder, SalesOrderLine

MAX_QUANTITY = 999_999
#: An expected date at most this many days ahead (and not before the order date).
MAX_EXPECTED_DAYS = 3660


class PurchasingInvalid(DomainError):
    pass


class PurchasingConflict(DomainError):
    status_code = 409


# --- vendors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorInput:
    name: str
    email: str = ""
    active: bool = True
    idempotency_key: str | None = None


class AlreadyCreated(DomainError):
    """A double submit: the first one made it. Carries what it made."""

    status_code = 409

    def __init__(self, message: object, row: object) -> None:
        super().__init__(message)
        self.row = row


def save_vendor(
    acting_user: User,
    vendor: Vendor | None,
    data: VendorInput,
    *,
    legal_entity_id: int | None = None,
) -> Vendor:
    """`legal_entity_id`: the entity a new vendor belongs to (the default entity if None)."""
    name = (data.name or "").strip()
    if not name:
        raise PurchasingInvalid(_l("A vendor needs a name."))
    email = (data.email or "").strip()
    if email:
        email = valid_email(email)  # refuses a malformed address with its own message
    if vendor is None:
        # The sequence row serializes creators: a double submit waits here, then finds the
        # first vendor (and rolls back, so the number is not spent).
        entity_id = legal_entity_id or default_entity_id()
        number = next_number("vendor", entity_id)
        if data.idempotency_key:
            existing = db.session.scalar(
                select(Vendor).where(Vendor.idempotency_key == data.idempotency_key)
            )
            if existing is not None:
                raise AlreadyCreated(
                    _l("Vendor %(number)s is saved.", number=existing.number), existing
                )
        vendor = Vendor(
            number=number, idempotency_key=data.idempotency_key, legal_entity_id=entity_id
        )
        db.session.add(vendor)
    vendor.name = name
    vendor.email = email
    vendor.active = data.active
    db.session.flush()
    return vendor


# --- purchase orders --------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseLineInput:
    product_id: int
    quantity: int
    expected_date: date


def create_purchase_order(
    acting_user: User,
    vendor_id: int,
    lines: list[PurchaseLineInput],
    today: date | None = None,
    idempotency_key: str | None = None,
) -> PurchaseOrder:
    """A purchase order; the vendor's row is locked first, so a double submit (same key)
    waits, then gets the first order back."""
    today = today or date.today()
    vendor = lock_rows(Vendor, [vendor_id]).get(vendor_id)
    if vendor is None or not vendor.active:
        raise PurchasingInvalid(_l("Choose an active vendor."))
    if idempotency_key:
        existing = db.session.scalar(
            select(PurchaseOrder).where(PurchaseOrder.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing
    lines = [line for line in lines if line.quantity]
    if not lines:
        raise PurchasingInvalid(_l("Add at least one line with a quantity."))
    products = {
        p.id: p
        for p in db.session.scalars(
            # The vendor's entity buys for its own catalog (issue 20).
            select(Product).where(
                Product.id.in_([line.product_id for line in lines]),
                Product.legal_entity_id == vendor.legal_entity_id,
            )
        )
    }
    order = PurchaseOrder(
        vendor=vendor,
        status=PurchaseOrderStatus.OPEN,
        order_date=today,
        created_by_id=acting_user.id,
        idempotency_key=idempotency_key,
    )
    for line_no, line in enumerate(lines, start=1):
        if line.product_id not in products:
            raise PurchasingInvalid(_l("Choose a product for each line."))
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise PurchasingInvalid(
                _l("Quantities must be whole numbers from 1 to %(max)s.", max=MAX_QUANTITY)
            )
        if line.expected_date is None or line.expected_date < today:
            raise PurchasingInvalid(_l("Each line needs an expected date, today or later."))
        if (line.expected_date - today).days > MAX_EXPECTED_DAYS:
            raise PurchasingInvalid(_l("An expected date is at most ten years ahead."))
        order.lines.append(
            PurchaseOrderLine(
                line_no=line_no,
                product=products[line.product_id],
                quantity=line.quantity,
                expected_date=line.expected_date,
                received_quantity=0,
            )
        )
    order.number = next_number("purchase_order", vendor.legal_entity_id)
    db.session.add(order)
    db.session.flush()
    audit.record(
        acting_user,
        "purchase_order.create",
        "purchase_order",
        order.number,
        after={"vendor": vendor.number, "lines": len(order.lines)},
    )
    return order


def cancel_purchase_order(acting_user: User, order_id: int) -> PurchaseOrder:
    order = lock_rows(PurchaseOrder, [order_id]).get(order_id)
    if order is None:
        raise NotFound(_l("There is no such purchase order."))
    if order.status != PurchaseOrderStatus.OPEN or order.receipts:
        raise PurchasingConflict(
            _l("Only an open purchase order with nothing received can be cancelled.")
        )
    order.status = PurchaseOrderStatus.CANCELLED
    db.session.flush()
    return order


# --- allocation -------------------------------------------------------------------------


def _waiting_query(product_ids: Iterable[int]) -> Select:
    """Confirmed sales order lines still waiting for stock, in allocation order: an admin's
    priority first (lower first), then the oldest requested ship date (the order date when
    none was asked), then the oldest order."""
    waiting_since = func.coalesce(SalesOrder.requested_ship_date, SalesOrder.order_date)
    return (
        select(SalesOrderLine)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(
            SalesOrderLine.product_id.in_(sorted(set(product_ids))),
            SalesOrderLine.backorder_quantity > 0,
            SalesOrder.status == OrderStatus.CONFIRMED,
            SalesOrder.order_type != OrderType.RETURNED_ORDER,
        )
        .order_by(
            case((SalesOrderLine.allocation_priority.is_(None), 1), else_=0),
            SalesOrderLine.allocation_priority,
            waiting_since,
            SalesOrder.id,
            SalesOrderLine.id,
        )
    )


def _lock_waiting(product_ids: Iterable[int]) -> tuple[dict[int, Product], list[SalesOrderLine]]:
    """Step 3 then step 4 of the lock order: the sales orders of the waiting lines, then the
    products; the waiting lines read again under those locks. A line whose order was
    confirmed after we looked waits for the next receipt (its order is not locked here)."""
    product_ids = sorted(set(product_ids))
    order_ids = db.session.scalars(
        select(SalesOrderLine.order_id).where(
            SalesOrderLine.id.in_(_waiting_query(product_ids).with_only_columns(SalesOrderLine.id))
        )
    ).all()
    lock_rows(SalesOrder, order_ids)
    products = lock_rows(Product, product_ids)
    locked = set(order_ids)
    lines = [
        line
        for line in db.session.scalars(
            _waiting_query(product_ids).execution_options(populate_existing=True)
        )
        if line.order_id in locked
    ]
    return products, lines


@dataclass(frozen=True)
class Allocated:
    order_line_id: int
    quantity: int


def _allocate(product: Product, quantity: int, waiting: list[SalesOrderLine]) -> list[Allocated]:
    """Give `quantity` new units of `product` to its waiting lines in order."""
    result = []
    for line in waiting:
        if quantity <= 0:
            break
        if line.product_id != product.id or line.backorder_quantity <= 0:
            continue
        take = min(quantity, line.backorder_quantity)
        line.backorder_quantity -= take
        quantity -= take
        result.append(Allocated(line.id, take))
    return result


def receive(
    acting_user: User,
    order_id: int,
    quantities: dict[int, int],
    today: date | None = None,
    receipts_seen: int | None = None,
) -> Receipt:
    """Post a receipt: each line's units go to waiting backorders first, then on hand."""
    today = today or date.today()
    order = lock_rows(PurchaseOrder, [order_id]).get(order_id)
    if order is None:
        raise NotFound(_l("There is no such purchase order."))
    db.session.expire(order, ["receipts", "lines"])
    if receipts_seen is not None and receipts_seen != len(order.receipts):
        raise PurchasingConflict(
            _l(
                "A receipt was posted for this purchase order meanwhile: check the quantities "
                "again."
            )
        )
    if order.status != PurchaseOrderStatus.OPEN:
        raise PurchasingConflict(_l("Only an open purchase order can be received."))
    lines = {line.id: line for line in order.lines}
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise PurchasingInvalid(_l("Enter a quantity received on at least one line."))
    for line_id, qty in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise PurchasingInvalid(_l("This line is not on the purchase order."))
        if qty < 0 or qty > line.receive_remainder:
            raise PurchasingInvalid(
                _l(
                    "Line %(line)s: receive between 0 and %(remainder)s.",
                    line=line.line_no,
                    remainder=line.receive_remainder,
                )
            )
    products, waiting = _lock_waiting(lines[line_id].product_id for line_id in wanted)
    receipt = Receipt(receipt_date=today, created_by_id=acting_user.id)
    allocations: list[Allocated] = []
    for line_id, qty in sorted(wanted.items()):
        line = lines[line_id]
        product = products[line.product_id]
        given = _allocate(product, qty, waiting)
        allocated = sum(a.quantity for a in given)
        allocations.extend(given)
        product.stock_on_hand += qty - allocated
        line.received_quantity += qty
        receipt.lines.append(
            ReceiptLine(purchase_order_line=line, quantity=qty, allocated_quantity=allocated)
        )
    if order.receive_remainder == 0:
        order.status = PurchaseOrderStatus.RECEIVED
    receipt.number = next_number("receipt", order.legal_entity_id)
    receipt.purchase_order = order
    db.session.add(receipt)
    db.session.flush()
    audit.record(
        acting_user,
        "receipt.post",
        "receipt",
        receipt.number,
        after={
            "purchase_order": order.number,
            "allocated": {str(a.order_line_id): a.quantity for a in allocations},
        },
    )
    return receipt


def allocate_stock(
    acting_user: User,
    product_id: int,
    allocations: dict[int, int],
    priorities: dict[int, int | None] | None = None,
    stock_seen: int | None = None,
) -> list[Allocated]:
    """An admin splits on-hand stock of one product between waiting lines (and may set
    their priority for the next receipt). Saved as each line's reserved quantity: the next
    packing slip delivers it. `stock_seen` is the on-hand stock the admin's page showed."""
    wanted = {line_id: qty for line_id, qty in allocations.items() if qty}
    if any(qty < 0 for qty in wanted.values()):
        raise PurchasingInvalid(_l("Quantities must be whole numbers greater than zero."))
    priorities = priorities or {}
    products, waiting = _lock_waiting([product_id])
    product = products.get(product_id)
    if product is None:
        raise NotFound(_l("There is no such product."))
    by_id = {line.id: line for line in waiting}
    for line_id in list(wanted) + list(priorities):
        if line_id not in by_id:
            raise PurchasingConflict(
                _l("An order line of this product is no longer waiting: reload the page.")
            )
    if stock_seen is not None and stock_seen != product.stock_on_hand:
        raise PurchasingConflict(
            _l(
                "Stock of %(sku)s changed meanwhile: %(count)s on hand now. Check the split again.",
                sku=product.sku,
                count=product.stock_on_hand,
            )
        )
    if sum(wanted.values()) > product.stock_on_hand:
        raise PurchasingInvalid(
            _l(
                "Only %(count)s of %(sku)s on hand: allocate fewer.",
                count=product.stock_on_hand,
                sku=product.sku,
            )
        )
    result = []
    for line_id, qty in sorted(wanted.items()):
        line = by_id[line_id]
        if qty > line.backorder_quantity:
            raise PurchasingInvalid(
                _l(
                    "Order %(number)s waits for %(count)s: allocate at most that.",
                    number=line.order.number,
                    count=line.backorder_quantity,
                )
            )
        line.backorder_quantity -= qty
        product.stock_on_hand -= qty
        result.append(Allocated(line_id, qty))
    for line_id, priority in priorities.items():
        by_id[line_id].allocation_priority = priority
    db.session.flush()
    audit.record(
        acting_user,
        "stock.allocate",
        "product",
        product.sku,
        after={
            "allocated": {str(a.order_line_id): a.quantity for a in result},
            "priorities": {str(k): v for k, v in priorities.items()},
        },
    )
    return result


# --- what buyers and the backorder list see -----------------------------------------------


def expected_dates(product_ids: Iterable[int]) -> dict[int, date | None]:
    """For every waiting order line of these products: the expected date of the purchase
    order line whose units reach it, walking the waiting lines in allocation order against
    open purchase order lines by expected date. Two queries whatever the number of lines;
    None when nothing on order covers it yet."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    waiting = db.session.execute(
        _waiting_query(ids).with_only_columns(
            SalesOrderLine.id, SalesOrderLine.product_id, SalesOrderLine.backorder_quantity
        )
    ).all()
    supply: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for product_id, expected, remainder in db.session.execute(
        select(
            PurchaseOrderLine.product_id,
            PurchaseOrderLine.expected_date,
            PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrderLine.product_id.in_(ids),
            PurchaseOrder.status == PurchaseOrderStatus.OPEN,
            PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
        )
        .order_by(PurchaseOrderLine.expected_date, PurchaseOrderLine.id)
    ):
        supply[product_id].append((expected, remainder))
    demand: dict[int, int] = defaultdict(int)
    result: dict[int, date | None] = {}
    for line_id, product_id, backorder in waiting:
        demand[product_id] += backorder
        covered, found = 0, None
        for expected, remainder in supply[product_id]:
            covered += remainder
            if covered >= demand[product_id]:
                found = expected
                break
        result[line_id] = found
    return result


@dataclass
class Backorders:
    """The backorder list: open sales order lines and open purchase order lines."""

    order_lines: list[SalesOrderLine]
    purchase_lines: list[PurchaseOrderLine]
    expected: dict[int, date | None]

    def products(self) -> list[Product]:
        seen: dict[int, Product] = {}
        for line in self.order_lines:
            seen.setdefault(line.product_id, line.product)
        for pline in self.purchase_lines:
            seen.setdefault(pline.product_id, pline.product)
        return sorted(seen.values(), key=lambda p: p.sku)

    def vendor_of(self, product_id: int) -> Vendor | None:
        """The vendor whose purchase order brings this product first."""
        for pline in self.purchase_lines:
            if pline.product_id == product_id:
                return pline.purchase_order.vendor
        return None


#: The list shows at most this many lines of each kind (a warehouse's worth).
BACKORDER_LIMIT = 1000


def backorders(entity_id: int | None = None) -> Backorders:
    """Not yet delivered sales order lines of confirmed orders and not yet received purchase
    order lines, with what they need to be shown: a constant number of queries. With
    `entity_id`, one legal entity's only (its products: each entity has its own catalog)."""
    of_entity = [Product.legal_entity_id == entity_id] if entity_id is not None else []
    order_lines = list(
        db.session.scalars(
            select(SalesOrderLine)
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
            .join(Product, Product.id == SalesOrderLine.product_id)
            .where(
                SalesOrder.status == OrderStatus.CONFIRMED,
                SalesOrder.order_type != OrderType.RETURNED_ORDER,
                SalesOrderLine.delivered_quantity < SalesOrderLine.quantity,
                *of_entity,
            )
            .options(
                contains_eager(SalesOrderLine.order).joinedload(SalesOrder.customer),
                contains_eager(SalesOrderLine.product),
            )
            .order_by(
                Product.sku,
                case((SalesOrderLine.allocation_priority.is_(None), 1), else_=0),
                SalesOrderLine.allocation_priority,
                func.coalesce(SalesOrder.requested_ship_date, SalesOrder.order_date),
                SalesOrder.id,
                SalesOrderLine.id,
            )
            .limit(BACKORDER_LIMIT)
        )
    )
    purchase_lines = list(
        db.session.scalars(
            select(PurchaseOrderLine)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .join(Product, Product.id == PurchaseOrderLine.product_id)
            .where(
                PurchaseOrder.status == PurchaseOrderStatus.OPEN,
                PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
                *of_entity,
            )
            .options(
                contains_eager(PurchaseOrderLine.purchase_order).joinedload(PurchaseOrder.vendor),
                contains_eager(PurchaseOrderLine.product),
            )
            .order_by(Product.sku, PurchaseOrderLine.expected_date, PurchaseOrderLine.id)
            .limit(BACKORDER_LIMIT)
        )
    )
    expected = expected_dates(line.product_id for line in order_lines if line.backorder_quantity)
    return Backorders(order_lines, purchase_lines, expected)


def customer_expected_dates(customer_id: int) -> dict[int, date | None]:
    """Expected dates of all the customer's waiting lines (three queries): the buyer's
    order list asks for each backordered line without a query per line."""
    product_ids = db.session.scalars(
        select(SalesOrderLine.product_id)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(
            SalesOrder.customer_id == customer_id,
            SalesOrder.status == OrderStatus.CONFIRMED,
            SalesOrderLine.backorder_quantity > 0,
        )
        .distinct()
    ).all()
    return expected_dates(product_ids)
