"""The store admins' blueprint (/admin): every admin page module registers on `bp`."""

from b2bshop.admin import agreements as agreements_admin  # noqa: F401  (issue 19)
from b2bshop.admin import (  # noqa: F401  (each module adds its routes to bp)
    audit_log,
    catalog,
    credit_notes,
    customers,
    dashboard,
    invoices,
    orders,
    payments,
)
from b2bshop.admin import backorders as backorders_admin  # noqa: F401  (issue 19)
from b2bshop.admin import campaigns as campaigns_admin  # noqa: F401  (issue 17)
from b2bshop.admin import entities as entities_admin  # noqa: F401  (issue 20)
from b2bshop.admin import intercompany as intercompany_admin  # noqa: F401  (issue 20)
from b2bshop.admin import journals as journals_admin  # noqa: F401  (issue 20)
from b2bshop.admin import purchasing as purchasing_admin  # noqa: F401  (issue 19)
from b2bshop.admin import quotations as quotations_admin  # noqa: F401  (issue 18)
from b2bshop.admin import relationships as relationships_admin  # noqa: F401  (issue 17)
from b2bshop.admin import suggestions as suggestions_admin  # noqa: F401  (issue 18)
from b2bshop.admin.common import bp
from b2bshop.einvoice import admin as einvoice_admin  # noqa: F401  (its routes, on bp)

__all__ = ["bp"]
