"""Up-sell and cross-sell rules in the back office (SPEC B4): list, create, edit, delete."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import aliased, contains_eager, selectinload
from wtforms import BooleanField, DateField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    delete_action,
    edit_page,
    get_or_404,
)
from b2bshop.catalog.models import Product
from b2bshop.core.fields import WholeNumberField
from b2bshop.core.inputs import coerce_id
from b2bshop.core.listing import ListFilterForm
from b2bshop.entities.scoping import scope_to_entity
from b2bshop.extensions import db
from b2bshop.suggestions import service
from b2bshop.suggestions.models import SuggestionKind, SuggestionRule

KIND_CHOICES = [
    SelectChoice("upsell", _l("Up-sell: offer a replacement")),
    SelectChoice("cross_sell", _l("Cross-sell: offer an addition")),
]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class SuggestionFilterForm(ListFilterForm):
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("", _l("All")),
            SelectChoice("upsell", _l("Up-sell")),
            SelectChoice("cross_sell", _l("Cross-sell")),
        ],
        default="",
    )
    q = SearchField(
        _l("Product"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        render_kw={"maxlength": 100, "placeholder": _l("SKU, name or category")},
    )


class SuggestionRuleForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="upsell")
    product_id = SelectField(
        _l("For the product"), coerce=coerce_id, default=0, validate_choice=False
    )
    category = StringField(
        _l("Or for every product of the category"),
        validators=[Optional(), Length(max=60)],
        filters=[_strip],
    )
    suggested_product_id = SelectField(
        _l("Suggested product"), coerce=coerce_id, default=0, validate_choice=False
    )
    priority = WholeNumberField(
        _l("Priority (higher first)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=1000)],
    )
    valid_from = DateField(_l("From"), validators=[Optional()])
    valid_to = DateField(_l("To"), validators=[Optional()])
    note = StringField(_l("Note shown to the buyer"), validators=[Optional(), Length(max=300)])
    active = BooleanField(_l("Active"), default=True)


@bp.route("/suggestions")
@store_admin_required
def list_suggestions():
    source, target = aliased(Product, name="source"), aliased(Product, name="target")

    def build(form):  # type: ignore[no-untyped-def]
        stmt = (
            select(SuggestionRule)
            .outerjoin(source, source.id == SuggestionRule.product_id)
            .join(target, target.id == SuggestionRule.suggested_product_id)
        )
        if kind := form.valid_value("kind"):
            stmt = stmt.where(SuggestionRule.kind == SuggestionKind(kind))
        if q := form.valid_value("q"):
            stmt = stmt.where(
                source.sku.icontains(q, autoescape=True)
                | source.name.icontains(q, autoescape=True)
                | target.sku.icontains(q, autoescape=True)
                | target.name.icontains(q, autoescape=True)
                | SuggestionRule.category.icontains(q, autoescape=True)
            )
        return stmt

    return admin_list(
        SuggestionFilterForm,
        build,
        SuggestionRule.id,
        SuggestionRule.id,
        "admin/_suggestions.html",
        "admin.list_suggestions",
        title=_("Up-sell and cross-sell"),
        new_url=url_for(".new_suggestion"),
        options=(
            selectinload(SuggestionRule.product),
            contains_eager(SuggestionRule.suggested_product.of_type(target)),
        ),
    )


def _product_choices() -> list[tuple[int, str]]:
    products = db.session.scalars(
        scope_to_entity(select(Product), admin_entity_id()).order_by(Product.sku)
    )
    return [(p.id, f"{p.sku} · {p.name} ({p.currency})") for p in products]


def _save(rule: SuggestionRule | None):  # type: ignore[no-untyped-def]
    form = SuggestionRuleForm(obj=rule)
    if rule is not None and not form.is_submitted():
        form.product_id.data = rule.product_id or 0
        form.kind.data = rule.kind.value
    choices = _product_choices()
    form.product_id.choices = [(0, _("None: use the category")), *choices]
    form.suggested_product_id.choices = [(0, _("Choose a product")), *choices]

    def save() -> SuggestionRule:
        data = service.RuleInput(
            kind=form.kind.data,
            product_id=form.product_id.data or None,
            category=form.category.data or "",
            suggested_product_id=form.suggested_product_id.data or None,
            priority=form.priority.data,
            valid_from=form.valid_from.data,
            valid_to=form.valid_to.data,
            note=form.note.data or "",
            active=form.active.data,
        )
        return service.save_rule(current_user, rule, data)

    return edit_page(
        form,
        save,
        lambda saved: (_("Suggestion rule saved."), url_for(".list_suggestions")),
        title=_("New suggestion rule") if rule is None else _("Edit suggestion rule"),
        back_url=url_for(".list_suggestions"),
        back_label=_("Up-sell and cross-sell"),
        delete_url=url_for(".delete_suggestion", rule_id=rule.id) if rule else None,
        delete_note=_("Buyers no longer see this suggestion once the rule is deleted."),
    )


@bp.route("/suggestions/new", methods=["GET", "POST"])
@store_admin_required
def new_suggestion():
    return _save(None)


@bp.route("/suggestions/<int:rule_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_suggestion(rule_id: int):
    return _save(get_or_404(SuggestionRule, rule_id))


@bp.route("/suggestions/<int:rule_id>/delete", methods=["POST"])
@store_admin_required
def delete_suggestion(rule_id: int):
    rule = get_or_404(SuggestionRule, rule_id)
    return delete_action(
        lambda: service.delete_rule(current_user, rule),
        url_for(".edit_suggestion", rule_id=rule_id),
        url_for(".list_suggestions"),
        _("Suggestion rule deleted."),
    )
