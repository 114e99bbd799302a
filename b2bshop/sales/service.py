"""Sales orders in the back office: order types, confirmation, packing slips and customer
invoices (SPEC B5, B8). Services take the acting user, flush and never commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from b2bshop.accounts.credit import billed_account, check_credit, line_gross
from b2bshop.accounts.models import Customer, User
from b2bshop.audit import service as audit
from b2bshop.billing.models import Invoice, InvoiceKind
from b2bshop.billing.service import LineInput, build_invoice, post_invoice
from b2bshop.catalog.models import Product
from b2bshop.core.idempotency import fingerprint
from b2bshop.core.locks import lock_accounts, lock_rows
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import Money, fits_money, quantize
from b2bshop.numbering import next_number
from b2bshop.pricing import service as pricing
from b2bshop.sales.models import (
    OrderStatus,
    OrderType,
    PackingSlip,
    PackingSlipLine,
    SalesOrder,
    SalesOrderLine,
)


class OrderRefused(DomainError):
    status_code = 409


class OrderInvalid(DomainError):
    pass


@dataclass(frozen=True)
class OrderLineInput:
    product_id: int
    quantity: int
    #: A price fixed before the order (a quotation's quoted price); None takes the
    #: product's price for this customer from pricing.service.
    unit_price: Decimal | None = None
    #: What fixed unit_price (a quotation number), shown as the line's price source.
    price_reference: str | None = None


#: Orders that can still change: everything before Invoiced (or Cancelled).
OPEN_STATES = (OrderStatus.OPEN, OrderStatus.CONFIRMED, OrderStatus.DELIVERED)


def _lock_products(product_ids: Iterable[int]) -> dict[int, Product]:
    """Stock changes under row locks, in id order (core/locks.py, step 4)."""
    return lock_rows(Product, product_ids)


def _lock_order(order: SalesOrder) -> None:
    """Changes to one order run one after the other (SQLite serializes writers anyway)."""
    db.session.scalar(
        select(SalesOrder)
        .where(SalesOrder.id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    # What another transaction committed before we got the lock, read afresh.
    db.session.scalars(
        select(SalesOrderLine)
        .where(SalesOrderLine.order_id == order.id)
        .execution_options(populate_existing=True)
    ).all()
    db.session.expire(order, ["packing_slips"])


class OrderIdempotencyConflict(DomainError):
    status_code = 409


def find_order_by_key(acting_user: User, idempotency_key: str) -> SalesOrder | None:
    """The order this user's key made, if any: keys are scoped to their user."""
    return db.session.scalar(
        select(SalesOrder).where(
            SalesOrder.user_id == acting_user.id, SalesOrder.idempotency_key == idempotency_key
        )
    )


