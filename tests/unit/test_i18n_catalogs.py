"""The translation catalogs are complete, consistent with the code, and use the glossary (D5).

No app needed: the catalogs are read with Babel, and the strings are extracted from the code
in-process, the way `make messages` does it, so a new string in code without a catalog
update fails here rather than showing up in English on a French page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "b2bshop" / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGUAGES = ("en", "fr", "nb", "nl")
TRANSLATED = ("fr", "nb", "nl")

# Same keywords as `make messages` (pybabel's defaults plus -k _l -k N_), and lazy_gettext.
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "N_": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
}

# SPEC.md, "Glossary: the seeds' own UI terms": English -> (French, Bokmål, Dutch).
GLOSSARY: dict[str, tuple[str, str, str]] = {
    "Invoices": ("Factures", "Fakturaer", "Facturen"),
    "Pay invoice": ("Payer la facture", "Betal faktura", "Factuur betalen"),
    "Request invoice": ("Demander la facture", "Be om faktura", "Factuur aanvragen"),
    "B2B requests": ("Requêtes B2B", "B2B-forespørsler", "B2B-aanvragen"),
    "My account": ("Mon compte", "Min konto", "Mijn rekening"),
    "Invoice account": ("Compte de facturation", "Fakturakonto", "Factuurrekening"),
    "Paid": ("Payée", "Betalt", "Betaald"),
    "Unpaid": ("Impayée", "Ubetalt", "Onbetaald"),
    "Partially paid": ("Partiellement payée", "Delvis betalt", "Gedeeltelijk betaald"),
    "Payment terms": ("Conditions de paiement", "Betalingsbetingelser", "Betalingsvoorwaarden"),
    "Due date": ("Date d'échéance", "Forfallsdato", "Vervaldatum"),
    "Cart": ("Panier", "Handlekurv", "Winkelwagen"),
    "On account": ("Sur compte", "A konto", "A conto"),
}

# %(name)s, %(name)d, %s, %d ...; "%%" is a literal percent sign, not a placeholder.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdiouxXeEfFgGcr%])")


@cache
def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale)


def pot() -> Catalog:
    return _read(POT)


def catalog(lang: str) -> Catalog:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"no catalog for {lang!r}: {path}"
    return _read(path, lang)


def messages(cat: Catalog) -> Iterable[Message]:
    """Every real message, without the header entry."""
    return (message for message in cat if message.id)


def forms(message: Message) -> tuple[str, ...]:
    """The message's translations: one string, or one per plural form."""
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (tuple, list)) else (message.id,)


def placeholders(text: str) -> list[str]:
    found = []
    for name, conversion in PLACEHOLDER.findall(text):
        if conversion == "%":
            continue
        found.append(f"%({name}){conversion}" if name else f"%{conversion}")
    return sorted(found)


def test_the_template_has_messages() -> None:
    assert len(list(messages(pot()))) > 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang: str) -> None:
    cat = catalog(lang)
    problems = []
    for template in messages(pot()):
        message = cat.get(template.id, context=template.context)
        if message is None:
            problems.append(f"missing: {template.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {template.id!r}")
        elif not all(form.strip() for form in forms(message)):
            problems.append(f"empty: {template.id!r}")
        elif template.pluralizable != message.pluralizable:
            problems.append(f"plural forms differ from the template: {template.id!r}")
        elif message.pluralizable and len(forms(message)) != cat.num_plurals:
            problems.append(
                f"{len(forms(message))} plural forms, {cat.num_plurals} wanted: {template.id!r}"
            )
    assert not problems, f"{lang} catalog is incomplete ({len(problems)}):\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_header_names_its_language(lang: str) -> None:
    cat = catalog(lang)
    assert str(cat.locale) == lang
    assert not cat.fuzzy, f"{lang} catalog header is marked fuzzy"
    header = dict(cat.mime_headers)
    assert header.get("Language") == lang
    assert header.get("Plural-Forms") == Catalog(locale=lang).plural_forms


def test_english_translates_to_itself() -> None:
    cat = catalog("en")
    wrong = []
    for template in messages(pot()):
        message = cat.get(template.id, context=template.context)
        if message is None:
            continue  # reported by test_every_message_is_translated
        if template.pluralizable:
            singular, plural = ids(template)
            expected = (singular,) + (plural,) * (len(forms(message)) - 1)
        else:
            expected = ids(template)
        if forms(message) != expected:
            wrong.append(repr(template.id))
    assert not wrong, "en msgstr differs from msgid:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(lang: str) -> None:
    cat = catalog(lang)
    wrong = []
    for template in messages(pot()):
        message = cat.get(template.id, context=template.context)
        if message is None:
            continue
        wanted = placeholders(ids(template)[-1])
        for form in forms(message):
            if not form:
                continue
            got = placeholders(form)
            # A singular form may leave the count out ("Une ligne"), nothing else.
            if got != wanted and not (message.pluralizable and set(got) <= set(wanted)):
                wrong.append(f"{template.id!r}: {form!r} has {got}, wanted {wanted}")
    assert not wrong, f"{lang} placeholders differ:\n" + "\n".join(wrong)


def _extracted() -> dict[tuple[str | tuple[str, ...], str | None], str]:
    """msgid (and context) -> file, for every string the code marks for translation."""
    with (ROOT / "babel.cfg").open() as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename="babel.cfg")
    # Walk only the top-level folders the mapping names (not tests/, static/, ...): fast.
    roots = {pattern.split("/", 1)[0] for pattern, _method in method_map}

    def directory_filter(dirpath: str) -> bool:
        relative = Path(dirpath).relative_to(ROOT)
        name = relative.name
        if name.startswith((".", "_")) or name == "translations":
            return False
        return relative.parts[0] in roots

    found = {}
    for filename, _lineno, msgid, _comments, context in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords=KEYWORDS,
        directory_filter=directory_filter,
    ):
        key = (tuple(msgid) if isinstance(msgid, (tuple, list)) else msgid, context)
        found.setdefault(key, filename)
    return found


def test_template_is_up_to_date_with_the_code() -> None:
    in_template = {
        (tuple(m.id) if isinstance(m.id, (tuple, list)) else m.id, m.context)
        for m in messages(pot())
    }
    extracted = _extracted()
    assert extracted, "extraction found no strings: is babel.cfg right?"
    missing = sorted(
        f"{filename}: {msgid!r}"
        for (msgid, context), filename in extracted.items()
        if (msgid, context) not in in_template
    )
    assert not missing, (
        "strings in the code are missing from messages.pot; run `make messages` and "
        "translate them:\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("lang", TRANSLATED)
def test_glossary_terms_are_used(lang: str) -> None:
    column = TRANSLATED.index(lang)
    cat = catalog(lang)
    in_template = {m.id for m in messages(pot())}
    wrong = []
    for english, terms in GLOSSARY.items():
        if english not in in_template:
            continue
        message = cat.get(english)
        got = message.string if message is not None else None
        if got != terms[column]:
            wrong.append(f"{english!r}: {got!r}, glossary says {terms[column]!r}")
    assert not wrong, f"{lang} departs from the SPEC glossary:\n" + "\n".join(wrong)
