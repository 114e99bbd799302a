"""The admin header's entity switcher and a store admin's entity limits (/admin/entity)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import store_admin_required
from b2bshop.accounts.models import Role, User
from b2bshop.admin.common import bp, refuse
from b2bshop.core.inputs import parse_id
from b2bshop.entities import service
from b2bshop.entities.models import store_admin_entities
from b2bshop.errors import DomainError
from b2bshop.extensions import db


@bp.app_context_processor
def _entity_switcher() -> dict[str, Any]:
    def admin_entities() -> tuple[list[service.EntityName], int | None, int]:
        """The entities this admin may switch to, the selected one and how many there are
        (admin pages only; a store of one entity shows no switcher)."""
        if not (current_user.is_authenticated and current_user.role == Role.STORE_ADMIN):
            return [], None, 0
        allowed = set(service.allowed_entity_ids(current_user))
        chosen = service.selected_entity_id(current_user)
        everything = service.directory()
        return [e for e in everything if e.id in allowed], chosen, len(everything)

    return {"admin_entities": admin_entities}


def _back() -> str:
    target = request.form.get("next") or ""
    # Only a path of the admin area: never an open redirect.
    if target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.dashboard")


@bp.route("/entity", methods=["POST"])
@store_admin_required
def choose_entity():
    entity_id = parse_id(request.form.get("entity_id"))
    try:
        entity = service.choose_entity(current_user, entity_id)
    except DomainError:
        abort(404)
    flash(_("You work in %(name)s now.", name=entity.name), "success")
    # The page of another entity's record would be a 404 now: its list is the place to go.
    return redirect(_back() if request.form.get("stay") else url_for("admin.dashboard"))


@bp.route("/admins/<int:user_id>/entities", methods=["GET", "POST"])
@store_admin_required
def admin_entities_limit(user_id: int):
    admin = db.session.get(User, user_id)
    if admin is None or admin.role != Role.STORE_ADMIN:
        abort(404)
    everything = service.entities()
    if request.method == "POST":
        chosen = [parse_id(v) for v in request.form.getlist("entity_id")]
        try:
            service.limit_admin(current_user, admin, [c for c in chosen if c is not None])
        except DomainError as error:
            refuse(error)
        else:
            db.session.commit()
            flash(_("The legal entities of %(email)s are saved.", email=admin.email), "success")
            return redirect(url_for(".admin_entities_limit", user_id=admin.id))
    limited = set(
        db.session.scalars(
            select(store_admin_entities.c.legal_entity_id).where(
                store_admin_entities.c.user_id == admin.id
            )
        )
    )
    return render_template(
        "entities/limits.html", admin=admin, entities=everything, limited=limited
    )


@bp.route("/admins")
@store_admin_required
def list_admins():
    """The store admins and the entities each may act in."""
    admins = db.session.scalars(
        select(User)
        .where(User.role == Role.STORE_ADMIN)
        .options(selectinload(User.limited_entities))
        .order_by(User.email)
    ).all()
    return render_template("entities/admins.html", admins=admins)
