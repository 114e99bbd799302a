"""Translation and formatting helpers."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from flask import has_app_context
from flask.templating import Environment as FlaskEnvironment
from flask_babel import format_date as flask_format_date
from flask_babel import format_datetime as flask_format_datetime
from flask_babel import get_locale, get_translations
from flask_babel import gettext as babel_gettext
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from markupsafe import Markup, escape


def _escaped_html(self: LazyString) -> Markup:
    return escape(str(self))


# Flask-Babel's lazy strings say they are HTML already (__html__ returns the plain text), so
# Jinja's autoescape passes them through raw, with whatever a refusal interpolated: an
# invoice number or a product name typed by someone else. Every lazy string here is plain
# text, so it is escaped like any other string, wherever it is rendered.
LazyString.__html__ = _escaped_html  # type: ignore[method-assign]


def render_gettext() -> dict[str, Any]:
    """Template context (a context processor): `_`, gettext and ngettext bound to the catalog
    of this render, found once. Flask-Babel's callables find the locale and the catalog again
    on every call (10-14 µs; a list fragment makes about fifty), through `g`. The context's
    gettext comes before the environment's (Jinja's `_` resolves "gettext" in the context),
    and a render inside force_locale() binds that locale's catalog. Same results as Jinja's
    newstyle gettext: the translation marked safe under autoescape, the variables escaped."""
    translations = get_translations()
    ugettext, ungettext = translations.ugettext, translations.ungettext

    @pass_context
    def gettext(__context: Context, __string: str, **variables: Any) -> str:
        rv = ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)  # nosec B704
        return rv % variables

    @pass_context
    def ngettext(
        __context: Context, __singular: str, __plural: str, __num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", __num)
        rv = ungettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)  # nosec B704
        return rv % variables

    def text(value: Any) -> Any:
        """A lazy_gettext() string (form labels, choices) in this render's catalog; anything
        else as it is. Autoescape escapes it like the lazy string's own __html__."""
        if (
            type(value) is LazyString
            and value._func is babel_gettext
            and len(value._args) == 1
            and not value._kwargs
        ):
            return ugettext(value._args[0])
        return value

    return {"gettext": gettext, "ngettext": ngettext, "lazy_text": text}


#: Each language in its own words: the language buttons' titles, the language choices of
#: forms and the account page. The same in every page language, so never translated.
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "nb": "Norsk bokmål", "nl": "Nederlands"}


def N_(message: str) -> str:
    """Mark a string for the catalogs where it is translated later, at display time."""
    return message


@lru_cache(maxsize=4096)
def _format_day(value: date, locale: Locale, format: str) -> str:
    return babel_format_date(value, format=format, locale=locale)


def format_day(
    value: date | datetime | None, format: str = "medium", locale: Locale | None = None
) -> str:
    """A date in the request's locale. Plain dates (due dates repeat down a list) are
    cached; datetimes go through Flask-Babel for the user's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return flask_format_date(value, format)
    return _format_day(value, locale or get_locale() or Locale.parse("en"), format)


def format_timestamp(value: datetime | None, format: str = "medium") -> str:
    """A moment (stored in UTC) in the store's time zone, with the zone's short name, so
    "10:42" never leaves a reader guessing which 10:42 (STORE_TIMEZONE)."""
    if value is None:
        return ""
    return f"{flask_format_datetime(value, format)} {flask_format_datetime(value, 'ZZZZ')}"


# --- templates compiled once per language, their literal messages translated in ---------


class FoldedMessages(Extension):
    """`_('literal')` and `gettext('literal')` translated when a template compiles, for the
    environment's language (LocalizedTemplates' per-language environments): each becomes the
    constant the call would return, and Jinja writes it into the compiled template. A page
    makes dozens of such calls (the invoice page about fifty, 3 µs each). Calls with
    variables, ngettext, and any other expression stay calls."""

    def filter_stream(self, stream: TokenStream) -> list[Token]:
        tokens = list(stream)
        translations = getattr(self.environment, "folded_translations", None)
        if translations is None:
            return tokens
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            call = tokens[i + 1 : i + 4]
            if (
                token.type == "name"
                and token.value in ("_", "gettext")
                and not (out and out[-1].type == "dot")
                and [t.type for t in call] == ["lparen", "string", "rparen"]
            ):
                folded = _folded(translations, call[1].value)
                if folded is not None:
                    line = token.lineno
                    out += [
                        Token(line, "lparen", "("),
                        Token(line, "string", folded),
                        Token(line, "pipe", "|"),
                        Token(line, "name", "safe"),
                        Token(line, "rparen", ")"),
                    ]
                    i += 4
                    continue
            out.append(token)
            i += 1
        return out


def _folded(translations: Any, message: str) -> str | None:
    """What render_gettext's gettext returns for `message` without variables: the
    translation as Markup, %-formatted with no variables ('%%' -> '%'); None if that fails."""
    try:
        return str(Markup(translations.ugettext(message)) % {})  # nosec B704 (a catalog's)
    except (TypeError, ValueError, KeyError):
        return None


class LocalizedTemplates(FlaskEnvironment):
    """Flask's template environment, handing each template out compiled for the language
    of the request (or of force_locale), with FoldedMessages: one linked environment per
    language, sharing the loader, globals and filters. Templates made from strings
    (from_string) are not localized: they call gettext as they render."""

    #: The language a linked environment compiles for; None on the app's own.
    locale_code: str | None = None

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self.localized: dict[str, LocalizedTemplates] = {}

    def _for_locale(self) -> LocalizedTemplates | None:
        if self.locale_code is not None or not has_app_context():
            return None
        locale = get_locale()
        if locale is None:
            return None
        code = str(locale)
        env = self.localized.get(code)
        if env is None:
            env = self.overlay(extensions=[FoldedMessages])
            env.locale_code = code
            env.folded_translations = get_translations()  # the catalog of this locale
            self.localized[code] = env  # two threads may both make one: either is right
        return env

    def get_template(self, name: Any, parent: Any = None, globals: Any = None) -> Any:
        env = self._for_locale()
        if env is not None:
            return env.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)

    def select_template(self, names: Any, parent: Any = None, globals: Any = None) -> Any:
        env = self._for_locale()
        if env is not None:
            return env.select_template(names, parent, globals)
        return super().select_template(names, parent, globals)
