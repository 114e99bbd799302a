"""The storefront home, the language switcher and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from b2bshop import heartbeats, jobs
from b2bshop.accounts import service as accounts
from b2bshop.accounts.views import _safe_next
from b2bshop.billing import service as billing
from b2bshop.extensions import csrf, db

bp = Blueprint("core", __name__)


@bp.route("/")
@login_required
def home():
    summary = None
    if current_user.customer_id is not None and current_user.may_view_invoices:
        summary = billing.open_items_summary(current_user)
    return render_template("core/home.html", summary=summary)


@bp.route("/locale", methods=["POST"])
def set_locale():
    """Language switcher: remembered on the user when signed in, else in a cookie."""
    locale = request.form.get("locale")
    target = _safe_next(request.form.get("next")) or url_for("core.home")
    response = redirect(target)
    if locale not in current_app.config["LANGUAGES"]:
        return response
    if current_user.is_authenticated:
        accounts.set_locale(current_user, locale)
        db.session.commit()
    response.set_cookie(
        "locale",
        locale,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links: the SVG icon, not a 404."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/dialog/close")
def close_dialog():
    """Cancel in an HTMX dialog: swap it for nothing (the link works without JS too)."""
    return ""


@bp.route("/healthz")
@csrf.exempt
def healthz():
    """For a load balancer and for people: the database, the queue, the scheduler's
    heartbeat and each periodic job's last run. 503 "degraded" when the database or the
    queue is down, or a periodic job has not run for 3 of its intervals."""
    database_ok = True
    periodic: list[heartbeats.Periodic] = []
    try:
        db.session.execute(text("SELECT 1"))
        periodic = heartbeats.periodic_health()
    except Exception:  # any driver error means "not reachable" to a load balancer
        database_ok = False
        db.session.rollback()
    queue = jobs.queue_health()
    overdue = [p.name for p in periodic if p.overdue]
    ok = database_ok and queue["ok"] and not overdue
    now = heartbeats.utcnow()
    body = {
        "status": "ok" if ok else "degraded",
        "database": "ok" if database_ok else "down",
        "queue": queue,
        "periodic": {p.name: p.as_json(now) for p in periodic},
        "overdue": overdue,
    }
    return jsonify(body), 200 if ok else 503
