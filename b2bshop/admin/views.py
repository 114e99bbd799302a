"""The store admins' blueprint (/admin): every admin page module registers on `bp`."""

from b2bshop.admin import (  # noqa: F401  (each module adds its routes to bp when imported)
    agreements,
    audit_log,
    backorders,
    campaigns,
    catalog,
    credit_notes,
    customers,
    dashboard,
    entities,
    intercompany,
    invoices,
    journals,
    orders,
    payments,
    purchasing,
    quotations,
    relationships,
    suggestions,
)
from b2bshop.admin.common import bp
from b2bshop.einvoice import admin as einvoice_admin  # noqa: F401  (its routes, on bp)

__all__ = ["bp"]
