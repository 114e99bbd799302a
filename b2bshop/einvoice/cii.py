"""UN/CEFACT CII (CrossIndustryInvoice D16B), Factur-X EN 16931 profile, from the semantic
model. Elements in the order the Factur-X EN 16931 schema requires; the factur-x library
checks the result against that schema when it builds the PDF."""

from __future__ import annotations

from datetime import date

from lxml import etree

from b2bshop.einvoice.document import (
    CII_GUIDELINE_ID,
    CREDIT_TRANSFER,
    UNIT_CODE,
    EDocument,
    Party,
    amount,
    plain,
)

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def _el(parent: etree._Element, name: str, text: str | None = None, ns: str = RAM, **attrs: str):  # type: ignore[no-untyped-def]
    element = etree.SubElement(parent, f"{{{ns}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, name: str, value: date, ns: str = UDT) -> None:
    _el(_el(parent, name), "DateTimeString", value.strftime("%Y%m%d"), ns=ns, format="102")


def _party(parent: etree._Element, name: str, party: Party) -> None:
    element = _el(parent, name)
    if party.identifier:
        _el(element, "ID", party.identifier)
    _el(element, "Name", party.name)
    if party.registration_number:
        scheme = {"schemeID": party.registration_scheme} if party.registration_scheme else {}
        _el(_el(element, "SpecifiedLegalOrganization"), "ID", party.registration_number, **scheme)
    _address(element, party)
    if party.endpoint_id:
        _el(
            _el(element, "URIUniversalCommunication"),
            "URIID",
            party.endpoint_id,
            schemeID=party.endpoint_scheme,
        )
    if party.vat_number:
        _el(_el(element, "SpecifiedTaxRegistration"), "ID", party.vat_number, schemeID="VA")


def _address(parent: etree._Element, party: Party) -> None:
    address = _el(parent, "PostalTradeAddress")
    if party.postal_code:
        _el(address, "PostcodeCode", party.postal_code)
    if party.street:
        _el(address, "LineOne", party.street)
    if party.city:
        _el(address, "CityName", party.city)
    if party.country_code:
        _el(address, "CountryID", party.country_code)


def to_xml(doc: EDocument) -> bytes:
    """The document as UTF-8 XML bytes."""
    cur = doc.currency
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, "ExchangedDocumentContext", ns=RSM)
    _el(_el(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", CII_GUIDELINE_ID)
    header = _el(root, "ExchangedDocument", ns=RSM)
    _el(header, "ID", doc.number)
    _el(header, "TypeCode", doc.type_code)
    _date(header, "IssueDateTime", doc.issue_date)
    for note in doc.notes:
        _el(_el(header, "IncludedNote"), "Content", note)
    transaction = _el(root, "SupplyChainTradeTransaction", ns=RSM)
    for line in doc.lines:
        item = _el(transaction, "IncludedSupplyChainTradeLineItem")
        document = _el(item, "AssociatedDocumentLineDocument")
        _el(document, "LineID", line.line_id)
        if line.note:
            _el(_el(document, "IncludedNote"), "Content", line.note)
        product = _el(item, "SpecifiedTradeProduct")
        if line.seller_item_id:
            _el(product, "SellerAssignedID", line.seller_item_id)
        _el(product, "Name", line.name)
        agreement = _el(item, "SpecifiedLineTradeAgreement")
        _el(_el(agreement, "NetPriceProductTradePrice"), "ChargeAmount", amount(line.unit_price))
        _el(
            _el(item, "SpecifiedLineTradeDelivery"),
            "BilledQuantity",
            plain(line.quantity),
            unitCode=UNIT_CODE,
        )
        settlement = _el(item, "SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ApplicableTradeTax")
        _el(tax, "TypeCode", "VAT")
        _el(tax, "CategoryCode", line.category)
        _el(tax, "RateApplicablePercent", plain(line.rate))
        _el(
            _el(settlement, "SpecifiedTradeSettlementLineMonetarySummation"),
            "LineTotalAmount",
            amount(line.net_amount),
        )
    agreement = _el(transaction, "ApplicableHeaderTradeAgreement")
    _el(agreement, "BuyerReference", doc.buyer_reference)
    _party(agreement, "SellerTradeParty", doc.seller)
    _party(agreement, "BuyerTradeParty", doc.buyer)
    if doc.sales_order:
        _el(_el(agreement, "SellerOrderReferencedDocument"), "IssuerAssignedID", doc.sales_order)
    delivery = _el(transaction, "ApplicableHeaderTradeDelivery")
    if doc.delivery:
        if doc.delivery.name:
            ship_to = _el(delivery, "ShipToTradeParty")
            _el(ship_to, "Name", doc.delivery.name)
            if doc.delivery.party is not None:
                _address(ship_to, doc.delivery.party)
        if doc.delivery.date:
            event = _el(delivery, "ActualDeliverySupplyChainEvent")
            _date(event, "OccurrenceDateTime", doc.delivery.date)
        if doc.delivery.despatch_advice:
            _el(
                _el(delivery, "DespatchAdviceReferencedDocument"),
                "IssuerAssignedID",
                doc.delivery.despatch_advice,
            )
    settlement = _el(transaction, "ApplicableHeaderTradeSettlement")
    if not doc.credit_note:
        _el(settlement, "PaymentReference", doc.number)
    _el(settlement, "InvoiceCurrencyCode", cur)
    if doc.iban and not doc.credit_note:
        means = _el(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _el(means, "TypeCode", CREDIT_TRANSFER)
        account = _el(means, "PayeePartyCreditorFinancialAccount")
        _el(account, "IBANID", doc.iban)
        _el(account, "AccountName", doc.seller.name)
        if doc.bic:
            _el(_el(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.bic)
    for group in doc.tax_groups:
        tax = _el(settlement, "ApplicableTradeTax")
        _el(tax, "CalculatedAmount", amount(group.tax))
        _el(tax, "TypeCode", "VAT")
        if group.exemption_reason:
            _el(tax, "ExemptionReason", group.exemption_reason)
        _el(tax, "BasisAmount", amount(group.taxable))
        _el(tax, "CategoryCode", group.category)
        _el(tax, "RateApplicablePercent", plain(group.rate))
    if doc.payment_terms or doc.due_date:
        terms = _el(settlement, "SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _el(terms, "Description", doc.payment_terms)
        if doc.due_date:
            _date(terms, "DueDateDateTime", doc.due_date)
    totals = _el(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(totals, "LineTotalAmount", amount(doc.line_total))
    _el(totals, "TaxBasisTotalAmount", amount(doc.line_total))
    _el(totals, "TaxTotalAmount", amount(doc.tax_total), currencyID=cur)
    _el(totals, "GrandTotalAmount", amount(doc.total))
    if doc.prepaid:
        _el(totals, "TotalPrepaidAmount", amount(doc.prepaid))
    _el(totals, "DuePayableAmount", amount(doc.payable))
    if doc.preceding_invoice:
        number, issued = doc.preceding_invoice
        reference = _el(settlement, "InvoiceReferencedDocument")
        _el(reference, "IssuerAssignedID", number)
        _date(reference, "FormattedIssueDateTime", issued, ns=QDT)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
