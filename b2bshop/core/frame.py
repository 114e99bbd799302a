"""The parts of the page frame (templates/base.html) that are the same on every page: its
links and its language buttons, built once per process and script root. As a dozen url_for
calls and a loop on every full page, they were a tenth of the invoice page's work."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import get_translations
from markupsafe import Markup, escape

#: The frame's links: name in base.html -> endpoint.
LINKS = {
    "home": "core.home",
    "catalog": "catalog.list_products",
    "invoices": "billing.list_invoices",
    "cart": "cart.show_cart",
    "badge": "cart.badge",
    "account": "accounts.account",
    "admin": "admin.dashboard",
    "set_locale": "core.set_locale",
    "logout": "accounts.logout",
}
#: The frame's static files: name in base.html -> file in static/.
STATIC_FILES = {
    "css": "app.css",
    "favicon": "favicon.svg",
    "htmx": "htmx-2.0.11.min.js",
    "js": "app.js",
}
#: Each language in its own words, as its button's title says it.
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "nb": "Norsk bokmål", "nl": "Nederlands"}


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    label: str  # on the button: the code in capitals


@dataclass(frozen=True)
class Frame:
    urls: dict[str, Markup]
    languages: tuple[Language, ...]
    #: The language buttons, for each current language (the one pressed).
    buttons: dict[str, Markup]

    def language_buttons(self, current: str) -> Markup:
        """The language form's buttons, the current language's pressed: the same for every
        page in that language, so built once."""
        found = self.buttons.get(current)
        if found is None:
            out = []
            for language in self.languages:
                code = escape(language.code)
                pressed = 'aria-pressed="true"' if language.code == current else ""
                out.append(
                    f'\n          <button type="submit" name="locale" value="{code}" '
                    f'lang="{code}"\n                  title="{escape(language.name)}"\n'
                    f"                  {pressed}>{escape(language.label)}</button>"
                )
            found = self.buttons[current] = Markup("".join(out))  # nosec B704 (escaped)
        return found


def frame() -> Frame:
    known = current_app.extensions.setdefault("b2bshop.frame", {})
    found = known.get(request.script_root)
    if found is None:
        urls = {name: Markup.escape(url_for(endpoint)) for name, endpoint in LINKS.items()}
        urls |= {
            name: Markup.escape(url_for("static", filename=filename))
            for name, filename in STATIC_FILES.items()
        }
        languages = tuple(
            Language(code, LANGUAGE_NAMES.get(code, code), code.upper())
            for code in current_app.config["LANGUAGES"]
        )
        found = known[request.script_root] = Frame(urls, languages, {})
    return found


def cart_badge(count: int) -> Markup:
    """The cart badge: in the frame, and alone for the cart's cartChanged event (the
    cart.badge endpoint). Refreshed by that event, which cart responses send in HX-Trigger."""
    label = get_translations().ungettext(
        "%(num)d line in the cart", "%(num)d lines in the cart", count
    ) % {"num": count}
    return Markup(  # nosec B704 (every value escaped)
        f'<span id="cart-badge" class="badge" hx-get="{frame().urls["badge"]}" '
        'hx-trigger="cartChanged from:body" hx-swap="outerHTML"\n      '
        f'aria-label="{escape(label)}">{count}</span>'
    )
