from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class CheckoutForm(FlaskForm):
    # Choices are not validated here: the service refuses on-account for invoices (A6)
    # with a message of its own, whatever was posted.
    method = RadioField(
        _l("How do you want to pay?"),
        validate_choice=False,
        choices=[
            SelectChoice("card", _l("Card")),
            SelectChoice("bank_transfer", _l("Bank transfer")),
            SelectChoice("on_account", _l("On account")),
        ],
    )
    card_number = StringField(_l("Card number"), validators=[Optional(), Length(max=30)])
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(UUID_RE)])
