"""Invoice rows as display strings, built in one Python loop.

The invoice list renders 25 rows of ten formatted values; as Jinja calls each cost ~20 µs,
the rows' formatting took half of the page's time. The strings and their translations are
the same as the template's were.

settled() sums an invoice's settlements for its page and PDF: money paid and cash discount
shown apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote

from babel.support import NullTranslations
from flask import current_app, request, url_for
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from markupsafe import Markup, escape

from b2bshop.billing.listing import InvoicePage
from b2bshop.billing.models import InvoiceAmounts, InvoiceStatus
from b2bshop.i18n import N_, format_day
from b2bshop.money import money_formatter

try:  # MarkupSafe's C escape, returning a plain str: 13x faster than str(escape(text))
    from markupsafe._speedups import _escape_inner as _escape_text
except ImportError:  # pragma: no cover (MarkupSafe built without its C speedups)

    def _escape_text(text: str) -> str:
        return str(escape(text))


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    number: str
    status: str
    account: str
    invoice_date: str
    due_date: str
    overdue: str | None
    total: str
    balance: str
    offer: str | None
    open: bool
    #: "Payment of €X pending since …": a bank transfer on its way (or a card charge in
    #: flight) holds this much of the balance.
    pending: str | None
    #: Something is left to pay that no pending payment holds.
    payable: bool
    #: A credit note: its status is credit_open or credit_used, its balance negative.
    credit_note: bool = False


def invoice_rows(page: InvoicePage, today: date) -> list[InvoiceRow]:
    locale = get_locale()
    # One catalog lookup for the page; Flask-Babel's ngettext finds it again on every call.
    # (Named ngettext so that message extraction sees a plural.)
    ngettext = get_translations().ungettext
    names = page.account_names
    # Dates repeat down a list and a page has one currency: each is formatted once here,
    # without a cache lookup (keyed by the Locale object) for every cell.
    days: dict[date, str] = {}

    def day(value: date) -> str:
        text = days.get(value)
        if text is None:
            text = days[value] = format_day(value, locale=locale)
        return text

    formatters: dict[str, object] = {}
    rows = []
    for invoice in page.invoices:
        currency = invoice.currency
        money = formatters.get(currency)
        if money is None:
            money = formatters[currency] = money_formatter(currency, locale)
        overdue = None
        if invoice.is_overdue(today):
            days_late = (today - invoice.due_date).days
            overdue = ngettext("%(num)d day overdue", "%(num)d days overdue", days_late) % {
                "num": days_late
            }
        offer = None
        discount = invoice.cash_discount_available(today)
        if discount:
            offer = _(
                "Pay %(amount)s by %(date)s to save %(discount)s",
                amount=money(invoice.payable_amount(today)),
                date=day(invoice.cash_discount_date),
                discount=money(discount),
            )
        pending = None
        if invoice.amount_reserved:
            pending = _(
                "Payment of %(amount)s pending since %(date)s",
                amount=money(invoice.amount_reserved),
                date=format_day(invoice.reserved_since, locale=locale),
            )
        paid = invoice.status == InvoiceStatus.PAID
        credit_note = invoice.credit_note
        rows.append(
            InvoiceRow(
                number=invoice.number,
                status=status_key(invoice),
                account=names.get(invoice.customer_id, ""),
                invoice_date=day(invoice.invoice_date),
                due_date=day(invoice.due_date),
                overdue=overdue,
                total=money(invoice.total),
                balance=money(invoice.balance),
                offer=offer,
                open=not paid,
                pending=pending,
                payable=not credit_note and not paid and invoice.unreserved_balance > 0,
                credit_note=credit_note,
            )
        )
    return rows


#: The table's column labels (its header and each cell's data-label, the phone layout's
#: captions) and status names.
LABELS = {
    "select": N_("Select"),
    "number": N_("Number"),
    "account": N_("Account"),
    "invoice_date": N_("Invoice date"),
    "due_date": N_("Due date"),
    "total": N_("Total"),
    "balance": N_("Balance"),
    "status": N_("Status"),
}
STATUS_LABELS = {
    "paid": N_("Paid"),
    "unpaid": N_("Unpaid"),
    "partially_paid": N_("Partially paid"),
    "credit_open": N_("Open credit"),
    "credit_used": N_("Credit used"),
    "credit_note": N_("Credit note"),
}


@dataclass(frozen=True, slots=True)
class ListLabels:
    label: dict[str, Markup]
    status_label: dict[str, Markup]
    pay: Markup
    request: Markup


def list_labels() -> ListLabels:
    """The list's labels in the request's language: translated once per catalog and
    process, not 16 lookups per render. Markup, as the templates' _() gives them."""
    return _labels(get_translations())


