"""Parts of the page frame (templates/base.html) made once and kept: the site header
(templates/_site_header.html), the same for every page of a language, kind of user and
section but for its CSRF token, the page to come back to and the cart badge; and the cart
badge, a function rather than an included template (an include sets up a context of its
own), which the cart.badge endpoint also answers with."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flask import current_app, get_flashed_messages, request, url_for
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from b2bshop.core.csrf_token import csrf_token
from b2bshop.i18n import LANGUAGE_NAMES


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    label: str  # on the button: the code in capitals


#: The blueprints whose link in the header is marked as the current page.
SECTIONS = frozenset({"catalog", "billing", "cart", "admin"})
#: Stand-ins for the header's per-request values: characters no URL, token or markup has.
_CSRF, _NEXT, _BADGE = "\x00csrf\x00", "\x00next\x00", "\x00badge\x00"
#: Headers and badges kept, at most each; their keys' parts are few (languages, kinds of
#: user, sections, counts), so more means script roots that vary: rendered, not kept.
MAX_KEPT = 256


@dataclass(frozen=True)
class Frame:
    languages: tuple[Language, ...]
    #: The site header with its stand-ins, by site_header()'s key.
    headers: dict[tuple, str] = field(default_factory=dict)
    #: Cart badges by language, script root and count.
    badges: dict[tuple[str, str, int], Markup] = field(default_factory=dict)

    def badge(self, locale: str, count: int) -> Markup:
        key = (locale, request.script_root, count)
        found = self.badges.get(key)
        if found is None:
            label = get_translations().ungettext(
                "%(num)d line in the cart", "%(num)d lines in the cart", count
            ) % {"num": count}
            found = Markup(  # nosec B704 (every value escaped)
                f'<span id="cart-badge" class="badge" hx-get="{escape(url_for("cart.badge"))}" '
                'hx-trigger="cartChanged from:body" hx-swap="outerHTML"\n      '
                f'aria-label="{escape(label)}">{count}</span>'
            )
            if len(self.badges) < MAX_KEPT:
                self.badges[key] = found
        return found

    def site_header(self, locale: str, cart_count: Callable[[], int]) -> Markup:
        """The site header of this request. Rendering it cost a fifth of an invoice page
        (a dozen links, the signed-in user's flags read through a proxy, two tokens); this
        fills in a kept copy."""
        user = current_user._get_current_object()
        req = request._get_current_object()  # type: ignore[attr-defined]
        signed_in = user.is_authenticated
        buyer = signed_in and user.customer_id is not None
        blueprint = req.blueprint
        key = (
            locale,
            req.script_root,
            signed_in,
            buyer,
            signed_in and user.is_store_admin,
            blueprint if blueprint in SECTIONS else None,
            req.endpoint == "accounts.account",
        )
        text = self.headers.get(key)
        if text is None:
            text = current_app.jinja_env.get_template("_site_header.html").render(
                store_name=current_app.config["STORE_NAME"],
                signed_in=key[2],
                buyer=key[3],
                store_admin=key[4],
                section=key[5],
                on_account=key[6],
                languages=self.languages,
                current_locale=locale,
                csrf=_CSRF,
                next_path=_NEXT,
                badge=_BADGE,
            )
            if len(self.headers) < MAX_KEPT:
                self.headers[key] = text
        back = req.full_path if req.query_string else req.path
        text = text.replace(_CSRF, str(escape(csrf_token()))).replace(_NEXT, str(escape(back)))
        if buyer:
            text = text.replace(_BADGE, self.badge(locale, cart_count()))
        return Markup(text)  # nosec B704 (rendered with autoescape; the values escaped)


def frame() -> Frame:
    found = current_app.extensions.get("b2bshop.frame")
    if found is None:
        languages = tuple(
            Language(code, LANGUAGE_NAMES.get(code, code), code.upper())
            for code in current_app.config["LANGUAGES"]
        )
        found = current_app.extensions["b2bshop.frame"] = Frame(languages)
    return found


#: Fields the error summary lists without a link: they are not on the page to be focused.
_UNLINKED_FIELDS = ("CSRFTokenField", "HiddenField")


def error_summary_items(
    error_targets: Mapping[str, str] | None,
    error_target: str | None,
    summary_forms: Iterable | None,
    error_items: Iterable[tuple[str | None, str]] | None,
) -> list[tuple[str | None, str]]:
    """The (field id or None, message) pairs of a page's error summary (templates/_forms.html
    says what a page sets): the refusals the view flashed, linked to their field in
    `error_targets` or else to `error_target`; then the field errors of `summary_forms`;
    then `error_items`. Built here rather than in base.html, whose loops cost a full page
    as much as its links did."""
    targets = error_targets or {}
    fallback = error_target or None
    items = [
        (targets.get(message, fallback), message)
        for message in get_flashed_messages(category_filter=["error"])
    ]
    for form in summary_forms or ():
        for f in form:
            if f.errors:
                if f.type in _UNLINKED_FIELDS:
                    items.append((None, f.errors[0]))
                else:
                    items.append((f.id, _joined(f.label.text, ": ", f.errors[0])))
    items.extend(error_items or ())
    # "Please correct the fields marked below." says nothing the field errors listed do not.
    if len(items) > 1:
        generic = _("Please correct the fields marked below.")
        items = [item for item in items if item[1] != generic]
    return items


def _joined(*parts: object) -> str:
    """Jinja's `~`: Markup when a part is (the others escaped), else a plain string."""
    if any(hasattr(part, "__html__") for part in parts):
        return Markup("").join(escape(part) for part in parts)
    return "".join(str(part) for part in parts)


def site_header(locale: str, cart_count: Callable[[], int]) -> Markup:
    """base.html's site header (Frame.site_header)."""
    return frame().site_header(locale, cart_count)


def cart_badge(count: int) -> Markup:
    """The cart badge: in the frame, and alone for the cart's cartChanged event (the
    cart.badge endpoint). Refreshed by that event, which cart responses send in HX-Trigger."""
    return frame().badge(str(get_locale()), count)
