"""PDF documents (fpdf2): the invoice and the statement of account, in the current locale."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from b2bshop.billing.models import Invoice
from b2bshop.billing.presenters import settled
from b2bshop.billing.service import Statement
from b2bshop.i18n import format_day as format_date
from b2bshop.money import format_money, plain_decimal

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
BRAND = (31, 78, 121)


class _Document(FPDF):
    def __init__(self, title: str, *, pdfa: bool = False) -> None:
        # PDF/A-3b for Factur-X (einvoice/facturx_pdf.py): fonts embedded, sRGB output
        # intent and XMP metadata, which fpdf2 adds when it enforces the profile.
        super().__init__(format="A4", enforce_compliance="PDFA_3B" if pdfa else None)
        # DejaVu covers €, ø, é ... which the PDF core fonts do not.
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans-Latin.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold-Latin.ttf"))
        self.set_title(title)
        self.set_creator(current_app.config["STORE_NAME"])
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.add_page()

    #: Printed across each page (a pro forma's warning); empty for real documents.
    stamp = ""

    def header(self) -> None:
        if self.stamp:
            self.draw_stamp()

    def draw_stamp(self) -> None:
        y = self.get_y()
        self.set_font("DejaVu", "B", 11)
        self.set_text_color(179, 38, 30)
        self.set_xy(self.l_margin, 8)
        self.cell(0, 6, self.stamp, align="C")
        self.set_text_color(0, 0, 0)
        self.set_y(max(y, 18))

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(120, 120, 120)
        self.cell(0, 5, _("Page %(page)s", page=self.page_no()), align="C")

    def heading(self, seller_name: str, seller_address: str, title: str, legal: str = "") -> None:
        self.set_font("DejaVu", "B", 16)
        self.set_text_color(*BRAND)
        self.cell(0, 8, seller_name, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "", 9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, seller_address, new_x="LMARGIN", new_y="NEXT")
        if legal:
            self.cell(0, 5, legal, new_x="LMARGIN", new_y="NEXT")
        self.ln(6)
        self.set_text_color(0, 0, 0)
        self.set_font("DejaVu", "B", 14)
        self.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def block(self, heading: str, lines: list[str]) -> None:
        """A labelled block of short lines: the billed customer, the payment instructions."""
        self.set_font("DejaVu", "B", 10)
        self.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "", 10)
        for line in lines:
            self.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_font("DejaVu", "", 10)
            self.cell(48, 6, label)
            self.set_font("DejaVu", "B", 10)
            self.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def grid(
        self, header: list[str], rows: list[list[str]], widths: tuple[int, ...], numeric: set[int]
    ) -> None:
        self.set_font("DejaVu", "", 9)
        head_style = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=BRAND)
        align = tuple("RIGHT" if i in numeric else "LEFT" for i in range(len(header)))
        with self.table(
            col_widths=widths,
            text_align=align,
            headings_style=head_style,
            line_height=6,
            borders_layout="HORIZONTAL_LINES",
        ) as table:
            table.row(header)
            for row in rows:
                table.row(row)
        self.ln(4)


def invoice_pdf(
    invoice: Invoice,
    settlements: list,
    today: date,
    *,
    pro_forma: bool = False,
    pdfa: bool = False,
) -> bytes:
    """The invoice as a PDF. A pro forma (SPEC B8) has no number and says on every page
    that it is not an invoice and not to be paid."""
    entity = invoice.customer.legal_entity
    money = partial(format_money, currency=invoice.currency)
    if pro_forma:
        title = _("PRO FORMA")
    elif invoice.credit_note:
        title = _("Credit note %(number)s", number=invoice.number)
    else:
        title = _("Invoice %(number)s", number=invoice.number)
    doc = _Document(title, pdfa=pdfa)
    if pro_forma:
        doc.stamp = _("PRO FORMA – not an invoice, do not pay")
        doc.draw_stamp()
    doc.heading(entity.name, entity.postal_address, title, seller_legal_line(entity))
    customer = invoice.customer
    doc.block(
        _("Bill to"),
        [
            f"{customer.name} ({customer.number})",
            *([customer.postal_address] if customer.postal_address else []),
            *(
                [_("VAT number %(number)s", number=customer.vat_number)]
                if customer.vat_number
                else []
            ),
        ],
    )
    facts = [(_("Invoice date"), format_date(invoice.invoice_date))]
    if invoice.credit_note:
        if invoice.credited_invoice is not None:
            facts.append((_("Corrects invoice"), invoice.credited_invoice.number))
    else:
        facts.append((_("Due date"), format_date(invoice.due_date)))
        facts.append((_("Payment terms"), invoice.terms.name))
    # The discount offer only while it runs (an invoice paid or past its date has none).
    if invoice.cash_discount_open(today):
        facts.append(
            (
                _("Cash discount"),
                _(
                    "%(amount)s if paid by %(date)s",
                    amount=money(invoice.cash_discount_amount),
                    date=format_date(invoice.cash_discount_date),
                ),
            )
        )
    doc.facts(facts)
    doc.grid(
        [_("Description"), _("Quantity"), _("Unit price"), _("Tax"), _("Amount")],
        [
            [
                line.description,
                plain_decimal(line.quantity),
                money(line.unit_price),
                f"{plain_decimal(line.tax_rate)} %",
                money(line.net_amount),
            ]
            for line in invoice.lines
        ],
        (80, 20, 28, 16, 30),
        {1, 2, 3, 4},
    )
    totals = [
        (_("Subtotal"), money(invoice.subtotal)),
        (_("Tax"), money(invoice.tax)),
        (_("Total"), money(invoice.total)),
    ]
    if settlements:
        # Like the invoice page: money paid and cash discount granted apart, then each
        # payment on its own row.
        sums = settled(allocation for _payment, allocation in settlements)
        used = _("Credit used") if invoice.credit_note else _("Paid")
        totals.append((used, "−" + money(sums.paid)))
        if sums.discount:
            totals.append((_("Cash discount"), "−" + money(sums.discount)))
    if not pro_forma:  # an estimate: nothing is owed on it
        totals.append((_("Balance"), money(invoice.balance)))
    for label, value in totals:
        doc.set_font("DejaVu", "B" if label in (_("Total"), _("Balance")) else "", 10)
        doc.cell(130, 6, label, align="R")
        doc.cell(0, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    if any(line.tax_rate == 0 for line in invoice.lines):
        reason = entity.vat_exemption_reason or _("Exempt from VAT")
        doc.block(_("VAT exemption"), [_("Lines at 0 %%: %(reason)s", reason=reason)])
    if not pro_forma and not invoice.credit_note and invoice.balance > 0 and entity.iban:
        doc.block(_("Payment instructions"), payment_instructions(invoice, today))
    if invoice.credit_note and not pro_forma:
        doc.block(_("Credit"), [_("This credit note is settled against your open invoices.")])
    if settlements:
        doc.set_font("DejaVu", "B", 11)
        doc.cell(0, 7, _("Payments and settlements"), new_x="LMARGIN", new_y="NEXT")
        doc.grid(
            [_("Date"), _("Payment"), _("Amount"), _("Cash discount")],
            [
                [
                    format_date(payment.created_at),
                    payment.number,
                    money(allocation.amount),
                    money(allocation.discount_amount) if allocation.discount_amount else "—",
                ]
                for payment, allocation in settlements
            ],
            (40, 54, 40, 40),
            {2, 3},
        )
    return bytes(doc.output())


def seller_legal_line(entity) -> str:  # type: ignore[no-untyped-def]
    """The seller's VAT and company registration numbers, as the law wants them printed."""
    parts = []
    if entity.vat_number:
        parts.append(_("VAT number %(number)s", number=entity.vat_number))
    if entity.registration_number:
        parts.append(_("Company registration %(number)s", number=entity.registration_number))
    return " · ".join(parts)


