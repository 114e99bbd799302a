"""Templates compiled per language with their literal messages translated in (issue 21,
b2bshop/i18n.py: FoldedMessages, LocalizedTemplates) render exactly what the calls would."""

from __future__ import annotations

import pytest
from flask import Flask, render_template

from b2bshop.i18n import FoldedMessages

SOURCE = (
    "<button title=\"{{ _('UBL 2.1, Peppol BIS Billing 3.0') }}\">{{ _('Apply') }}</button>\n"
    "{{ _('Tax') ~ ': ' ~ '<b>' }}\n"
    "{% set labels = {'number': _('Number'), 'paid': gettext('Paid')} %}"
    "{{ labels.number }}|{{ labels.paid }}\n"
    "{{ _('Invoice %(number)s', number='<i>') }}\n"
    "{{ _('Lines at 0 %%: %(reason)s', reason='r&d') }}\n"
    "{% if _('Apply') == 'Apply' %}same{% else %}translated{% endif %}\n"
    "{{ _('100%%') }} {{ ngettext('%(num)d invoice', '%(num)d invoices', 2) }}"
)


def _folded_env(app: Flask):  # type: ignore[no-untyped-def]
    from flask_babel import get_translations

    env = app.jinja_env.overlay(extensions=[FoldedMessages])
    env.folded_translations = get_translations()
    return env


@pytest.mark.parametrize("language", ["en", "fr", "nb", "nl"])
def test_a_folded_template_renders_what_the_calls_would(app: Flask, language: str) -> None:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        folded = render_template(_folded_env(app).from_string(SOURCE))
        called = render_template(app.jinja_env.from_string(SOURCE))
    assert folded == called
    assert "&lt;b&gt;" in folded and "&lt;i&gt;" in folded and "r&amp;d" in folded


def test_literal_messages_become_constants_and_the_rest_stay_calls(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        code = _folded_env(app).compile(SOURCE, raw=True)
    assert "Appliquer" in code and "'Apply'" not in code  # folded, in French
    assert "'Invoice %(number)s'" in code  # a message with variables is still a call
    assert "ngettext" in code


def test_pages_are_compiled_once_per_language(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    french = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="fr"' in french and "Se connecter" in french and "Se connecter" not in english
    assert {"fr", "en"} <= set(app.jinja_env.localized)
    localized = app.jinja_env.localized["fr"]
    assert localized.get_template("base.html") is localized.get_template("base.html")
