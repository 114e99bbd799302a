"""French typography in the French catalog: a non-breaking space (U+00A0, or the narrow
U+202F) before ":", ";", "?" and "!", never a plain space or none ("Total : 12 €" must not
break before its colon, nor read "Total: 12 €")."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

FR = Path(__file__).resolve().parents[2] / "b2bshop" / "translations" / "fr" / "LC_MESSAGES"
# A mark that needs the space: not "://" in a URL, not inside a %(name)s placeholder.
MARK = re.compile(r"(?<![\u00a0\u202f])([:;?!])(?!//)")


def test_french_punctuation_has_a_non_breaking_space_before_it() -> None:
    with (FR / "messages.po").open("rb") as fileobj:
        catalog = read_po(fileobj, locale="fr")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        for string in strings:
            text = re.sub(r"%\(\w+\)[sd]|https?://\S+", "", string)
            for match in MARK.finditer(text):
                problems.append(f"{text[max(0, match.start() - 20) : match.end() + 5]!r}")
    assert not problems, f"{len(problems)} without a non-breaking space:\n" + "\n".join(problems)


def test_a_failed_request_agrees_with_a_completed_one() -> None:
    with (FR / "messages.po").open("rb") as fileobj:
        catalog = read_po(fileobj, locale="fr")
    assert catalog["Completed"].string == "Terminée"
    assert catalog["Failed"].string == "Échouée"
