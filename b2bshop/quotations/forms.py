"""The buyer's quotation filter (GET, through the shared list machinery)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from b2bshop.core.listing import ListFilterForm


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def status_labels() -> dict[str, str]:
    return {
        "draft": str(_l("Quote requested")),
        "sent": str(_l("Awaiting answer")),
        "accepted": str(_l("Accepted")),
        "declined": str(_l("Declined")),
        "expired": str(_l("Expired")),
    }


QUOTATION_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("sent", _l("Awaiting answer")),
    SelectChoice("draft", _l("Quote requested")),
    SelectChoice("accepted", _l("Accepted")),
    SelectChoice("declined", _l("Declined")),
    SelectChoice("expired", _l("Expired")),
]


class QuotationFilterForm(ListFilterForm):
    status = SelectField(
        _l("Status"), choices=QUOTATION_STATUS_CHOICES, default="", validate_choice=True
    )
    q = SearchField(
        _l("Quotation number"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        render_kw={"maxlength": 20, "placeholder": _l("e.g. QU-000123")},
    )
