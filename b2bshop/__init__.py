"""b2bshop: a B2B storefront where business customers buy on credit and pay their invoices."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from flask_babel import get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from b2bshop import config as config_module
from b2bshop import jobs
from b2bshop.core import connections, inputs, rate_limits
from b2bshop.core.cookie_session import CookieSessionInterface
from b2bshop.extensions import babel, cache, csrf, db, limiter, login_manager, mail, migrate
from b2bshop.i18n import LocalizedTemplates, format_day, format_timestamp, render_gettext

ROOT = Path(__file__).resolve().parent.parent

#: No inline script or style anywhere: htmx is told not to inject its indicator style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
    )
    # Templates compiled once per language, their literal messages translated in (i18n.py).
    app.jinja_environment = LocalizedTemplates
    # The signed session cookie, each value verified once (core/cookie_session.py).
    app.session_interface = CookieSessionInterface()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(config_module.from_env(app.instance_path))
    if config:
        app.config.update(config)
    app.config["BABEL_DEFAULT_TIMEZONE"] = config_module.store_timezone(
        app.config["STORE_TIMEZONE"]
    )
    # Forwarded headers are trusted only from as many proxies as the settings say: with none
    # in front, a client could set X-Forwarded-For and pass the sign-in limit as anyone.
    hops = {k: app.config[f"PROXY_FIX_{k.upper()}"] for k in ("x_for", "x_proto", "x_host")}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)  # type: ignore[method-assign]
    # First: <int:...> routes bound to the id range, and NUL bytes refused before any hook
    # or view reads the request (core/inputs.py).
    inputs.init_app(app)

    db.init_app(app)
    _sqlite_setup(app)
    connections.register(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    rate_limits.register(app)
    mail.init_app(app)
    cache.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(render_gettext)  # templates' gettext bound once per render
    login_manager.init_app(app)
    jobs.init_app(app)

    from b2bshop import models  # noqa: F401  (every model registered before the first query)

    _register_blueprints(app)
    _register_hooks(app)

    from b2bshop.cli import register as register_cli

    register_cli(app)
    from b2bshop.core import db_resilience

    db_resilience.register(app)  # last: it wraps every registered view
    return app


def _sqlite_setup(app: Flask) -> None:
    """SQLite (the embedded mode) made safe for concurrent requests.

    Foreign keys are off in SQLite unless asked, per connection. SQLite has no row locks:
    two transactions that read and then write fail with "database is locked" when both
    upgrade at once. So a transaction that will write (a POST, a job) begins IMMEDIATE and
    writers queue for up to the busy timeout; reads begin DEFERRED and, in WAL mode,
    never wait for a writer. PostgreSQL, the production database, keeps its row locks.
    """
    from flask import g, has_app_context, has_request_context
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):  # type: ignore[no-untyped-def]
        writing = (has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")) or (
            has_app_context() and g.get("write_transaction", False)
        )
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def select_locale() -> str | None:
    """The user's setting, then the cookie, then Accept-Language. Jobs and commands (no
    request) use force_locale() or the default."""
    from flask import current_app, has_request_context
    from flask_login import current_user

    if not has_request_context():
        return None
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get("locale")
    if cookie in languages:
        return cookie
    return request.accept_languages.best_match(languages) or "en"


def _register_blueprints(app: Flask) -> None:
    from b2bshop.accounts.history import bp as history_bp
    from b2bshop.accounts.views import bp as accounts_bp
    from b2bshop.admin.views import bp as admin_bp
    from b2bshop.agreements.views import bp as agreements_bp
    from b2bshop.billing.views import bp as billing_bp
    from b2bshop.campaigns.views import bp as campaigns_bp
    from b2bshop.cart.views import bp as cart_bp
    from b2bshop.catalog.views import bp as catalog_bp
    from b2bshop.core.views import bp as core_bp
    from b2bshop.payments.views import bp as payments_bp
    from b2bshop.quotations.views import bp as quotations_bp
    from b2bshop.relationships.views import bp as relationships_bp
    from b2bshop.requests.views import bp as requests_bp
    from b2bshop.suggestions.views import bp as suggestions_bp

    blueprints = (
        core_bp,
        accounts_bp,
        catalog_bp,
        billing_bp,
        cart_bp,
        payments_bp,
        requests_bp,
        history_bp,
        quotations_bp,
        suggestions_bp,
        relationships_bp,
        campaigns_bp,
        agreements_bp,
        admin_bp,
    )
    for bp in blueprints:
        app.register_blueprint(bp)


def _page_url_for(app: Flask):  # type: ignore[no-untyped-def]
    """The templates' url_for, remembering the URLs that take no values (the page frame's
    links, the forms' actions) and the static files' per script root: a full page built a
    dozen of them, the same every time. Anything else (values, _external, outside a
    request) is Flask's url_for."""
    known: dict[tuple[str, str, str | None], str] = {}

    def url_for(endpoint: str, **values: Any) -> str:
        if not has_request_context() or (
            values and (endpoint != "static" or values.keys() != {"filename"})
        ):
            return app.url_for(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        url = known.get(key)
        if url is None:
            url = known[key] = app.url_for(endpoint, **values)
        return url

    return url_for


def _signed_in() -> bool:
    """Whether this response went to a signed-in user, without asking the database (the
    user row may be expired, and the connection gone, by the time the response leaves)."""
    from flask import session

    return session.get("_user_id") is not None


def _register_hooks(app: Flask) -> None:
    from b2bshop.core import errors, read_only
    from b2bshop.money import plain_decimal

    errors.register(app)
    read_only.register(app)
    app.add_template_filter(plain_decimal, "plain_decimal")
    app.jinja_env.globals["url_for"] = _page_url_for(app)
    from b2bshop.core.filter_markup import filter_form_markup

    app.add_template_global(filter_form_markup, "filter_form_markup")
    from b2bshop.billing.presenters import status_badge

    app.add_template_global(status_badge, "status_badge")
    worker_lock = threading.Lock()

    @app.before_request
    def _start_embedded_worker() -> None:
        if app.config["QUEUE_EMBEDDED_WORKER"] and "b2bshop_worker_thread" not in app.extensions:
            with worker_lock:
                jobs.start_embedded_worker(app)

    security_headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config["SESSION_COOKIE_SECURE"]:
        security_headers.append(("Strict-Transport-Security", "max-age=31536000"))
    security_headers_lower = [(name.lower(), name, value) for name, value in security_headers]

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        # Each one unless the view set its own. One pass over the view's headers:
        # Headers.setdefault scanned them again for each, and raised and caught a KeyError
        # for every one missing, a fifteenth of a signed-in request's work.
        headers = response.headers
        present = {key.lower() for key, _value in headers.items()}
        for lower, name, value in security_headers_lower:
            if lower not in present:
                headers.add(name, value)
        if request.endpoint != "static" and _signed_in():
            # Account data (pages, fragments, PDFs, CSV) stays out of shared and browser
            # caches: a shared computer's back button must not show the last buyer's invoices.
            if "cache-control" in present:
                headers["Cache-Control"] = "no-store"
            else:
                headers.add("Cache-Control", "no-store")
            headers.add("Vary", "Cookie")
        return response

    # Imported once here, not on every render (the context processor runs for each one).
    from flask_login import current_user

    from b2bshop.cart.service import line_count
    from b2bshop.core.csrf_token import csrf_token
    from b2bshop.core.frame import cart_badge, error_summary_items, site_header
    from b2bshop.i18n import LANGUAGE_NAMES
    from b2bshop.money import format_money

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["cart_badge"] = cart_badge
    app.jinja_env.globals["site_header"] = site_header
    app.jinja_env.globals["error_summary_items"] = error_summary_items
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES

    @app.context_processor
    def _frame_context() -> dict[str, Any]:
        def cart_count() -> int:
            # Called by the page frame only. A GET changes no cart, so the count loaded
            # with the signed-in user holds; after a write, the cart is counted again.
            if "cart_count" not in g:
                if not current_user.is_authenticated or current_user.is_store_admin:
                    g.cart_count = 0
                elif request.method == "GET" and current_user.cart_lines_when_loaded is not None:
                    g.cart_count = current_user.cart_lines_when_loaded
                else:
                    g.cart_count = line_count(current_user)
            return g.cart_count

        # Bound once per render: templates format hundreds of amounts and dates.
        locale = get_locale()

        def money(amount, currency):  # type: ignore[no-untyped-def]
            return format_money(amount, currency, locale)

        def format_date(value, format="medium"):  # type: ignore[no-untyped-def]
            return format_day(value, format, locale)

        return {
            "cart_count": cart_count,
            "csrf_token": csrf_token,  # instead of Flask-WTF's: signed once a minute
            "current_locale": str(locale),
            "money": money,
            "format_date": format_date,
            "format_datetime": format_timestamp,
            "store_name": app.config["STORE_NAME"],
        }
