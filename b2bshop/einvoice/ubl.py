"""UBL 2.1 Invoice and CreditNote, Peppol BIS Billing 3.0, from the semantic model.

Elements are written in the order the UBL 2.1 schemas require (tests check the output
against those schemas and the CEN EN 16931 rules).
"""

from __future__ import annotations

from lxml import etree

from b2bshop.einvoice.document import (
    CREDIT_TRANSFER,
    PEPPOL_CUSTOMIZATION_ID,
    PEPPOL_PROFILE_ID,
    UNIT_CODE,
    EDocument,
    Party,
    amount,
    plain,
)

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
ROOT_NS = {
    False: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    True: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}


def _cbc(parent: etree._Element, name: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{name}", attrs)
    element.text = text
    return element


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def _money(parent: etree._Element, name: str, value, currency: str) -> None:  # type: ignore[no-untyped-def]
    _cbc(parent, name, amount(value), currencyID=currency)


def _address(parent: etree._Element, name: str, party: Party) -> None:
    address = _cac(parent, name)
    if party.street:
        _cbc(address, "StreetName", party.street)
    if party.city:
        _cbc(address, "CityName", party.city)
    if party.postal_code:
        _cbc(address, "PostalZone", party.postal_code)
    if party.country_code:
        _cbc(_cac(address, "Country"), "IdentificationCode", party.country_code)


def _party(parent: etree._Element, name: str, party: Party) -> None:
    element = _cac(_cac(parent, name), "Party")
    if party.endpoint_id:
        _cbc(element, "EndpointID", party.endpoint_id, schemeID=party.endpoint_scheme)
    if party.identifier:
        _cbc(_cac(element, "PartyIdentification"), "ID", party.identifier)
    _cbc(_cac(element, "PartyName"), "Name", party.name)
    _address(element, "PostalAddress", party)
    if party.vat_number:
        tax_scheme = _cac(element, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_number)
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.registration_number:
        scheme = {"schemeID": party.registration_scheme} if party.registration_scheme else {}
        _cbc(legal, "CompanyID", party.registration_number, **scheme)


def _tax_category(parent: etree._Element, name: str, category: str, rate, reason: str = "") -> None:  # type: ignore[no-untyped-def]
    element = _cac(parent, name)
    _cbc(element, "ID", category)
    _cbc(element, "Percent", plain(rate))
    if reason:
        _cbc(element, "TaxExemptionReason", reason)
    _cbc(_cac(element, "TaxScheme"), "ID", "VAT")


def to_xml(doc: EDocument) -> bytes:
    """The document as UTF-8 XML bytes."""
    credit = doc.credit_note
    root = etree.Element(
        "CreditNote" if credit else "Invoice",
        nsmap={None: ROOT_NS[credit], "cac": CAC, "cbc": CBC},
    )
    root.tag = f"{{{ROOT_NS[credit]}}}{'CreditNote' if credit else 'Invoice'}"
    cur = doc.currency
    _cbc(root, "CustomizationID", PEPPOL_CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PEPPOL_PROFILE_ID)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if doc.due_date and not credit:
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", doc.type_code)
    for note in doc.notes:
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", cur)
    _cbc(root, "BuyerReference", doc.buyer_reference)
    if doc.sales_order:
        order = _cac(root, "OrderReference")
        _cbc(order, "ID", "NA")  # no buyer's order number: Peppol's "NA" (BT-13)
        _cbc(order, "SalesOrderID", doc.sales_order)
    if doc.preceding_invoice:
        number, issued = doc.preceding_invoice
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", number)
        _cbc(reference, "IssueDate", issued.isoformat())
    if doc.delivery and doc.delivery.despatch_advice:
        _cbc(_cac(root, "DespatchDocumentReference"), "ID", doc.delivery.despatch_advice)
    _party(root, "AccountingSupplierParty", doc.seller)
    _party(root, "AccountingCustomerParty", doc.buyer)
    if doc.delivery:
        delivery = _cac(root, "Delivery")
        if doc.delivery.date:
            _cbc(delivery, "ActualDeliveryDate", doc.delivery.date.isoformat())
        if doc.delivery.party is not None:
            _address(_cac(delivery, "DeliveryLocation"), "Address", doc.delivery.party)
        if doc.delivery.name:
            _cbc(_cac(_cac(delivery, "DeliveryParty"), "PartyName"), "Name", doc.delivery.name)
    if doc.iban and not credit:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", CREDIT_TRANSFER)
        _cbc(means, "PaymentID", doc.number)
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", doc.iban)
        _cbc(account, "Name", doc.seller.name)
        if doc.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", doc.bic)
    if doc.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_terms)
    tax_total = _cac(root, "TaxTotal")
    _money(tax_total, "TaxAmount", doc.tax_total, cur)
    for group in doc.tax_groups:
        subtotal = _cac(tax_total, "TaxSubtotal")
        _money(subtotal, "TaxableAmount", group.taxable, cur)
        _money(subtotal, "TaxAmount", group.tax, cur)
        _tax_category(subtotal, "TaxCategory", group.category, group.rate, group.exemption_reason)
    totals = _cac(root, "LegalMonetaryTotal")
    _money(totals, "LineExtensionAmount", doc.line_total, cur)
    _money(totals, "TaxExclusiveAmount", doc.line_total, cur)
    _money(totals, "TaxInclusiveAmount", doc.total, cur)
    if doc.prepaid:
        _money(totals, "PrepaidAmount", doc.prepaid, cur)
    _money(totals, "PayableAmount", doc.payable, cur)
    for line in doc.lines:
        element = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        _cbc(element, "ID", line.line_id)
        if line.note:
            _cbc(element, "Note", line.note)
        _cbc(
            element,
            "CreditedQuantity" if credit else "InvoicedQuantity",
            plain(line.quantity),
            unitCode=UNIT_CODE,
        )
        _money(element, "LineExtensionAmount", line.net_amount, cur)
        item = _cac(element, "Item")
        _cbc(item, "Name", line.name)
        if line.seller_item_id:
            _cbc(_cac(item, "SellersItemIdentification"), "ID", line.seller_item_id)
        _tax_category(item, "ClassifiedTaxCategory", line.category, line.rate)
        _money(_cac(element, "Price"), "PriceAmount", line.unit_price, cur)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