def place_order(
    acting_user: User,
    customer: Customer,
    lines: list[OrderLineInput],
    *,
    order_type: OrderType = OrderType.SALES_ORDER,
    today: date | None = None,
    idempotency_key: str | None = None,
    confirm: bool = False,
    requested_ship_date: date | None = None,
) -> SalesOrder:
    """The one way an order is placed, from the storefront or the back office.

    Stock rule (README, "Orders and stock"): stock is reserved when an order is confirmed,
    and what stock does not cover stays on backorder. A buyer's storefront order is
    confirmed as it is placed (`confirm=True`); an order a store admin enters is confirmed
    later, from its page.

    Credit: the billed account is locked and its exposure checked (accounts/credit.py)
    before anything is reserved; journals and returns owe nothing and skip it. Locks follow
    core/locks.py: account, products, then the number sequences. A resubmitted form (same
    user and key) gets the first order back; the same key with other lines is refused.

    Prices: a line without a fixed unit_price is priced by pricing.service for the
    customer on the requested ship date (today when there is none); the line records the
    price's source.
    """
    today = today or date.today()
    lines = [line for line in lines if line.quantity]
    if not lines:
        raise OrderInvalid(_l("Add at least one line with a quantity."))
    if any(line.quantity < 0 for line in lines):
        raise OrderInvalid(_l("Quantities must be whole numbers greater than zero."))
    request = fingerprint(
        order_type.value,
        customer.id,
        sorted((ln.product_id, ln.quantity, str(ln.unit_price)) for ln in lines),
        *([requested_ship_date.isoformat()] if requested_ship_date else []),
    )
    account = billed_account(customer)
    # Step 2 of the lock order; a double submit waits here, then finds the first order.
    lock_accounts([account.id])
    if idempotency_key:
        existing = find_order_by_key(acting_user, idempotency_key)
        if existing is not None:
            if existing.request_fingerprint != request:
                raise OrderIdempotencyConflict(
                    _l(
                        "This form already placed order %(number)s with other lines. Reload "
                        "the page to place another order.",
                        number=existing.number,
                    )
                )
            return existing
    if not customer.active:
        raise OrderInvalid(_l("Customer %(name)s is not active.", name=customer.name))
    products = {
        p.id: p
        for p in db.session.scalars(
            # Another entity's product is not for sale to this customer (its own catalog).
            select(Product).where(
                Product.id.in_([line.product_id for line in lines]),
                Product.legal_entity_id == customer.legal_entity_id,
            )
        )
    }
    currency = customer.currency
    order = SalesOrder(
        customer=customer,
        user=acting_user,
        order_type=order_type,
        status=OrderStatus.OPEN,
        order_date=today,
        payment_terms_id=customer.payment_terms_id,
        currency=currency,
        idempotency_key=idempotency_key,
        request_fingerprint=request,
        requested_ship_date=requested_ship_date,
    )
    # One batch for all lines: a constant number of queries however long the order.
    prices = pricing.price_lines(
        customer,
        [
            pricing.PriceRequest(products[ln.product_id], ln.quantity)
            for ln in lines
            if ln.unit_price is None and ln.product_id in products
        ],
        requested_ship_date or today,
    )
    priced = iter(prices)
    total = quantize(Decimal(0), currency)
    gross = quantize(Decimal(0), currency)
    for line_no, line in enumerate(lines, start=1):
        product = products.get(line.product_id)
        if product is None or not product.active:
            raise OrderInvalid(_l("This product is not for sale."))
        if product.currency != currency:
            raise OrderInvalid(
                _l(
                    "%(name)s is priced in %(product_currency)s and the account buys in "
                    "%(currency)s: it cannot be on this order.",
                    name=product.name,
                    product_currency=product.currency,
                    currency=currency,
                )
            )
        if line.unit_price is None:
            price = next(priced)
            unit_price = price.unit.amount
            source, reference = price.source.value, price.reference
            agreement_line_id = price.sales_agreement_line_id
        else:
            unit_price = line.unit_price
            source, reference = pricing.PriceSource.FIXED.value, line.price_reference
            agreement_line_id = None
        amount = quantize(unit_price * line.quantity, currency)
        total += amount
        gross += line_gross(unit_price, line.quantity, product.tax_rate, currency)
        order.lines.append(
            SalesOrderLine(
                line_no=line_no,
                product=product,
                quantity=line.quantity,
                unit_price=unit_price,
                amount=amount,
                tax_rate=product.tax_rate,
                backorder_quantity=line.quantity,
                list_price=product.price,
                price_source=source,
                price_reference=reference,
                sales_agreement_line_id=agreement_line_id,
            )
        )
    order.total = total
    if not fits_money(gross):
        raise OrderInvalid(
            _l("This order's total is more than one order can hold. Split it into several.")
        )
    if order_type not in (OrderType.JOURNAL, OrderType.RETURNED_ORDER):
        check_credit(customer, Money(gross, currency))
    if confirm:
        _confirm(order)
    if order_type == OrderType.RETURNED_ORDER:
        order.rma_number = next_number("rma", customer.legal_entity_id)
    # Numbers last: the sequence row stays locked only briefly; one number per order.
    order.number = next_number("order", customer.legal_entity_id)
    db.session.add(order)
    db.session.flush()
    if order_type == OrderType.SALES_ORDER:
        # An intercompany customer's order is the buying entity's purchase order, made in
        # this same transaction (intercompany/service.py).
        from b2bshop.intercompany.service import purchase_for_order

        purchase_for_order(order)
    return order


