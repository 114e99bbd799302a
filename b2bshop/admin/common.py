"""What every admin view needs: the blueprint, 404 lookups and showing a refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, select

from b2bshop.core.listing import (
    ListFilterForm,
    int_value,
    keyset_page,
    list_response,
    parse_filter,
)
from b2bshop.errors import DomainError
from b2bshop.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")

M = TypeVar("M")
T = TypeVar("T")


def admin_entity_id() -> int | None:
    """The legal entity the signed-in store admin acts in (the header's switcher)."""
    from flask_login import current_user

    from b2bshop.entities.service import selected_entity_id

    return selected_entity_id(current_user)


def get_or_404(model: type[M], ident: Any) -> M:
    """A record of the admin's entity, or 404: another entity's record is not there."""
    from b2bshop.entities.scoping import in_entity

    row = db.session.get(model, ident)
    if row is None or not in_entity(row, admin_entity_id()):
        abort(404)
    return row


def refuse(error: DomainError) -> None:
    """Nothing of the attempt stays; the admin reads why, in their language."""
    db.session.rollback()
    flash(str(error.message), "error")


def form_errors(form: Any) -> None:
    """A POSTed form with field errors: one message on top, each error beside its field."""
    if form.errors:
        flash(_("Please correct the fields marked below."), "error")


def admin_list(
    form_class: type[ListFilterForm],
    build: Callable[[ListFilterForm], Select],
    sort_column: Any,
    id_column: Any,
    fragment: str,
    endpoint: str,
    *,
    title: str,
    new_url: str | None = None,
    descending: bool = True,
    parse: Callable[[str], Any] = int_value,
    options: tuple = (),
    **context: Any,
) -> Response:
    """An admin list page: filter form, keyset page, fragment swap, all through the same
    machinery as the buyer's invoice table (core/listing.py, _listing.html)."""
    from b2bshop.entities.scoping import scope_to_entity

    form = parse_filter(form_class)
    page = keyset_page(
        scope_to_entity(build(form), admin_entity_id()),
        sort_column,
        id_column,
        after=request.args.get("after"),
        before=request.args.get("before"),
        descending=descending,
        parse=parse,
        options=options,
    )
    return list_response(
        "admin/list.html",
        fragment,
        endpoint,
        form.query_args(),
        form=form,
        page=page,
        fragment=fragment,
        title=title,
        new_url=new_url,
        list_endpoint=endpoint,
        **context,
    )


def search_and_active(model: Any, code: Any, name: Any) -> Callable[[ListFilterForm], Select]:
    """The list query of a form with a code-or-name search `q` and an `active` filter."""

    def build(form: ListFilterForm) -> Select:
        stmt = select(model)
        if q := form.valid_value("q"):
            stmt = stmt.where(customer_matches(code, name, q))
        if active := form.valid_value("active"):
            stmt = stmt.where(model.active.is_(active == "active"))
        return stmt

    return build


def customer_matches(column_number: Any, column_name: Any, text: str) -> ColumnElement[bool]:
    return column_number.icontains(text, autoescape=True) | column_name.icontains(
        text, autoescape=True
    )


def pdf_response(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def input_from(form: Any, input_class: type[T]) -> T:
    """A service's input dataclass from the form fields of the same names."""
    return input_class(**{f.name: form[f.name].data for f in fields(input_class)})  # type: ignore[arg-type]


def edit_page(
    form: Any,
    save: Callable[[], Any],
    done: Callable[[Any], tuple[str, str]],
    **page: Any,
) -> Any:
    """An admin edit form (admin/form.html): a valid POST calls `save` (one service call)
    and commits; `done(saved)` gives the message and where to go. A refusal or a field
    error changes nothing and shows the form again with 422."""
    if form.validate_on_submit():
        try:
            saved = save()
        except DomainError as error:
            refuse(error)
        else:
            db.session.commit()
            message, url = done(saved)
            flash(message, "success")
            return redirect(url)
    elif request.method == "POST":
        form_errors(form)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/form.html", form=form, submit_label=_("Save"), **page), status


def delete_action(delete: Callable[[], None], refused_url: str, done_url: str, message: str) -> Any:
    """Delete through `delete` (a service call that refuses what is in use)."""
    try:
        delete()
    except DomainError as error:
        refuse(error)
        return redirect(refused_url)
    db.session.commit()
    flash(message, "success")
    return redirect(done_url)
