"""Imports every model, so metadata (migrations, create_all) sees all tables."""

from b2bshop.accounts.models import Customer, LegalEntity, PaymentTerms, Role, User
from b2bshop.accounts.sessions import UserSession
from b2bshop.agreements.models import (
    AgreementStatus,
    CommitmentType,
    CustomerGroup,
    CustomerGroupMember,
    SalesAgreement,
    SalesAgreementLine,
    TradeAgreement,
)
from b2bshop.audit.models import AuditEntry
from b2bshop.billing.models import (
    FreeTextInvoice,
    FreeTextLine,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTotals,
    LedgerAccount,
)
from b2bshop.campaigns.models import Campaign, CampaignMessage, CampaignRecipient
from b2bshop.cart.models import Cart, CartKind, CartLine
from b2bshop.catalog.models import Product
from b2bshop.entities.models import store_admin_entities
from b2bshop.heartbeats import JobHeartbeat
from b2bshop.intercompany.models import (
    CustomerTransaction,
    IntercompanyRelation,
    IntercompanySettings,
    JournalName,
    PaymentJournal,
    PaymentJournalLine,
    PaymentJournalSettlement,
    VendorInvoice,
    VendorTransaction,
)
from b2bshop.numbering import NumberSequence
from b2bshop.payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from b2bshop.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Receipt,
    ReceiptLine,
    Vendor,
)
from b2bshop.quotations.models import (
    Quotation,
    QuotationEmail,
    QuotationEmailKind,
    QuotationLine,
    QuotationStatus,
)
from b2bshop.relationships.models import AccountApplication, Contact, FollowUpTask, Party
from b2bshop.requests.models import (
    B2BRequest,
    Invitation,
    RequestKind,
    RequestStatus,
    SentEmail,
)
from b2bshop.sales.models import (
    OrderStatus,
    OrderType,
    PackingSlip,
    PackingSlipLine,
    SalesOrder,
    SalesOrderLine,
)
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

__all__ = [
    "AccountApplication",
    "AgreementStatus",
    "AuditEntry",
    "B2BRequest",
    "Campaign",
    "CampaignMessage",
    "CampaignRecipient",
    "Cart",
    "CartKind",
    "CartLine",
    "CommitmentType",
    "Contact",
    "Customer",
    "CustomerGroup",
    "CustomerGroupMember",
    "CustomerTransaction",
    "FollowUpTask",
    "FreeTextInvoice",
    "FreeTextLine",
    "IntercompanyRelation",
    "IntercompanySettings",
    "Invitation",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoiceTotals",
    "JobHeartbeat",
    "JournalName",
    "LedgerAccount",
    "LegalEntity",
    "NumberSequence",
    "OrderStatus",
    "OrderType",
    "PackingSlip",
    "PackingSlipLine",
    "Party",
    "Payment",
    "PaymentAllocation",
    "PaymentJournal",
    "PaymentJournalLine",
    "PaymentJournalSettlement",
    "PaymentMethod",
    "PaymentStatus",
    "PaymentTerms",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderStatus",
    "Quotation",
    "QuotationEmail",
    "QuotationEmailKind",
    "QuotationLine",
    "QuotationStatus",
    "Receipt",
    "ReceiptLine",
    "RequestKind",
    "RequestStatus",
    "Role",
    "SalesAgreement",
    "SalesAgreementLine",
    "SalesOrder",
    "SalesOrderLine",
    "SentEmail",
    "SuggestionKind",
    "SuggestionRule",
    "TradeAgreement",
    "User",
    "UserSession",
    "Vendor",
    "VendorInvoice",
    "VendorTransaction",
    "store_admin_entities",
]
