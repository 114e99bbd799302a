"""Parts of the page frame (templates/base.html) built in Python: the language buttons, the
same on every page in a language and so built once, and the cart badge, a function rather
than an included template (an include sets up a context of its own). The frame's links come
from the templates' url_for, which remembers them (b2bshop/__init__.py: _page_url_for)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import get_translations
from markupsafe import Markup, escape

#: Each language in its own words, as its button's title says it.
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "nb": "Norsk bokmål", "nl": "Nederlands"}


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    label: str  # on the button: the code in capitals


@dataclass(frozen=True)
class Frame:
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
    found = current_app.extensions.get("b2bshop.frame")
    if found is None:
        languages = tuple(
            Language(code, LANGUAGE_NAMES.get(code, code), code.upper())
            for code in current_app.config["LANGUAGES"]
        )
        found = current_app.extensions["b2bshop.frame"] = Frame(languages, {})
    return found


def cart_badge(count: int) -> Markup:
    """The cart badge: in the frame, and alone for the cart's cartChanged event (the
    cart.badge endpoint). Refreshed by that event, which cart responses send in HX-Trigger."""
    label = get_translations().ungettext(
        "%(num)d line in the cart", "%(num)d lines in the cart", count
    ) % {"num": count}
    return Markup(  # nosec B704 (every value escaped)
        f'<span id="cart-badge" class="badge" hx-get="{escape(url_for("cart.badge"))}" '
        'hx-trigger="cartChanged from:body" hx-swap="outerHTML"\n      '
        f'aria-label="{escape(label)}">{count}</span>'
    )
