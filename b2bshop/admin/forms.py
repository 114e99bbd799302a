"""Admin forms: list filters (GET, through the shared list machinery) and edit forms (POST,
CSRF-protected). Choices from the database are filled in by the views."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from b2bshop.billing.forms import STATUS_CHOICES
from b2bshop.core.fields import AmountField, RateField, WholeNumberField
from b2bshop.core.inputs import INT32_MAX, coerce_id
from b2bshop.core.listing import ListFilterForm
from b2bshop.payments.forms import UUID_RE

CURRENCIES = ["EUR", "USD", "GBP", "NOK", "SEK", "DKK", "CHF"]

ACTIVE_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("active", _l("Active")),
    SelectChoice("inactive", _l("Inactive")),
]
ORDER_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("open", _l("Open")),
    SelectChoice("confirmed", _l("Confirmed")),
    SelectChoice("delivered", _l("Delivered")),
    SelectChoice("invoiced", _l("Invoiced")),
    SelectChoice("cancelled", _l("Cancelled")),
]
ORDER_TYPE_CHOICES = [
    SelectChoice("sales_order", _l("Sales order")),
    SelectChoice("journal", _l("Journal")),
    SelectChoice("subscription", _l("Subscription")),
    SelectChoice("returned_order", _l("Returned order")),
    SelectChoice("item_requirements", _l("Item requirements")),
]
INVOICE_KIND_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("customer", _l("Customer invoice")),
    SelectChoice("free_text", _l("Free text invoice")),
]
PAYMENT_STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("pending", _l("Pending")),
    SelectChoice("completed", _l("Completed")),
    SelectChoice("reversed", _l("Reversed")),
    SelectChoice("failed", _l("Failed")),
]
PAYMENT_METHOD_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("card", _l("Card")),
    SelectChoice("bank_transfer", _l("Bank transfer")),
    SelectChoice("manual", _l("Manual")),
]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _customer_search() -> SearchField:
    return SearchField(
        _l("Customer"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("Number or name")},
    )


class CustomerFilterForm(ListFilterForm):
    q = _customer_search()
    active = SelectField(_l("Status"), choices=ACTIVE_CHOICES, default="")


class ProductFilterForm(ListFilterForm):
    q = SearchField(
        _l("Product"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("SKU or name")},
    )
    active = SelectField(_l("Status"), choices=ACTIVE_CHOICES, default="")


class TermsFilterForm(ListFilterForm):
    q = SearchField(
        _l("Payment terms"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("Code or name")},
    )
    active = SelectField(_l("Status"), choices=ACTIVE_CHOICES, default="")


class OrderFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=ORDER_STATUS_CHOICES, default="")
    type = SelectField(
        _l("Type"), choices=[SelectChoice("", _l("All")), *ORDER_TYPE_CHOICES], default=""
    )
    customer = _customer_search()


class AdminInvoiceFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, default="")
    kind = SelectField(_l("Kind"), choices=INVOICE_KIND_CHOICES, default="")
    customer = _customer_search()
    q = SearchField(
        _l("Invoice number"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
        render_kw={"maxlength": 40, "placeholder": _l("e.g. INV-000123")},
    )


class PaymentFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=PAYMENT_STATUS_CHOICES, default="")
    method = SelectField(_l("Method"), choices=PAYMENT_METHOD_CHOICES, default="")
    customer = _customer_search()


class AuditFilterForm(ListFilterForm):
    q = SearchField(
        _l("Action or record"),
        validators=[Optional(), Length(max=50)],
        filters=[_strip],
        render_kw={"maxlength": 50, "placeholder": _l("e.g. payment.reverse or PAY-000012")},
    )


class CustomerForm(FlaskForm):
    number = StringField(_l("Number"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    currency = SelectField(_l("Currency"), choices=CURRENCIES, default="EUR")
    # Not checked against the choices here: the service refuses with a clearer message.
    payment_terms_id = SelectField(
        _l("Payment terms"), coerce=coerce_id, validate_choice=False, validators=[InputRequired()]
    )
    credit_limit = AmountField(
        _l("Credit limit"), default=0, validators=[InputRequired(), NumberRange(min=0)]
    )
    invoice_account_id = SelectField(
        _l("Invoice account"), coerce=coerce_id, default=0, validate_choice=False
    )
    active = BooleanField(_l("Active"), default=True)


class TermsForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    net_days = WholeNumberField(
        _l("Net days"), validators=[InputRequired(), NumberRange(min=0, max=365)]
    )
    cash_discount_percent = RateField(
        _l("Cash discount percent"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=99.99)],
    )
    cash_discount_days = WholeNumberField(
        _l("Cash discount days"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=365)],
    )
    active = BooleanField(_l("Active"), default=True)


class ProductForm(FlaskForm):
    sku = StringField(_l("SKU"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    price = AmountField(_l("Price"), validators=[InputRequired(), NumberRange(min=0)])
    currency = SelectField(_l("Currency"), choices=CURRENCIES, default="EUR")
    tax_rate = RateField(
        _l("Tax rate"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=99.99)],
    )
    stock_on_hand = WholeNumberField(
        _l("Stock on hand"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=INT32_MAX)],
    )
    active = BooleanField(_l("Active"), default=True)
    category = StringField(
        _l("Category (for up-sell and cross-sell)"), validators=[Optional(), Length(max=60)]
    )


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class OrderTypeForm(FlaskForm):
    order_type = SelectField(_l("Type"), choices=ORDER_TYPE_CHOICES)


class FreeTextHeaderForm(FlaskForm):
    customer_id = SelectField(_l("Customer"), coerce=coerce_id)
    invoice_date = DateField(_l("Invoice date"), validators=[DataRequired()])


class ManualPaymentForm(FlaskForm):
    #: Blank means today.
    received_on = DateField(_l("Date received"), validators=[Optional()])
    #: Blank: the amounts below are the payment. Alone: split oldest due date first.
    total = AmountField(
        _l("Total received"),
        validators=[Optional(), NumberRange(min=Decimal("0.01"))],
        description=_l(
            "As on the bank statement. With amounts below, they must add up to it; "
            "without, it pays the oldest invoices first."
        ),
    )
    reference = StringField(
        _l("Bank reference"), validators=[Optional(), Length(max=100)], filters=[_strip]
    )
    #: From the page: a double submit finds the first payment's audit instead of paying twice.
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(UUID_RE)])
