"""VAT and registration numbers checked with python-stdnum where the country is known."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from stdnum.exceptions import ValidationError
from stdnum.util import get_cc_module

from b2bshop.errors import DomainError

#: After the VAT number, the company registers stdnum knows, per country.
REGISTERS = ("orgnr", "kvk", "siren", "siret", "cvr", "hrn", "ustid", "onrc", "nip", "krs")


class TaxIdInvalid(DomainError):
    status_code = 422


def _modules(country: str) -> list:
    modules = []
    for name in ("vat", *REGISTERS):
        try:
            module = get_cc_module(country.lower(), name)
        except (ImportError, ValueError):
            module = None
        if module is not None and hasattr(module, "validate") and module not in modules:
            modules.append(module)
    return modules


def normalize_tax_id(country: str, number: str) -> str:
    """The number in its compact form (the VAT number with its country prefix), or
    TaxIdInvalid when stdnum knows the country's numbers and this is none of them. A
    country stdnum does not know keeps the number as typed, without spaces."""
    text = "".join((number or "").split()).upper()
    if not text:
        return ""
    modules = _modules(country) if len(country or "") == 2 else []
    if not modules:
        return text[:40]
    for module in modules:
        try:
            compact = module.validate(text)
        except ValidationError:
            continue
        # VAT numbers keep their country prefix, as invoices print them (EL for Greece).
        if module.__name__.rsplit(".", 1)[-1] in ("vat", "btw", "tva", "mva", "moms", "iva"):
            prefix = "EL" if country.upper() == "GR" else country.upper()
            return (compact if compact.startswith(prefix) else prefix + compact)[:40]
        return compact[:40]
    raise TaxIdInvalid(
        _l("Enter a valid VAT or company registration number for the country you chose.")
    )
