"""Admin forms for vendors; purchase order lines and receipts are hand-made rows."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from b2bshop.agreements.forms import idempotency_field
from b2bshop.core.listing import ListFilterForm

PO_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("open", _l("Open")),
    SelectChoice("received", _l("Received")),
    SelectChoice("cancelled", _l("Cancelled")),
]


class VendorForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=254)])
    active = BooleanField(_l("Active"), default=True)
    idempotency_key = idempotency_field()


class PurchaseOrderFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=PO_STATUS_CHOICES, default="")


class VendorFilterForm(ListFilterForm):
    q = SearchField(
        _l("Vendor"),
        validators=[Optional(), Length(max=100)],
        render_kw={"maxlength": 100, "placeholder": _l("Number or name")},
    )
    active = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice("active", _l("Active")),
            SelectChoice("inactive", _l("Inactive")),
        ],
        default="",
    )
