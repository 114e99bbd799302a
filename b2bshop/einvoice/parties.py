"""Seller and buyer data that invoices and e-invoices need, validated where it is entered.

VAT numbers are checked with python-stdnum (the country's own check digits), IBANs and BICs
with schwifty, Peppol participant identifiers against their scheme. Services take the acting
user, flush, never commit, and audit what they change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import ean
from stdnum.be import vat as be_vat
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.fr import siren, siret
from stdnum.no import mva, orgnr

from b2bshop.accounts.models import Customer, EInvoiceFormat, LegalEntity, User
from b2bshop.audit import service as audit
from b2bshop.errors import DomainError
from b2bshop.extensions import db


class PartyInvalid(DomainError):
    pass


#: Peppol Electronic Address Schemes (EAS) the store's buyers use, with a label for forms.
EAS_SCHEMES = {
    "0002": "FR SIREN",
    "0009": "FR SIRET",
    "0088": "GLN",
    "0106": "NL KvK",
    "0190": "NL OIN",
    "0192": "NO Organisasjonsnummer",
    "0208": "BE Ondernemingsnummer",
    "9925": "BE VAT",
    "9944": "NL VAT",
    "9957": "FR VAT",
}

_COUNTRY = re.compile(r"^[A-Z]{2}$")


def compact_vat(value: str) -> str:
    """A VAT number without spaces or dots, upper case, or "" when blank; refused when its
    check digits are wrong (NO: organisasjonsnummer + MVA, others: EU VAT)."""
    raw = (value or "").strip().upper()
    if not raw:
        return ""
    try:
        if raw.startswith("NO"):
            number = mva.validate(raw)
            return "NO" + number
        return eu_vat.validate(raw)
    except ValidationError:
        raise PartyInvalid(
            _l("%(value)s is not a valid VAT number (with its country prefix).", value=raw)
        ) from None


def compact_iban(value: str) -> str:
    raw = (value or "").strip()
    if not raw:
        return ""
    try:
        return IBAN(raw).compact
    except SchwiftyException:
        raise PartyInvalid(_l("%(value)s is not a valid IBAN.", value=raw)) from None


def compact_bic(value: str) -> str:
    raw = (value or "").strip().upper().replace(" ", "")
    if not raw:
        return ""
    try:
        return str(BIC(raw))
    except SchwiftyException:
        raise PartyInvalid(_l("%(value)s is not a valid BIC.", value=raw)) from None


def _endpoint_ok(scheme: str, value: str) -> str | None:
    """The identifier in its compact form when valid for the scheme, else None."""
    try:
        if scheme == "0002":
            return siren.validate(value)
        if scheme == "0009":
            return siret.validate(value)
        if scheme == "0088":
            number = ean.validate(value)
            return number if len(number) == 13 else None
        if scheme == "0106":
            return value if re.fullmatch(r"\d{8}", value) else None
        if scheme == "0190":
            return value if re.fullmatch(r"\d{20}", value) else None
        if scheme == "0192":
            return orgnr.validate(value)
        if scheme == "0208":
            number = be_vat.validate(value)
            return number
        if scheme == "9925":
            return "BE" + be_vat.validate(value)
        if scheme in ("9944", "9957"):
            number = eu_vat.validate(value)
            return number if number.startswith("NL" if scheme == "9944" else "FR") else None
    except ValidationError:
        return None
    return None


def peppol_endpoint(scheme: str, value: str) -> tuple[str, str]:
    """(scheme, identifier) checked together; both blank means no endpoint."""
    scheme = (scheme or "").strip()
    raw = (value or "").strip().replace(" ", "").upper()
    if not scheme and not raw:
        return "", ""
    if scheme not in EAS_SCHEMES:
        raise PartyInvalid(_l("Choose the scheme of the Peppol endpoint."))
    number = _endpoint_ok(scheme, raw)
    if not number:
        raise PartyInvalid(
            _l(
                "%(value)s is not a valid identifier in the Peppol scheme %(scheme)s.",
                value=raw or "—",
                scheme=scheme + " (" + EAS_SCHEMES[scheme] + ")",
            )
        )
    return scheme, number


def _country(value: str) -> str:
    code = (value or "").strip().upper()
    if not _COUNTRY.match(code):
        raise PartyInvalid(_l("Enter the country as its two-letter ISO code, e.g. NL."))
    return code


@dataclass(frozen=True)
class AddressInput:
    street: str
    postal_code: str
    city: str
    country_code: str


def _address(target: LegalEntity | Customer, data: AddressInput) -> None:
    if not (data.street.strip() and data.city.strip()):
        raise PartyInvalid(_l("An address needs a street and a city."))
    target.street = data.street.strip()
    target.postal_code = data.postal_code.strip()
    target.city = data.city.strip()
    target.country_code = _country(data.country_code)


@dataclass(frozen=True)
class LegalEntityInput:
    name: str
    street: str
    postal_code: str
    city: str
    country_code: str
    vat_number: str
    registration_number: str
    iban: str
    bic: str
    peppol_scheme: str
    peppol_id: str
    vat_exemption_reason: str


LEGAL_ENTITY_FIELDS = [
    "name",
    "street",
    "postal_code",
    "city",
    "country_code",
    "vat_number",
    "registration_number",
    "iban",
    "bic",
    "peppol_scheme",
    "peppol_id",
    "vat_exemption_reason",
]


def seller() -> LegalEntity | None:
    """The selling company (one per store)."""
    return db.session.scalar(db.select(LegalEntity).order_by(LegalEntity.id))


def save_legal_entity(
    acting_user: User, entity: LegalEntity, data: LegalEntityInput
) -> LegalEntity:
    """The store's legal data: all of it is required, each number checked."""
    if not data.name.strip():
        raise PartyInvalid(_l("Enter the company's legal name."))
    vat = compact_vat(data.vat_number)
    if not vat:
        raise PartyInvalid(_l("Enter the company's VAT number."))
    if not data.registration_number.strip():
        raise PartyInvalid(_l("Enter the company registration number."))
    iban, bic = compact_iban(data.iban), compact_bic(data.bic)
    if not iban:
        raise PartyInvalid(_l("Enter the IBAN customers pay to."))
    scheme, endpoint = peppol_endpoint(data.peppol_scheme, data.peppol_id)
    before = audit.snapshot(entity, LEGAL_ENTITY_FIELDS)
    _address(entity, AddressInput(data.street, data.postal_code, data.city, data.country_code))
    entity.name = data.name.strip()
    entity.vat_number = vat
    entity.registration_number = data.registration_number.strip()
    entity.iban, entity.bic = iban, bic
    entity.peppol_scheme, entity.peppol_id = scheme, endpoint
    entity.vat_exemption_reason = data.vat_exemption_reason.strip()
    db.session.flush()
    audit.record(
        acting_user,
        "legal_entity.update",
        "legal_entity",
        entity.code,
        before,
        audit.snapshot(entity, LEGAL_ENTITY_FIELDS),
    )
    return entity


