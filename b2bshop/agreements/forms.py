"""Admin forms for sales agreements and trade agreements; choices are filled by the views."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from b2bshop.core.fields import AmountField, RateField, WholeNumberField
from b2bshop.core.inputs import INT32_MAX, coerce_id
from b2bshop.core.listing import ListFilterForm
from b2bshop.payments.forms import UUID_RE


def idempotency_field() -> HiddenField:
    """The creating form's key: a double submit finds what the first one made."""
    return HiddenField(
        validators=[DataRequired(), Regexp(UUID_RE)], default=lambda: str(uuid.uuid4())
    )


COMMITMENT_CHOICES = [
    SelectChoice("product_quantity", _l("Product quantity")),
    SelectChoice("product_amount", _l("Product amount")),
    SelectChoice("total_amount", _l("Total amount across products")),
]
AGREEMENT_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("on_hold", _l("On hold")),
    SelectChoice("effective", _l("Effective")),
    SelectChoice("closed", _l("Closed")),
]


class AgreementFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=AGREEMENT_STATUS_CHOICES, default="")


class SalesAgreementForm(FlaskForm):
    customer_id = SelectField(_l("Customer"), coerce=coerce_id, validators=[InputRequired()])
    commitment_type = SelectField(_l("Commitment type"), choices=COMMITMENT_CHOICES)
    valid_from = DateField(_l("Valid from"), validators=[InputRequired()])
    valid_to = DateField(_l("Valid to"), validators=[InputRequired()])
    committed_amount = AmountField(
        _l("Committed amount (total amount commitments)"),
        validators=[Optional(), NumberRange(min=0)],
    )
    idempotency_key = idempotency_field()


class AgreementLineForm(FlaskForm):
    product_id = SelectField(_l("Product"), coerce=coerce_id, validators=[InputRequired()])
    unit_price = AmountField(_l("Unit price"), validators=[Optional(), NumberRange(min=0)])
    discount_percent = RateField(
        _l("Discount percent"), validators=[Optional(), NumberRange(min=0, max=99.99)]
    )
    committed_quantity = WholeNumberField(
        _l("Committed quantity"), validators=[Optional(), NumberRange(min=1, max=INT32_MAX)]
    )
    committed_amount = AmountField(
        _l("Committed amount"), validators=[Optional(), NumberRange(min=0)]
    )


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired(), Length(max=20)])
    seen_status = HiddenField(validators=[DataRequired(), Length(max=20)])


class TradeAgreementForm(FlaskForm):
    customer_id = SelectField(_l("Customer"), coerce=coerce_id, default=0)
    customer_group_id = SelectField(_l("Customer group"), coerce=coerce_id, default=0)
    product_id = SelectField(_l("Product"), coerce=coerce_id, validators=[InputRequired()])
    min_quantity = WholeNumberField(
        _l("From quantity"), default=1, validators=[InputRequired(), NumberRange(min=1, max=9999)]
    )
    unit_price = AmountField(_l("Unit price"), validators=[Optional(), NumberRange(min=0)])
    discount_percent = RateField(
        _l("Discount percent"), validators=[Optional(), NumberRange(min=0, max=99.99)]
    )
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_to = DateField(_l("Valid to"), validators=[Optional()])
    idempotency_key = idempotency_field()


class CustomerGroupForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
