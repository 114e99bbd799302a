from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user

from b2bshop.accounts import sessions
from b2bshop.accounts.access import buyer_required
from b2bshop.accounts.service import valid_email
from b2bshop.billing.service import get_visible_invoice
from b2bshop.core.inputs import parse_id
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.htmx import hx_trigger, is_htmx, render
from b2bshop.requests import invitations, service
from b2bshop.requests.models import RequestStatus

bp = Blueprint("requests", __name__)


@bp.route("/invoices/<number>/request", methods=["GET", "POST"])
@buyer_required("may_view_invoices")
def request_invoice(number: str):
    """Request invoice (A8): a dialog confirms the registered address; POST creates it."""
    invoice = get_visible_invoice(current_user, number)
    if invoice is None:
        abort(404)
    if request.method == "GET":
        return render("requests/confirm.html", "requests/_dialog.html", invoice=invoice)
    created = service.request_invoice_copy(current_user, number, str(get_locale()))
    db.session.commit()
    message = _(
        "Your request for invoice %(number)s is registered. Follow it under My account "
        "→ B2B requests.",
        number=number,
    )
    if is_htmx():
        response = make_response(
            render_template("requests/_created.html", message=message, created=created)
        )
        return hx_trigger(response, "requestCreated")
    flash(message, "success")
    return redirect(url_for(".list_requests"))


@bp.route("/account/requests")
@buyer_required()
def list_requests():
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    requests_ = service.list_requests(current_user, status, kind)
    busy = any(
        r.status in (RequestStatus.PENDING, RequestStatus.PROCESSING) and not service.is_held(r)
        for r in requests_
    )
    return render(
        "requests/requests.html",
        "requests/_requests.html",
        requests=requests_,
        status=status,
        kind=kind,
        busy=busy,
    )


def _permissions_from_form() -> dict[str, bool]:
    return {name: request.form.get(name) == "1" for name in service.PERMISSIONS}


@bp.route("/account/users", methods=["GET", "POST"])
@buyer_required()
def users():
    """A buyer admin asks to add, change or remove the account's users; jobs carry it out."""
    if not current_user.is_buyer_admin:
        return render_template("errors/forbidden.html", reason="buyer_admin"), 403
    if request.method == "POST":
        action = request.form.get("action")
        locale = str(get_locale())
        try:
            if action == "add":
                service.request_add_user(
                    current_user,
                    valid_email(request.form.get("email", "")),
                    request.form.get("name", ""),
                    _permissions_from_form(),
                    locale,
                )
            elif action == "change":
                service.request_change_user(
                    current_user,
                    parse_id(request.form.get("user_id")),
                    _permissions_from_form(),
                    locale,
                )
            elif action == "remove":
                service.request_remove_user(
                    current_user, parse_id(request.form.get("user_id")), locale
                )
            else:
                abort(400)
        except DomainError as error:
            db.session.rollback()
            return _users_page(error=error.message), error.status_code
        db.session.commit()
        flash(
            _(
                "Your request is registered; it is carried out in a moment. Follow it under "
                "B2B requests."
            ),
            "success",
        )
        return redirect(url_for(".users"))
    return _users_page(settled=is_htmx())


def _users_page(**context):  # type: ignore[no-untyped-def]
    pending = service.pending_user_additions(current_user)
    context["settled"] = context.get("settled") and not pending
    return render_template(
        "requests/users.html",
        users=service.customer_users(current_user),
        pending_users=pending,
        **context,
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """The link in an invitation email: set a first password, then sign in."""
    try:
        invitation = invitations.find(token)
    except DomainError as error:
        return render_template(
            "errors/generic.html", title=_("Invitation"), message=error.message
        ), error.status_code
    if request.method == "POST":
        try:
            user = invitations.accept(
                token, request.form.get("password", ""), request.form.get("confirm", "")
            )
        except DomainError as error:
            db.session.rollback()
            return render_template(
                "requests/invitation.html", invitation=invitation, error=error.message
            ), error.status_code
        session.clear()
        sessions.start(user)  # a server-side session, as at sign-in
        db.session.commit()
        login_user(user)
        flash(_("Welcome! Your password is set."), "success")
        return redirect(url_for("core.home"))
    return render_template("requests/invitation.html", invitation=invitation)
