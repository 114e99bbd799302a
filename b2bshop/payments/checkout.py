"""Checkout: pay the invoices in the cart, or order the items in it on account.

Money moves here, so every step is in one transaction (committed by the view): a declined
card, a changed balance or a double submit leaves nothing behind but the first payment.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from b2bshop.accounts.models import User
from b2bshop.billing.models import Invoice, InvoiceStatus
from b2bshop.cart import service as cart_service
from b2bshop.cart.models import Cart, CartKind
from b2bshop.cart.service import CartConflict, NotPermitted
from b2bshop.catalog.models import Product
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import quantize
from b2bshop.numbering import next_number
from b2bshop.payments.models import Payment, PaymentMethod, PaymentStatus
from b2bshop.payments.providers import card_provider
from b2bshop.payments.service import Allocation, discount_for, lock_invoices, record_payment
from b2bshop.sales.models import OrderStatus, SalesOrder, SalesOrderLine

INVOICE_METHODS = (PaymentMethod.CARD.value, PaymentMethod.BANK_TRANSFER.value)
ON_ACCOUNT = "on_account"


class MethodRefused(DomainError):
    status_code = 422


class PaymentDeclined(DomainError):
    status_code = 402


class CreditLimitExceeded(DomainError):
    status_code = 409


DECLINE_MESSAGES = {
    "declined": _l(
        "Your card was declined. Nothing was charged; try another card or pay by bank transfer."
    ),
    "insufficient_funds": _l(
        "Your card has insufficient funds. Nothing was charged; try "
        "another card or pay by bank transfer."
    ),
    "invalid_card": _l("That card number is not valid. Check the number and try again."),
}


def find_payment(user: User, idempotency_key: str) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(
            Payment.idempotency_key == idempotency_key, Payment.customer_id == user.customer_id
        )
    )


def _lock_cart(user: User) -> Cart | None:
    """The user's cart, locked: a double submit waits here for the first to finish."""
    return cart_service.get_cart(user, lock=True)


def pay_invoices(
    user: User,
    method: str,
    idempotency_key: str,
    card_number: str | None = None,
    today: date | None = None,
) -> Payment:
    """Pay the cart's invoices (SPEC A5, A6). A replayed submit returns the first payment.

    Locks, always in this order: the cart (a double submit of the same form waits here and
    then finds the first payment), the invoices in id order (concurrent payments of one
    invoice settle one after the other against the fresh balance). The gap-free payment
    number is taken last, so its sequence row is locked only for the final insert, not
    while the card is charged.
    """
    today = today or date.today()
    if not user.may_pay_invoices:
        raise NotPermitted(_l("Your user may not pay invoices."))
    if method == ON_ACCOUNT:
        raise MethodRefused(
            _l("Invoices cannot be paid on account. Pay by card or by bank transfer.")
        )
    if method not in INVOICE_METHODS:
        raise MethodRefused(_l("Choose how to pay: by card or by bank transfer."))
    cart = _lock_cart(user)
    existing = find_payment(user, idempotency_key)
    if existing is not None:
        return existing
    if cart is None or cart.kind != CartKind.INVOICE or not cart.lines:
        raise CartConflict(_l("Your cart has no invoices to pay."))

    lines = list(cart.lines)
    invoices = lock_invoices([line.invoice_id for line in lines])
    allocations = []
    for line in lines:
        invoice = invoices[line.invoice_id]
        if invoice.status == InvoiceStatus.PAID:
            raise CartConflict(
                _l(
                    "Invoice %(number)s has been paid in the meantime. Remove it from the cart.",
                    number=invoice.number,
                )
            )
        if line.amount > cart_service.payable_amount(invoice, today):
            raise CartConflict(
                _l(
                    "The balance of invoice %(number)s has changed. Check the amount in your cart.",
                    number=invoice.number,
                )
            )
        allocations.append(
            Allocation(invoice.id, line.amount, discount_for(invoice, line.amount, today))
        )
    amount, currency = cart.total, cart.currency

    reference = None
    if method == PaymentMethod.CARD.value:
        # The provider deduplicates by the same key, should this transaction fail later.
        result = card_provider().charge(
            amount=amount,
            currency=currency,
            card_number=card_number or "",
            idempotency_key=idempotency_key,
        )
        if not result.approved:
            raise PaymentDeclined(
                DECLINE_MESSAGES.get(result.decline_code or "", DECLINE_MESSAGES["declined"])
            )
        reference = result.reference
    payment = record_payment(
        user,
        user.customer,
        allocations,
        PaymentMethod(method),
        # A bank transfer settles when a store admin confirms the money arrived.
        status=PaymentStatus.COMPLETED if reference else PaymentStatus.PENDING,
        idempotency_key=idempotency_key,
        provider_reference=reference,
    )
    cart_service.empty_cart(user)
    db.session.flush()
    return payment