@dataclass(frozen=True)
class CustomerEInvoiceInput:
    street: str
    postal_code: str
    city: str
    country_code: str
    vat_number: str
    peppol_scheme: str
    peppol_id: str
    einvoice_format: str


CUSTOMER_FIELDS = [
    "street",
    "postal_code",
    "city",
    "country_code",
    "vat_number",
    "peppol_scheme",
    "peppol_id",
    "einvoice_format",
]


def save_customer_einvoice(
    acting_user: User, customer: Customer, data: CustomerEInvoiceInput
) -> Customer:
    """A customer's address, VAT number, Peppol endpoint and e-invoice preference."""
    try:
        preference = EInvoiceFormat(data.einvoice_format)
    except ValueError:
        raise PartyInvalid(_l("Choose what the invoice email attaches.")) from None
    vat = compact_vat(data.vat_number)
    scheme, endpoint = peppol_endpoint(data.peppol_scheme, data.peppol_id)
    before = audit.snapshot(customer, CUSTOMER_FIELDS)
    _address(customer, AddressInput(data.street, data.postal_code, data.city, data.country_code))
    customer.vat_number = vat
    customer.peppol_scheme, customer.peppol_id = scheme, endpoint
    customer.einvoice_format = preference
    db.session.flush()
    audit.record(
        acting_user,
        "customer.einvoice",
        "customer",
        customer.number,
        before,
        audit.snapshot(customer, CUSTOMER_FIELDS),
    )
    return customer