@lru_cache(maxsize=16)
def _labels(translations: NullTranslations) -> ListLabels:
    def text(message: str) -> Markup:
        return Markup(translations.ugettext(message))  # nosec B704 (a catalog's text)

    return ListLabels(
        label={key: text(message) for key, message in LABELS.items()},
        status_label={key: text(message) for key, message in STATUS_LABELS.items()},
        pay=text("Pay invoice"),
        request=text("Request invoice"),
    )


def status_key(invoice: InvoiceAmounts) -> str:
    """The invoice's status as STATUS_LABELS names it: a credit note's in its own words."""
    status = invoice.status.value
    if invoice.credit_note:
        return "credit_used" if invoice.status == InvoiceStatus.PAID else "credit_open"
    return status


def status_badge(invoice: InvoiceAmounts) -> Markup:
    """The invoice's status as a badge. A template function rather than an included
    template: an include set up a context of its own, a twentieth of the invoice page."""
    label = list_labels().status_label[status_key(invoice)]
    status = escape(invoice.status.value)
    return Markup(f'<span class="status status-{status}">{label}</span>')  # nosec B704


#: The number's place in a row URL built once (url_for costs as much as a row's markup).
NUMBER = "~N~"


def row_urls() -> dict[str, str]:
    """Each row's URLs with NUMBER where its invoice number goes, and the pay form's action:
    built once per process and script root (they depend on nothing else)."""
    known = current_app.extensions.setdefault("b2bshop.invoice_row_urls", {})
    urls = known.get(request.script_root)
    if urls is None:
        urls = known[request.script_root] = {
            "show": url_for("billing.show_invoice", number=NUMBER),
            "pdf": url_for("billing.invoice_pdf", number=NUMBER),
            "ubl": url_for("billing.invoice_ubl", number=NUMBER),
            "facturx": url_for("billing.invoice_facturx", number=NUMBER),
            "request": url_for("requests.request_invoice", number=NUMBER),
            "pay": url_for("cart.add_invoice"),
        }
    return urls


#: The characters url_for leaves as they are in a path segment (werkzeug's converters).
SEGMENT_SAFE = "!$&'()*+,/:;=@"
_QUOTED = re.compile(r"[^A-Za-z0-9_.~!$&'()*+,/:;=@-]")


def url_segment(number: str) -> str:
    """An invoice number in a URL, as url_for quotes it (most need nothing)."""
    return quote(number, safe=SEGMENT_SAFE) if _QUOTED.search(number) else number


def invoice_urls(number: str) -> dict[str, str]:
    """One invoice's URLs (its page, downloads, request, the pay form's action) from
    row_urls(), the number quoted as url_for quotes it: the invoice page showed five, each
    a route built again."""
    segment = url_segment(number)
    return {key: url.replace(NUMBER, segment) for key, url in row_urls().items()}


