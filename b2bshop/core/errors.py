"""Friendly error pages, in the user's language; JSON for the health check's clients."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, current_app, g, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from b2bshop.core.inputs import InputRefused
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.money import plain_decimal


def register(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error):  # type: ignore[no-untyped-def]
        return render_template("errors/404.html"), 404

    @app.errorhandler(405)
    def not_allowed(error):  # type: ignore[no-untyped-def]
        return render_template("errors/404.html"), 405

    @app.errorhandler(CSRFError)
    def csrf_error(error):  # type: ignore[no-untyped-def]
        db.session.rollback()
        message = _(
            "This form has expired or was sent from elsewhere. Reload the page and try again."
        )
        return render_template(
            "errors/generic.html", title=_("Please try again"), message=message
        ), 400

    @app.errorhandler(InputRefused)
    def input_refused(error: InputRefused):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return render_template(
            "errors/generic.html", title=_("That did not work"), message=error.message
        ), 400

    @app.errorhandler(400)
    def bad_request(error):  # type: ignore[no-untyped-def]
        db.session.rollback()
        message = _("The request could not be understood. Reload the page and try again.")
        return render_template(
            "errors/generic.html", title=_("Please try again"), message=message
        ), 400

    @app.errorhandler(413)
    def too_large(error):  # type: ignore[no-untyped-def]
        db.session.rollback()
        limit = Decimal(current_app.config["MAX_CONTENT_LENGTH"] or 0) / 2**20
        message = _(
            "What you sent is too large: at most %(size)s MB. Send less at a time.",
            size=plain_decimal(limit.quantize(Decimal("0.1"))),
        )
        return render_template(
            "errors/generic.html", title=_("That did not work"), message=message
        ), 413

    @app.errorhandler(429)
    def too_many(error):  # type: ignore[no-untyped-def]
        message = _("Too many attempts. Please wait a minute and try again.")
        return render_template("errors/generic.html", title=_("Slow down"), message=message), 429

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return render_template(
            "errors/generic.html", title=_("That did not work"), message=error.message
        ), error.status_code

    @app.errorhandler(500)
    def server_error(error):  # type: ignore[no-untyped-def]
        db.session.rollback()
        g.cart_count = 0  # the frame must not query a database that may be the problem
        return render_template("errors/500.html"), 500
