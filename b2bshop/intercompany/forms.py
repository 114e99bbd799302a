"""Filter form of the payment journal list; the journal form's rows are hand-made."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from b2bshop.core.listing import ListFilterForm


class JournalFilterForm(ListFilterForm):
    kind = SelectField(
        _l("Journal"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice("vendor", _l("Vendor payments")),
            SelectChoice("customer", _l("Customer payments")),
        ],
        default="",
    )
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice("attention", _l("Needs attention")),
            SelectChoice("draft", _l("Draft")),
            SelectChoice("posted", _l("Posted")),
            SelectChoice("reversed", _l("Reversed")),
        ],
        default="",
    )