def payment_instructions(invoice: Invoice, today: date) -> list[str]:
    """Where and how to pay: the account, and the invoice number as the payment reference.
    The amount is the balance, or the discounted balance while the cash discount runs."""
    entity = invoice.customer.legal_entity
    account = f"IBAN {entity.iban}" + (f" · BIC {entity.bic}" if entity.bic else "")
    lines = [
        _(
            "Please transfer %(amount)s to %(name)s by %(date)s.",
            amount=format_money(invoice.balance, invoice.currency),
            date=format_date(invoice.due_date),
            name=entity.name,
        ),
        account,
        _("Payment reference: %(number)s", number=invoice.number),
    ]
    discount = invoice.cash_discount_available(today)
    if discount:
        lines.insert(
            1,
            _(
                "Pay %(amount)s by %(date)s to save %(discount)s",
                amount=format_money(invoice.payable_amount(today), invoice.currency),
                date=format_date(invoice.cash_discount_date),
                discount=format_money(discount, invoice.currency),
            ),
        )
    return lines


def statement_pdf(statement: Statement, customer_name: str) -> bytes:
    money = partial(format_money, currency=statement.currency or "EUR")
    labels = bucket_labels()
    doc = _Document(_("Statement of account"))
    entity = statement.accounts[0].account.legal_entity if statement.accounts else None
    doc.heading(
        entity.name if entity else "",
        entity.postal_address if entity else "",
        _("Statement of account"),
        seller_legal_line(entity) if entity else "",
    )
    doc.facts([(_("Customer"), customer_name), (_("Date"), format_date(statement.today))])
    doc.grid(
        [*labels.values(), _("Total")],
        [[money(v) for v in statement.buckets.values()] + [money(statement.total)]],
        (29, 29, 29, 29, 29, 29),
        {0, 1, 2, 3, 4, 5},
    )
    for account_statement in statement.accounts:
        doc.set_font("DejaVu", "B", 11)
        doc.cell(
            0,
            7,
            f"{account_statement.account.name} ({account_statement.account.number})",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if not account_statement.invoices:
            doc.set_font("DejaVu", "", 9)
            doc.cell(0, 6, _("No open items."), new_x="LMARGIN", new_y="NEXT")
            doc.ln(3)
            continue
        from b2bshop.billing.service import aging_bucket

        doc.grid(
            [_("Number"), _("Invoice date"), _("Due date"), _("Total"), _("Balance"), _("Age")],
            [
                [
                    i.number,
                    format_date(i.invoice_date),
                    format_date(i.due_date),
                    money(i.total),
                    money(i.balance),
                    # Open credit is never overdue (service.statement_of_account).
                    labels[
                        "not_due" if i.credit_note else aging_bucket(i.due_date, statement.today)
                    ],
                ]
                for i in account_statement.invoices
            ],
            (30, 28, 28, 30, 30, 28),
            {3, 4},
        )
        doc.set_font("DejaVu", "B", 10)
        doc.cell(146, 6, _("Open balance"), align="R")
        doc.cell(0, 6, money(account_statement.total), align="R", new_x="LMARGIN", new_y="NEXT")
        doc.ln(4)
    return bytes(doc.output())


def bucket_labels() -> dict[str, str]:
    return {
        "not_due": _("Not due"),
        "1_30": _("1–30 days"),
        "31_60": _("31–60 days"),
        "61_90": _("61–90 days"),
        "over_90": _("Over 90 days"),
    }
