"""The audit log: who moved money or changed permissions, when, before and after."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import admin_list, bp
from b2bshop.admin.forms import AuditFilterForm
from b2bshop.audit.models import AuditEntry


@bp.route("/audit")
@store_admin_required
def audit_log():
    def build(form):  # type: ignore[no-untyped-def]
        stmt = select(AuditEntry)
        if q := form.valid_value("q"):
            stmt = stmt.where(
                AuditEntry.action.icontains(q, autoescape=True)
                | AuditEntry.entity_id.icontains(q, autoescape=True)
            )
        return stmt

    return admin_list(
        AuditFilterForm,
        build,
        AuditEntry.id,
        AuditEntry.id,
        "admin/_audit.html",
        "admin.audit_log",
        title=_("Audit log"),
        options=(joinedload(AuditEntry.actor),),
    )
