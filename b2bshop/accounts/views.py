from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from b2bshop.accounts import service, sessions
from b2bshop.accounts.forms import LoginForm
from b2bshop.extensions import db, limiter, login_manager
from b2bshop.i18n import N_

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(session_token: str):  # type: ignore[no-untyped-def]
    user = service.load_user(session_token)
    if user is not None and not _of_this_store(user):
        return None  # a buyer of another entity's customer: signed out here
    return user


def _of_this_store(user) -> bool:  # type: ignore[no-untyped-def]
    """A buyer belongs to this storefront when their customer is of its entity
    (STORE_ENTITY); store admins work in every entity they are allowed."""
    from b2bshop.entities.service import store_entity_id

    return user.customer is None or user.customer.legal_entity_id == store_entity_id()


login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"


login_manager.localize_callback = _
login_manager.login_message = N_("Please sign in to see this page.")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: an open redirect would make phishing links look like ours."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    """The account a sign-in tries: rotating addresses does not buy more guesses."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"login-account:{email}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_account_limit, methods=["POST"], key_func=_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        # Another entity's buyer hears what a wrong password hears: nothing to learn here.
        if user is not None and _of_this_store(user):
            # Nothing from before the sign-in carries over (fixation): a new session key on
            # the server and a new CSRF token.
            session.clear()
            sessions.start(user)
            login_user(user, remember=form.remember.data)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
        db.session.rollback()
        flash(_("Email or password is wrong."), "error")
        return render_template("accounts/login.html", form=form), 401
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":
        # CSRF-protected: a link on another site cannot sign the user out. The server ends
        # the session too, so a copy of the cookies opens nothing afterwards.
        sessions.end(session.get("_user_id"))
        db.session.commit()
        logout_user()
        flash(_("You are signed out."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/logout.html")


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    """Ends every session of this user: other browsers and devices, and this one."""
    sessions.end_all(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are signed out everywhere."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account")
@login_required
def account():
    return render_template("accounts/account.html", user=current_user)
