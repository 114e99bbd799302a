"""Campaigns in the back office (SPEC B2): create and edit a draft, see the target count,
send in batches with a live progress bar, pause and resume, record responses, statistics."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import admin_list, bp, form_errors, get_or_404, refuse
from b2bshop.campaigns import service
from b2bshop.campaigns.forms import (
    CampaignFilterForm,
    CampaignForm,
    RecipientFilterForm,
    ResponseForm,
)
from b2bshop.campaigns.markdown import render as render_markdown
from b2bshop.campaigns.models import Campaign, CampaignRecipient, CampaignStatus, Response
from b2bshop.campaigns.targets import TargetFilter
from b2bshop.core import unit_of_work
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.htmx import is_htmx, render
from b2bshop.relationships.models import LANGUAGES

#: Recipients shown on the campaign page (the latest responses first, then the list).
RECIPIENTS_SHOWN = 50


def _build(form: CampaignFilterForm):  # type: ignore[no-untyped-def]
    stmt = select(Campaign)
    if q := form.valid_value("q"):
        stmt = stmt.where(Campaign.name.icontains(q, autoescape=True))
    if status := form.valid_value("status"):
        stmt = stmt.where(Campaign.status == CampaignStatus(status))
    return stmt


@bp.route("/campaigns")
@store_admin_required
def list_campaigns():
    return admin_list(
        CampaignFilterForm,
        _build,
        Campaign.created_at,
        Campaign.id,
        "campaigns/_list.html",
        "admin.list_campaigns",
        title=_("Campaigns"),
        new_url=url_for(".new_campaign"),
        parse=str,
    )


def _recipients(form: RecipientFilterForm):  # type: ignore[no-untyped-def]
    stmt = select(CampaignRecipient)
    if campaign := form.valid_value("campaign"):
        stmt = stmt.where(CampaignRecipient.campaign_id == int(campaign))
    response = form.valid_value("response")
    if response == "none":
        stmt = stmt.where(CampaignRecipient.response.is_(None))
    elif response:
        stmt = stmt.where(CampaignRecipient.response == Response(response))
    if q := form.valid_value("q"):
        stmt = stmt.where(CampaignRecipient.email.icontains(q, autoescape=True))
    return stmt


@bp.route("/campaigns/recipients")
@store_admin_required
def list_campaign_recipients():
    """Every recipient of a campaign, a page at a time: a call list is worked through here
    (responses and call notes), whatever its length."""
    return admin_list(
        RecipientFilterForm,
        _recipients,
        CampaignRecipient.id,
        CampaignRecipient.id,
        "campaigns/_recipients.html",
        "admin.list_campaign_recipients",
        title=_("Campaign recipients"),
        descending=False,
        options=(selectinload(CampaignRecipient.party), selectinload(CampaignRecipient.campaign)),
        response_form=ResponseForm(formdata=None),
    )


def _input(form: CampaignForm) -> service.CampaignInput:
    kinds = tuple(k for k in ("lead", "prospect", "customer") if form[f"kind_{k}"].data)
    target = TargetFilter(
        kinds=kinds,
        country=form.country.data or "",
        language=form.language.data or "",
        open_invoices=form.open_invoices.data or "",
        last_order_before=form.last_order_before.data,
    )
    messages = {
        lang: (form[f"subject_{lang}"].data or "", form[f"body_{lang}"].data or "")
        for lang in LANGUAGES
    }
    return service.CampaignInput(form.name.data, form.channel.data, target, messages)


def _fill(form: CampaignForm, campaign: Campaign) -> None:
    target = TargetFilter.from_json(campaign.target_filter)
    form.name.data, form.channel.data = campaign.name, campaign.channel.value
    for kind in ("lead", "prospect", "customer"):
        form[f"kind_{kind}"].data = not target.kinds or kind in target.kinds
    form.country.data, form.language.data = target.country, target.language
    form.open_invoices.data = target.open_invoices
    form.last_order_before.data = target.last_order_before
    for message in campaign.messages:
        form[f"subject_{message.language}"].data = message.subject
        form[f"body_{message.language}"].data = message.body


def _edit(campaign: Campaign | None):  # type: ignore[no-untyped-def]
    form = CampaignForm()
    if campaign is not None and request.method == "GET":
        _fill(form, campaign)
    status = 200
    if form.validate_on_submit():
        data = _input(form)
        try:
            saved = unit_of_work.run(lambda: service.save_campaign(current_user, campaign, data))
        except DomainError as error:
            refuse(error)
            status = error.status_code
        else:
            flash(_("Campaign %(name)s saved.", name=saved.name), "success")
            return redirect(url_for(".show_campaign", campaign_id=saved.id))
    elif request.method == "POST":
        form_errors(form)
        status = 422
    return (
        render_template(
            "campaigns/form.html",
            form=form,
            campaign=campaign,
            languages=LANGUAGES,
            title=_("New campaign") if campaign is None else _("Edit %(name)s", name=campaign.name),
        ),
        status,
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@store_admin_required
def new_campaign():
    return _edit(None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_campaign(campaign_id: int):
    campaign = get_or_404(Campaign, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        flash(_("A campaign that has started cannot be changed."), "error")
        if request.method == "POST":  # a stale edit page: refused, nothing saved
            return _show(campaign, 409)
        return redirect(url_for(".show_campaign", campaign_id=campaign_id))
    return _edit(campaign)


def _show(campaign: Campaign, status: int = 200):  # type: ignore[no-untyped-def]
    draft = campaign.status == CampaignStatus.DRAFT
    recipients = (
        []
        if draft
        else list(
            db.session.scalars(
                select(CampaignRecipient)
                .where(CampaignRecipient.campaign_id == campaign.id)
                .order_by(
                    CampaignRecipient.responded_at.is_(None),
                    CampaignRecipient.responded_at.desc(),
                    CampaignRecipient.id,
                )
                .options(selectinload(CampaignRecipient.party))
                .limit(RECIPIENTS_SHOWN)
            )
        )
    )
    return (
        render_template(
            "campaigns/campaign.html",
            campaign=campaign,
            target=TargetFilter.from_json(campaign.target_filter),
            count=service.target_count(campaign) if draft else None,
            previews={m.language: render_markdown(m.body) for m in campaign.messages if m.subject},
            progress=service.progress(campaign.id),
            stats=None if draft else service.statistics(campaign.id),
            recipients=recipients,
            response_form=ResponseForm(formdata=None),
        ),
        status,
    )


@bp.route("/campaigns/<int:campaign_id>")
@store_admin_required
def show_campaign(campaign_id: int):
    return _show(get_or_404(Campaign, campaign_id))


@bp.route("/campaigns/<int:campaign_id>/progress")
@store_admin_required
def campaign_progress(campaign_id: int):
    """The progress bar: HTMX polls this fragment while the campaign sends."""
    campaign = get_or_404(Campaign, campaign_id)
    if not is_htmx():
        return redirect(url_for(".show_campaign", campaign_id=campaign_id))
    return render(
        "campaigns/_progress.html",
        "campaigns/_progress.html",
        campaign=campaign,
        progress=service.progress(campaign.id),
    )


def _transition(campaign_id: int, change, done):  # type: ignore[no-untyped-def]
    """One guarded transition; a campaign someone else moved first answers 409."""
    try:
        result = unit_of_work.run(change)
    except DomainError as error:
        refuse(error)
        return _show(get_or_404(Campaign, campaign_id), error.status_code)
    flash(done(result), "success")
    return redirect(url_for(".show_campaign", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/start", methods=["POST"])
@store_admin_required
def start_campaign(campaign_id: int):
    get_or_404(Campaign, campaign_id)
    return _transition(
        campaign_id,
        lambda: service.start(current_user, campaign_id),
        lambda count: _("Campaign started for %(count)s contacts.", count=count),
    )


@bp.route("/campaigns/<int:campaign_id>/pause", methods=["POST"])
@store_admin_required
def pause_campaign(campaign_id: int):
    get_or_404(Campaign, campaign_id)
    return _transition(
        campaign_id,
        lambda: service.pause(current_user, campaign_id),
        lambda _c: _("Sending paused."),
    )


@bp.route("/campaigns/<int:campaign_id>/resume", methods=["POST"])
@store_admin_required
def resume_campaign(campaign_id: int):
    get_or_404(Campaign, campaign_id)
    return _transition(
        campaign_id,
        lambda: service.resume(current_user, campaign_id),
        lambda _c: _("Sending resumed."),
    )


@bp.route("/campaigns/<int:campaign_id>/recipients/<int:recipient_id>/response", methods=["POST"])
@store_admin_required
def record_response(campaign_id: int, recipient_id: int):
    row = db.session.scalar(
        select(CampaignRecipient).where(
            CampaignRecipient.id == recipient_id, CampaignRecipient.campaign_id == campaign_id
        )
    )
    if row is None:
        abort(404)
    form = ResponseForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _show(get_or_404(Campaign, campaign_id), 422)
    response = _transition(
        campaign_id,
        lambda: service.respond(current_user, recipient_id, form.response.data, form.note.data),
        lambda r: _("Response of %(email)s recorded.", email=r.email),
    )
    back = request.form.get("back", "")
    listing = url_for(".list_campaign_recipients")
    if not isinstance(response, tuple) and (back == listing or back.startswith(listing + "?")):
        return redirect(back)  # the recipients list, with its filter and page
    return response