def create_order(
    acting_user: User,
    customer: Customer,
    order_type: OrderType,
    lines: list[OrderLineInput],
    today: date | None = None,
    idempotency_key: str | None = None,
) -> SalesOrder:
    """An order entered by a store admin: place_order(), confirmed later."""
    return place_order(
        acting_user,
        customer,
        lines,
        order_type=order_type,
        today=today,
        idempotency_key=idempotency_key,
    )


def change_order_type(acting_user: User, order: SalesOrder, new_type: OrderType) -> SalesOrder:
    """SPEC B5: the type can change after creation, except item requirements once delivered.

    Also refused: any change once invoiced, a delivered order turned into or out of a
    return (its goods went the other way), and a confirmed order back to a journal (a
    journal is a draft with no stock effect).
    """
    # Read under the row lock: a packing slip or a confirm committed meanwhile decides.
    _lock_order(order)
    if new_type == order.order_type:
        return order
    if order.status not in OPEN_STATES:
        raise OrderRefused(_l("An invoiced or cancelled order keeps its type."))
    delivered = order.delivered_anything
    if order.order_type == OrderType.ITEM_REQUIREMENTS and delivered:
        raise OrderRefused(_l("Item requirements keep their type once something is delivered."))
    if delivered and OrderType.RETURNED_ORDER in (order.order_type, new_type):
        raise OrderRefused(
            _l("A delivered order cannot become a return, nor a received return an order.")
        )
    if new_type == OrderType.JOURNAL and order.status != OrderStatus.OPEN:
        raise OrderRefused(_l("Only an open order can become a journal."))
    order.order_type = new_type
    if new_type == OrderType.RETURNED_ORDER and order.rma_number is None:
        order.rma_number = next_number("rma", order.legal_entity_id)
    db.session.flush()
    return order


def confirm_order(acting_user: User, order: SalesOrder) -> SalesOrder:
    """Confirm an open order and reserve what stock allows; the rest stays on backorder.
    The order's row is locked and its status re-read: a double click confirms once."""
    _lock_order(order)
    if order.status != OrderStatus.OPEN:
        raise OrderRefused(_l("Only an open order can be confirmed."))
    if order.order_type == OrderType.JOURNAL:
        raise OrderRefused(
            _l("A journal is a draft: change its type to sales order to confirm it.")
        )
    _confirm(order)
    db.session.flush()
    return order


def _confirm(order: SalesOrder) -> None:
    """Confirmed: stock is reserved now (a return's goods come back on its packing slip)."""
    if order.order_type != OrderType.RETURNED_ORDER:
        _reserve(order)
    order.status = OrderStatus.CONFIRMED


def _reserve(order: SalesOrder) -> None:
    """Take what stock allows for each line, under the products' row locks."""
    # line.product, not product_id: a new order's lines are not flushed yet.
    products = _lock_products(line.product.id for line in order.lines)
    for line in order.lines:
        product = products[line.product.id]
        taken = min(line.backorder_quantity, product.stock_on_hand)
        product.stock_on_hand -= taken
        line.backorder_quantity -= taken


