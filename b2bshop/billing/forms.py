"""The invoice filter: parsed from the query string, so every filtered view is a URL."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from b2bshop.core.listing import ListFilterForm

STATUS_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("open", _l("Open (not paid in full)")),
    SelectChoice("unpaid", _l("Unpaid")),
    SelectChoice("partially_paid", _l("Partially paid")),
    SelectChoice("paid", _l("Paid")),
    SelectChoice("overdue", _l("Overdue")),
]
ACCOUNT_CHOICES = [
    SelectChoice("", _l("All accounts")),
    SelectChoice("own", _l("Own account")),
    SelectChoice("org", _l("Invoice account")),
]
SORT_CHOICES = [
    SelectChoice("due_date", _l("Due date, oldest first")),
    SelectChoice("-due_date", _l("Due date, newest first")),
    SelectChoice("amount", _l("Amount, smallest first")),
    SelectChoice("-amount", _l("Amount, largest first")),
    SelectChoice("number", _l("Number")),
]


class InvoiceFilterForm(ListFilterForm):
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, default="", validate_choice=True)
    due_from = DateField(_l("Due from"), validators=[Optional()])
    due_to = DateField(_l("Due to"), validators=[Optional()])
    q = SearchField(
        _l("Invoice number"),
        validators=[Optional(), Length(max=40)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"maxlength": 40, "placeholder": _l("e.g. INV-000123")},
    )
    account = SelectField(_l("Account"), choices=ACCOUNT_CHOICES, default="")
    sort = SelectField(_l("Sort by"), choices=SORT_CHOICES, default="due_date")

    date_range_invalid = False
    # The invoice list reads it through valid_value and the filter macros only.
    plain_parse = True

    @classmethod
    def plainly_valid_together(cls, values: dict) -> bool:
        due_from, due_to = values["due_from"], values["due_to"]
        return not (due_from and due_to and due_from > due_to)

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if (
            not self.due_from.errors
            and not self.due_to.errors
            and self.due_from.data
            and self.due_to.data
            and self.due_from.data > self.due_to.data
        ):
            self.due_to.errors = [
                _l("The 'due to' date is before the 'due from' date; dates are not applied.")
            ]
            self.date_range_invalid = True
            ok = False
        return ok

    def valid_value(self, name: str):  # type: ignore[no-untyped-def]
        """The field's value, or its default when the user's value was invalid."""
        field = self[name]
        if field.errors or (name in ("due_from", "due_to") and self.date_range_invalid):
            return field.default
        return field.data


def filter_from(form: InvoiceFilterForm):  # type: ignore[no-untyped-def]
    """The valid part of the form as an InvoiceFilter."""
    from b2bshop.billing.listing import InvoiceFilter

    return InvoiceFilter(
        status=form.valid_value("status") or None,
        due_from=form.valid_value("due_from"),
        due_to=form.valid_value("due_to"),
        q=form.valid_value("q") or None,
        account=form.valid_value("account") or None,
        sort=form.valid_value("sort") or "due_date",
    )
