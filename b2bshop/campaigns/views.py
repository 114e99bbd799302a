"""Public links of campaign emails: unsubscribe (one click, no sign-in) and respond."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from b2bshop.campaigns import service, tokens
from b2bshop.campaigns.models import Response
from b2bshop.core import unit_of_work
from b2bshop.extensions import csrf, db

bp = Blueprint("campaigns", __name__)


def _recipient_id(token: str) -> int:
    recipient_id = tokens.recipient_id_from(token)
    if recipient_id is None or db.session.get(service.CampaignRecipient, recipient_id) is None:
        abort(404)
    return recipient_id


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET shows one button; POST unsubscribes. A mail client's one-click POST (RFC 8058:
    the body "List-Unsubscribe=One-Click", no cookies) is taken without a CSRF token: the
    signed token is the credential. Any other POST is CSRF-checked like every form."""
    if request.method == "POST" and request.form.get("List-Unsubscribe") != "One-Click":
        csrf.protect()
    recipient_id = _recipient_id(token)
    if request.method == "POST":
        unit_of_work.run(lambda: service.unsubscribe(recipient_id))
        return render_template("campaigns/unsubscribed.html")
    recipient = db.session.get(service.CampaignRecipient, recipient_id)
    if recipient.contact.unsubscribed_at is not None:
        return render_template("campaigns/unsubscribed.html")
    return render_template("campaigns/unsubscribe.html", token=token, email=recipient.email)


@bp.route("/respond/<token>", methods=["GET", "POST"])
def respond(token: str):
    """The email's "interested" / "not interested" links: GET asks to confirm (a mail
    scanner following links records nothing), POST records the first response."""
    recipient_id = _recipient_id(token)
    response = request.values.get("response", "")
    if response not in {r.value for r in Response}:
        response = ""
    if request.method == "POST" and response in (
        Response.INTERESTED.value,
        Response.NOT_INTERESTED.value,
    ):
        unit_of_work.run(lambda: service.respond(None, recipient_id, response))
        return render_template("campaigns/responded.html", response=response)
    recipient = db.session.get(service.CampaignRecipient, recipient_id)
    return render_template(
        "campaigns/respond.html",
        token=token,
        response=response or "interested",
        recipient=recipient,
        recorded=recipient.response,
    ), (422 if request.method == "POST" else 200)