def post_packing_slip(
    acting_user: User,
    order: SalesOrder,
    quantities: dict[int, int],
    today: date | None = None,
    slips_seen: int | None = None,
) -> PackingSlip:
    """Deliver the given quantity of each order line (partial deliveries welcome).

    A line's reserved units go first; more comes from stock on hand, never below zero.
    A returned order's packing slip is a receipt: its units go back into stock.
    """
    today = today or date.today()
    _lock_order(order)
    if slips_seen is not None and slips_seen != len(order.packing_slips):
        # A double submit, or another admin was quicker: never deliver the same goods twice.
        raise OrderRefused(
            _l("A packing slip was posted for this order meanwhile: check the quantities again.")
        )
    if order.status != OrderStatus.CONFIRMED:
        raise OrderRefused(_l("Only a confirmed order with something left to deliver ships."))
    lines = {line.id: line for line in order.lines}
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty}
    if not wanted:
        raise OrderInvalid(_l("Enter a quantity to deliver on at least one line."))
    for line_id, qty in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise OrderInvalid(_l("This line is not on the order."))
        if qty < 0 or qty > line.deliver_remainder:
            raise OrderInvalid(
                _l(
                    "Line %(line)s: deliver between 0 and %(remainder)s.",
                    line=line.line_no,
                    remainder=line.deliver_remainder,
                )
            )
    products = _lock_products(lines[line_id].product_id for line_id in wanted)
    # Tied to the order last, so no autoflush meets a slip without its number.
    slip = PackingSlip(slip_date=today, created_by_id=acting_user.id)
    for line_id, qty in sorted(wanted.items()):
        line = lines[line_id]
        product = products[line.product_id]
        if order.order_type == OrderType.RETURNED_ORDER:
            product.stock_on_hand += qty
        else:
            reserved_left = line.quantity - line.backorder_quantity - line.delivered_quantity
            extra = max(qty - reserved_left, 0)
            if extra > product.stock_on_hand:
                raise OrderRefused(
                    _l(
                        "Only %(count)s of %(sku)s on hand: deliver fewer.",
                        count=reserved_left + product.stock_on_hand,
                        sku=product.sku,
                    )
                )
            product.stock_on_hand -= extra
            line.backorder_quantity -= extra
        line.delivered_quantity += qty
        slip.lines.append(PackingSlipLine(order_line=line, quantity=qty))
    if order.deliver_remainder == 0:
        order.status = OrderStatus.DELIVERED
    slip.number = next_number("packing_slip", order.legal_entity_id)
    slip.order = order
    db.session.add(slip)
    db.session.flush()
    return slip


