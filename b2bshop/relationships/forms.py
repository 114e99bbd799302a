"""Forms of relationships: the admin's list filter and edit forms, and the public sign-up."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from b2bshop.core.fields import AmountField
from b2bshop.core.inputs import coerce_id
from b2bshop.core.listing import ListFilterForm
from b2bshop.i18n import LANGUAGE_NAMES

#: The countries a business may sign up from (names from Babel in the page's language).
COUNTRIES = (
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR",
    "HU", "IE", "IS", "IT", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI",
    "SK", "US",
)  # fmt: skip

LANGUAGE_CHOICES = [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()]

KIND_CHOICES = [
    SelectChoice("", _l("Leads and prospects")),
    SelectChoice("lead", _l("Leads")),
    SelectChoice("prospect", _l("Prospects")),
]

CURRENCIES = [SelectChoice(c, c) for c in ("EUR", "USD", "GBP", "NOK", "SEK", "DKK", "CHF")]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def country_choices(blank: str | None = None) -> list[SelectChoice]:
    territories = get_locale().territories
    named = sorted((territories.get(c, c), c) for c in COUNTRIES)
    choices = [SelectChoice(code, name) for name, code in named]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices


class RelationshipFilterForm(ListFilterForm):
    q = SearchField(
        _l("Search"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("Company, VAT number or contact")},
    )
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="")
    country = SelectField(_l("Country"), default="", validate_choice=True)

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices(str(_l("All")))


class PartyForm(FlaskForm):
    name = StringField(
        _l("Company"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    country_code = SelectField(_l("Country"), default="")
    vat_number = StringField(
        _l("VAT or registration number"), validators=[Optional(), Length(max=40)], filters=[_strip]
    )
    street = StringField(_l("Street"), validators=[Optional(), Length(max=200)], filters=[_strip])
    postal_code = StringField(
        _l("Postal code"), validators=[Optional(), Length(max=20)], filters=[_strip]
    )
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)], filters=[_strip])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.country_code.choices = country_choices(str(_l("Unknown")))


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)], filters=[_strip])
    email = StringField(
        _l("Email"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_strip]
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)], filters=[_strip])
    role = StringField(_l("Role"), validators=[Optional(), Length(max=100)], filters=[_strip])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="en")
    marketing_consent = BooleanField(_l("Consents to marketing emails"))


class TaskForm(FlaskForm):
    title = StringField(
        _l("Follow-up task"), validators=[DataRequired(), Length(max=300)], filters=[_strip]
    )


class ConvertForm(FlaskForm):
    number = StringField(
        _l("Customer number"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        description=_l("Leave empty for the next number of the series."),
    )
    currency = SelectField(_l("Currency"), choices=CURRENCIES, default="EUR")
    payment_terms_id = SelectField(
        _l("Payment terms"), coerce=coerce_id, validate_choice=False, validators=[InputRequired()]
    )
    credit_limit = AmountField(
        _l("Credit limit"), default=0, validators=[InputRequired(), NumberRange(min=0)]
    )
    invoice_account_id = SelectField(
        _l("Invoice account"), coerce=coerce_id, default=0, validate_choice=False
    )
    contact_id = SelectField(
        _l("Buyer admin"), coerce=coerce_id, validate_choice=False, validators=[InputRequired()]
    )


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=2000)], filters=[_strip]
    )


class SignupForm(FlaskForm):
    company = StringField(
        _l("Company"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    country_code = SelectField(_l("Country"), validators=[DataRequired()])
    vat_number = StringField(
        _l("VAT or registration number"),
        validators=[DataRequired(), Length(max=40)],
        filters=[_strip],
    )
    street = StringField(
        _l("Street"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    postal_code = StringField(
        _l("Postal code"), validators=[DataRequired(), Length(max=20)], filters=[_strip]
    )
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)], filters=[_strip])
    contact_name = StringField(
        _l("Your name"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    email = StringField(
        _l("Email"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_strip]
    )
    language = SelectField(_l("Language for emails"), choices=LANGUAGE_CHOICES, default="en")

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.country_code.choices = country_choices(str(_l("Choose a country")))
