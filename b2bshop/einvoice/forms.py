"""Admin forms for the seller's legal data and a customer's e-invoice fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from b2bshop.einvoice.parties import EAS_SCHEMES


def scheme_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("None"))] + [
        SelectChoice(code, f"{code} – {label}") for code, label in EAS_SCHEMES.items()
    ]


class _AddressForm(FlaskForm):
    street = StringField(_l("Street and number"), validators=[DataRequired(), Length(max=200)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=20)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)])
    country_code = StringField(
        _l("Country (ISO code)"), validators=[DataRequired(), Length(min=2, max=2)]
    )


class LegalEntityForm(_AddressForm):
    name = StringField(_l("Legal name"), validators=[DataRequired(), Length(max=200)])
    vat_number = StringField(_l("VAT number"), validators=[DataRequired(), Length(max=40)])
    registration_number = StringField(
        _l("Company registration number"), validators=[DataRequired(), Length(max=40)]
    )
    iban = StringField(_l("IBAN"), validators=[DataRequired(), Length(max=42)])
    bic = StringField(_l("BIC"), validators=[Optional(), Length(max=11)])
    peppol_scheme = SelectField(_l("Peppol endpoint scheme"), choices=scheme_choices, default="")
    peppol_id = StringField(_l("Peppol endpoint"), validators=[Optional(), Length(max=100)])
    vat_exemption_reason = StringField(
        _l("VAT exemption reason (tax-free lines)"), validators=[Optional(), Length(max=300)]
    )


class CustomerEInvoiceForm(_AddressForm):
    vat_number = StringField(_l("VAT number"), validators=[Optional(), Length(max=40)])
    peppol_scheme = SelectField(_l("Peppol endpoint scheme"), choices=scheme_choices, default="")
    peppol_id = StringField(_l("Peppol endpoint"), validators=[Optional(), Length(max=100)])
    einvoice_format = SelectField(
        _l("The invoice email attaches"),
        choices=[
            SelectChoice("pdf", _l("PDF")),
            SelectChoice("pdf_ubl", _l("PDF and UBL (Peppol BIS 3)")),
            SelectChoice("facturx", _l("Factur-X")),
        ],
        default="pdf",
    )