def invoice_packing_slips(
    acting_user: User, slip_ids: list[int], today: date | None = None
) -> Invoice:
    """Post one customer invoice for the given packing slips (SPEC B8): one delivery, an
    order's deliveries, or a month of them for one customer.

    The invoice is billed to the customer's invoice account when it has one (SPEC A3); due
    date and cash discount come from the order's payment terms, tax from each line.
    """
    today = today or date.today()
    if not slip_ids:
        raise OrderInvalid(_l("Select at least one packing slip to invoice."))
    # Lock order (core/locks.py): the billed accounts, then the slips.
    customers = db.session.scalars(
        select(SalesOrder.customer_id)
        .join(PackingSlip, PackingSlip.order_id == SalesOrder.id)
        .where(PackingSlip.id.in_(slip_ids))
        .distinct()
    ).all()
    lock_accounts(
        [c.invoice_account_id or c.id for c in db.session.scalars(
            select(Customer).where(Customer.id.in_(customers))
        )]
    )  # fmt: skip
    # Locked, so two admins cannot invoice the same delivery twice.
    slips = list(
        db.session.scalars(
            select(PackingSlip)
            .where(PackingSlip.id.in_(sorted(set(slip_ids))))
            .order_by(PackingSlip.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if len(slips) != len(set(slip_ids)):
        raise OrderInvalid(_l("One of these packing slips does not exist."))
    if any(slip.invoice_id is not None for slip in slips):
        raise OrderRefused(_l("One of these packing slips is already invoiced."))
    orders = {slip.order.id: slip.order for slip in slips}
    if len({order.customer_id for order in orders.values()}) > 1:
        raise OrderInvalid(_l("Packing slips invoiced together must be for one customer."))
    if any(order.order_type == OrderType.RETURNED_ORDER for order in orders.values()):
        raise OrderRefused(_l("A returned order is credited, not invoiced."))
    if any(order.status not in OPEN_STATES for order in orders.values()):
        raise OrderRefused(_l("An invoiced or cancelled order takes no more invoices."))
    first = orders[min(orders)]
    customer = first.customer
    if len({order.currency for order in orders.values()}) > 1:
        raise OrderInvalid(_l("Packing slips invoiced together must be in one currency."))
    lines = bill_slips(slips, lambda slip: slip.number)
    invoice = post_invoice(
        billed_account(customer),
        lines,
        today,
        terms=first.payment_terms,
        kind=InvoiceKind.CUSTOMER,
        sales_order_id=first.id,
        currency=first.currency,
    )
    for slip in slips:
        slip.invoice_id = invoice.id
    for order in orders.values():
        _after_invoicing(order)
    audit.record(
        acting_user,
        "invoice.post",
        "invoice",
        invoice.number,
        after={
            "customer": invoice.customer.number,
            "total": invoice.total,
            "packing_slips": [slip.number for slip in slips],
        },
    )
    db.session.flush()
    return invoice


def bill_slips(
    slips: list[PackingSlip], reference: Callable[[PackingSlip], str]
) -> list[LineInput]:
    """The document lines of delivered (or received) packing slips, each naming its slip by
    `reference`; every slip line counts as billed on its order line. Invoices and credit
    notes both bill this way."""
    lines = []
    for slip in slips:
        for slip_line in slip.lines:
            order_line = slip_line.order_line
            lines.append(
                LineInput(
                    description=f"{order_line.product.name} ({reference(slip)})",
                    sku=order_line.product.sku,
                    quantity=Decimal(slip_line.quantity),
                    unit_price=order_line.unit_price,
                    tax_rate=order_line.tax_rate,
                )
            )
            order_line.invoiced_quantity += slip_line.quantity
    return lines


def _after_invoicing(order: SalesOrder) -> None:
    """Invoiced when nothing is left to deliver or invoice; a subscription starts its next
    period instead (SPEC B5): open again, every remainder back to the full quantity."""
    if order.invoice_remainder or order.deliver_remainder:
        return
    if order.order_type == OrderType.SUBSCRIPTION:
        for line in order.lines:
            line.invoiced_quantity = 0
            line.delivered_quantity = 0
            line.backorder_quantity = line.quantity
        order.status = OrderStatus.OPEN
    else:
        order.status = OrderStatus.INVOICED


def invoice_order(acting_user: User, order: SalesOrder, today: date | None = None) -> Invoice:
    """Invoice everything delivered on the order and not yet invoiced."""
    slip_ids = [slip.id for slip in order.packing_slips if slip.invoice_id is None]
    if not slip_ids:
        raise OrderRefused(_l("Nothing delivered on this order is waiting to be invoiced."))
    return invoice_packing_slips(acting_user, slip_ids, today)


def cancel_order(acting_user: User, order: SalesOrder) -> SalesOrder:
    """Cancel an order nothing of which was delivered; its reserved stock goes back. The
    order's row is locked first (step 3): a receipt allocating to its lines waits."""
    _lock_order(order)
    if order.status not in (OrderStatus.OPEN, OrderStatus.CONFIRMED) or order.delivered_anything:
        raise OrderRefused(_l("Only an order with nothing delivered can be cancelled."))
    if order.order_type != OrderType.RETURNED_ORDER:
        products = _lock_products(line.product_id for line in order.lines)
        for line in order.lines:
            products[line.product_id].stock_on_hand += line.quantity - line.backorder_quantity
            line.backorder_quantity = line.quantity
    order.status = OrderStatus.CANCELLED
    db.session.flush()
    return order


def pro_forma(order: SalesOrder, today: date | None = None) -> Invoice:
    """What invoicing the rest of an unposted order would bill: never numbered, never
    stored, never payable (SPEC B8)."""
    if order.status not in OPEN_STATES:
        raise OrderRefused(_l("A pro forma invoice is for an order not yet invoiced."))
    lines = [
        LineInput(
            description=line.product.name,
            sku=line.product.sku,
            quantity=Decimal(line.invoice_remainder),
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
        )
        for line in order.lines
        if line.invoice_remainder
    ]
    return build_invoice(
        order.customer.invoice_account or order.customer,
        lines,
        today or date.today(),
        terms=order.payment_terms,
    )