def open_balance(customer_id: int) -> Decimal:
    """What the customer owes and has ordered: open invoices plus orders not yet invoiced."""
    invoices = db.session.scalar(
        select(func.coalesce(func.sum(Invoice.total - Invoice.amount_paid), 0)).where(
            Invoice.customer_id == customer_id, Invoice.status != InvoiceStatus.PAID
        )
    )
    orders = db.session.scalar(
        select(func.coalesce(func.sum(SalesOrder.total), 0)).where(
            SalesOrder.customer_id == customer_id,
            SalesOrder.status.in_([OrderStatus.OPEN, OrderStatus.CONFIRMED, OrderStatus.DELIVERED]),
        )
    )
    return quantize(Decimal(str(invoices)) + Decimal(str(orders)))


def find_order(user: User, idempotency_key: str) -> SalesOrder | None:
    return db.session.scalar(
        select(SalesOrder).where(
            SalesOrder.idempotency_key == idempotency_key,
            SalesOrder.customer_id == user.customer_id,
        )
    )


def place_order(
    user: User, idempotency_key: str, method: str = ON_ACCOUNT, today: date | None = None
) -> SalesOrder:
    """Order the cart's items on account (customer credit, SPEC A1)."""
    today = today or date.today()
    if not user.may_order:
        raise NotPermitted(_l("Your user may not place orders."))
    existing = find_order(user, idempotency_key)
    if existing is not None:
        return existing
    if method != ON_ACCOUNT:
        raise MethodRefused(_l("Items are bought on account, on your payment terms."))
    cart = cart_service.get_cart(user)
    if cart is None or cart.kind != CartKind.ITEM or not cart.lines:
        raise CartConflict(_l("Your cart has no items to order."))
    customer = user.customer
    order = SalesOrder(
        number=next_number("order"),
        customer=customer,
        user=user,
        order_date=today,
        payment_terms_id=customer.payment_terms_id,
        currency=customer.currency,
        total=Decimal(0),
        idempotency_key=idempotency_key,
    )
    db.session.add(order)
    db.session.flush()
    # Lock the products in id order: stock is taken under the lock, never below zero.
    lines = sorted(cart.lines, key=lambda line: line.product_id)
    products = {
        p.id: p
        for p in db.session.scalars(
            select(Product)
            .where(Product.id.in_([line.product_id for line in lines]))
            .order_by(Product.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    total = Decimal(0)
    for line_no, line in enumerate(cart.lines, start=1):
        product = products[line.product_id]
        if product.currency != customer.currency:
            raise CartConflict(_l("%(name)s is not sold in your currency.", name=product.name))
        shipped = min(line.quantity, product.stock_on_hand)
        product.stock_on_hand -= shipped
        amount = quantize(product.price * line.quantity, customer.currency)
        total += amount
        order.lines.append(
            SalesOrderLine(
                line_no=line_no,
                product=product,
                quantity=line.quantity,
                unit_price=product.price,
                amount=amount,
                tax_rate=product.tax_rate,
                backorder_quantity=line.quantity - shipped,
            )
        )
    available = customer.credit_limit - open_balance(customer.id)
    if total > available:
        raise CreditLimitExceeded(
            _l(
                "This order of %(total)s is more than your available credit of %(available)s. "
                "Pay open invoices or order less.",
                total=f"{total:.2f} {customer.currency}",
                available=f"{max(available, Decimal(0)):.2f} {customer.currency}",
            )
        )
    order.total = total
    order.number = next_number("order")
    db.session.add(order)
    cart_service.empty_cart(user)
    db.session.flush()
    return order


def find_result(user: User, idempotency_key: str) -> Payment | SalesOrder | None:
    return find_payment(user, idempotency_key) or find_order(user, idempotency_key)


def checkout(
    user: User,
    method: str,
    idempotency_key: str,
    card_number: str | None = None,
    today: date | None = None,
) -> Payment | SalesOrder:
    """Check out whatever the cart holds. A submit whose key already made a payment or an
    order (a double click, a replayed POST, the back button) gets that one back."""
    existing = find_result(user, idempotency_key)
    if existing is not None:
        return existing
    cart = cart_service.get_cart(user)
    if cart is not None and cart.kind == CartKind.ITEM:
        return place_order(user, idempotency_key, method, today)
    return pay_invoices(user, method, idempotency_key, card_number, today)
