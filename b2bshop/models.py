"""Imports every model, so metadata (migrations, create_all) sees all tables."""

from b2bshop.accounts.models import Customer, LegalEntity, PaymentTerms, Role, User
from b2bshop.billing.models import Invoice, InvoiceLine, InvoiceStatus, InvoiceTotals
from b2bshop.cart.models import Cart, CartKind, CartLine
from b2bshop.catalog.models import Product
from b2bshop.numbering import NumberSequence
from b2bshop.payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from b2bshop.requests.models import (
    B2BRequest,
    Invitation,
    RequestKind,
    RequestStatus,
    SentEmail,
)
from b2bshop.sales.models import OrderStatus, OrderType, SalesOrder, SalesOrderLine

__all__ = [
    "B2BRequest",
    "Cart",
    "CartKind",
    "CartLine",
    "Customer",
    "Invitation",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoiceTotals",
    "LegalEntity",
    "NumberSequence",
    "OrderStatus",
    "OrderType",
    "Payment",
    "PaymentAllocation",
    "PaymentMethod",
    "PaymentStatus",
    "PaymentTerms",
    "Product",
    "RequestKind",
    "RequestStatus",
    "Role",
    "SalesOrder",
    "SalesOrderLine",
    "SentEmail",
    "User",
]
