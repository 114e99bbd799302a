"""Admin forms of campaigns: the list filter and the campaign form (name, channel, saved
target filter, subject and Markdown body per language)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SearchField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from b2bshop.core.listing import ListFilterForm
from b2bshop.relationships.forms import LANGUAGE_CHOICES, country_choices

CHANNEL_CHOICES = [
    SelectChoice("email", _l("Email")),
    SelectChoice("mailing", _l("Mailing (list only)")),
    SelectChoice("telemarketing", _l("Telemarketing (call list)")),
]
STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("draft", _l("Draft")),
    SelectChoice("sending", _l("Sending")),
    SelectChoice("paused", _l("Paused")),
    SelectChoice("done", _l("Done")),
]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class CampaignFilterForm(ListFilterForm):
    q = SearchField(
        _l("Campaign"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("Name")},
    )
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, default="")


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)], filters=[_strip])
    channel = SelectField(_l("Channel"), choices=CHANNEL_CHOICES, default="email")
    kind_lead = BooleanField(_l("Leads"), default=True)
    kind_prospect = BooleanField(_l("Prospects"), default=True)
    kind_customer = BooleanField(_l("Customers"), default=True)
    country = SelectField(_l("Country"), default="")
    language = SelectField(_l("Language"), default="")
    open_invoices = SelectField(
        _l("Open invoices"),
        choices=[
            SelectChoice("", _l("Either")),
            SelectChoice("yes", _l("Has open invoices")),
            SelectChoice("no", _l("No open invoices")),
        ],
        default="",
    )
    last_order_before = DateField(_l("Last order before"), validators=[Optional()])
    subject_en = StringField(
        _l("Subject"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    body_en = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=20000)])
    subject_fr = StringField(
        _l("Subject"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    body_fr = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=20000)])
    subject_nb = StringField(
        _l("Subject"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    body_nb = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=20000)])
    subject_nl = StringField(
        _l("Subject"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    body_nl = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=20000)])

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices(str(_l("Any")))
        self.language.choices = [SelectChoice("", str(_l("Any"))), *LANGUAGE_CHOICES]


RESPONSE_CHOICES = [
    SelectChoice("interested", _l("Interested")),
    SelectChoice("not_interested", _l("Not interested")),
    SelectChoice("bounced", _l("Bounced")),
]


class ResponseForm(FlaskForm):
    response = SelectField(_l("Response"), choices=RESPONSE_CHOICES)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)], filters=[_strip])


RESPONSE_FILTER_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("none", _l("No response yet")),
    SelectChoice("interested", _l("Interested")),
    SelectChoice("not_interested", _l("Not interested")),
    SelectChoice("bounced", _l("Bounced")),
]


class RecipientFilterForm(ListFilterForm):
    """The recipients of one campaign (a call list can be long): by campaign, response and
    email."""

    campaign = SelectField(_l("Campaign"), coerce=str, default="")
    response = SelectField(_l("Response"), choices=RESPONSE_FILTER_CHOICES, default="")
    q = SearchField(
        _l("Email"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("Email")},
    )

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        from sqlalchemy import select

        from b2bshop.campaigns.models import Campaign
        from b2bshop.extensions import db

        latest = db.session.execute(
            select(Campaign.id, Campaign.name).order_by(Campaign.id.desc()).limit(200)
        )
        self.campaign.choices = [
            SelectChoice("", _l("All")),
            *(SelectChoice(str(i), name) for i, name in latest),
        ]