def rows_markup(
    rows: list[InvoiceRow],
    several_accounts: bool,
    label: dict[str, str],
    status_label: dict[str, str],
    can_pay: bool,
    pay_label: str,
    request_label: str,
    urls: dict[str, str],
) -> Markup:
    """The table's rows as HTML, built in Python: as a Jinja macro, a page's 25 rows cost a
    quarter of the fragment's time (a call, an attribute lookup and an escape for each of
    ~40 values a row, the number alone escaped twelve times). Every value is escaped here
    once; labels and URLs once per page. The markup is the macro's (_invoice_list.html)."""
    esc = _escape_text  # the row values are plain strings
    lab = {k: str(escape(v)) for k, v in label.items()}  # labels may be Markup already
    stat = {k: str(escape(v)) for k, v in status_label.items()}
    pay, csrf = esc(urls["pay"]), esc(urls["csrf"])
    pay_text, request_text = str(escape(pay_label)), str(escape(request_label))
    # URLs with the number put in place of ~N~ (url_for once per page, not six times a row).
    show, pdf, ubl, facturx, ask = (
        urls[k].split(NUMBER, 1) for k in ("show", "pdf", "ubl", "facturx", "request")
    )
    out: list[str] = []
    add = out.append
    for row in rows:
        n = esc(row.number)
        raw = url_segment(row.number)
        status = esc(row.status)
        add(f'<tr id="invoice-{n}" data-status="{status}">\n')
        if can_pay:
            add('  <td class="select">')
            if row.payable:
                add(
                    f'<input type="checkbox" name="invoice" value="{n}" form="bulk-pay" '
                    f'aria-label="{lab["select"]} {n}">'
                )
            add("</td>\n")
        add(
            f'  <td data-label="{lab["number"]}" class="nowrap">'
            f'<a href="{esc(raw.join(show))}">{n}</a>'
        )
        if row.credit_note:
            add(f' <span class="status status-credit">{stat["credit_note"]}</span>')
        add("</td>\n")
        if several_accounts:
            add(f'  <td data-label="{lab["account"]}">{esc(row.account)}</td>\n')
        add(
            f'  <td data-label="{lab["invoice_date"]}" class="nowrap">'
            f"{esc(row.invoice_date)}</td>\n"
            f'  <td data-label="{lab["due_date"]}" class="nowrap"><div>{esc(row.due_date)}'
        )
        if row.overdue:
            add(f'\n    <span class="status status-overdue">{esc(row.overdue)}</span>')
        add(
            f'\n  </div></td>\n  <td data-label="{lab["total"]}" class="num">{esc(row.total)}'
            f'</td>\n  <td data-label="{lab["balance"]}" class="num"><div>{esc(row.balance)}'
        )
        if row.offer:
            add(f'\n    <div class="offer">{esc(row.offer)}</div>')
        if row.pending:
            add(f'\n    <div class="pending-payment">{esc(row.pending)}</div>')
        add(
            f'\n  </div></td>\n  <td data-label="{lab["status"]}"><span class="status '
            f'status-{status}">{stat[row.status]}</span></td>\n  <td class="actions">\n'
        )
        if can_pay and row.payable:
            add(
                f'    <span id="pay-{n}">\n    <form method="post" action="{pay}" '
                f'hx-post="{pay}" hx-target="#pay-{n}" hx-swap="innerHTML">\n'
                f'      <input type="hidden" name="csrf_token" value="{csrf}">\n'
                f'      <input type="hidden" name="invoice" value="{n}">\n'
                f'      <button type="submit" class="small primary-outline">{pay_text}'
                f'<span class="visually-hidden"> {n}</span></button>\n    </form>\n    </span>\n'
            )
        ask_url = esc(raw.join(ask))
        add(
            f'    <span class="row-links"><a href="{ask_url}" hx-get="{ask_url}" '
            f'hx-target="#dialog" hx-swap="innerHTML">{request_text}'
            f'<span class="visually-hidden"> {n}</span></a>\n'
            f'    · <a href="{esc(raw.join(pdf))}">PDF<span class="visually-hidden"> {n}'
            f'</span></a> · <a href="{esc(raw.join(ubl))}" download>UBL'
            f'<span class="visually-hidden"> {n}</span></a> · '
            f'<a href="{esc(raw.join(facturx))}" download>Factur-X'
            f'<span class="visually-hidden"> {n}</span></a></span>\n  </td>\n</tr>\n'
        )
    return Markup("".join(out))  # nosec B704


@dataclass(frozen=True, slots=True)
class Settled:
    """What the completed payments settled of an invoice: money paid and cash discount
    granted, apart (their sum is the invoice's amount_paid)."""

    paid: Decimal
    discount: Decimal


def settled(allocations: Iterable) -> Settled:
    """Sums of an invoice's settlements: anything with the allocation's amount and
    discount_amount (the page's settlement rows, the PDF's allocations)."""
    paid = discount = Decimal(0)
    for allocation in allocations:
        paid += allocation.amount
        discount += allocation.discount_amount
    return Settled(paid=paid, discount=discount)
