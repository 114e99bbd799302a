"""Partner sign-up (public): "Request a business account" at /signup."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from b2bshop.accounts.service import EmailInvalid
from b2bshop.core import unit_of_work
from b2bshop.extensions import limiter
from b2bshop.relationships import service
from b2bshop.relationships.forms import SignupForm
from b2bshop.relationships.taxids import TaxIdInvalid

bp = Blueprint("relationships", __name__)


def _signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
def signup():
    form = SignupForm()
    if request.method == "GET" and not form.language.raw_data:
        form.language.data = str(get_locale().language)
    status = 200
    if form.validate_on_submit():
        data = service.SignupInput(**{name: form[name].data for name in service.SIGNUP_FIELDS})
        try:
            unit_of_work.run(lambda: service.submit_application(data))
        except TaxIdInvalid as error:
            form.vat_number.errors = [str(error.message)]
        except EmailInvalid as error:
            form.email.errors = [str(error.message)]
        else:
            # The same page for a new application and a repeated one: whether a company
            # or an address is known already is nobody else's business.
            return redirect(url_for(".signup_sent"))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template(
        "signup/signup.html", form=form, signed_in=current_user.is_authenticated
    ), status


@bp.route("/signup/sent")
def signup_sent():
    return render_template("signup/sent.html")
