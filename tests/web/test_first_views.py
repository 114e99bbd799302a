"""Issue 21's faster first views keep what the list showed: its translations in every
language, its escaping and its rows' links and forms."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string
from flask_babel import force_locale, gettext, ngettext

from b2bshop.extensions import db
from tests import factories

HX = {"HX-Request": "true"}


def _buyer(app, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        group = factories.customer('Org "<b>HQ</b>" & Co')
        own = factories.customer("Own <i>", invoice_account=group)
        factories.user("fv@example.com", customer=own, password="pw")
        for i in range(n):
            factories.invoice(own, f"{10 + i}.00", days_ago=40 + i)
            factories.invoice(group, f"{20 + i}.00", days_ago=i)
        db.session.commit()


@pytest.mark.parametrize("locale", ["en", "fr", "nb", "nl"])
def test_list_labels_choices_and_counts_are_the_catalogs(app, client, login, locale):
    _buyer(app)
    login("fv@example.com", "pw")
    client.post("/locale", data={"locale": locale})
    html = client.get("/invoices?status=open", headers=HX).get_data(as_text=True)
    with app.test_request_context(), force_locale(locale):
        expected = [
            gettext("Status"),  # a lazy form label
            gettext("All accounts"),  # a lazy select choice
            gettext("Partially paid"),
            gettext("Due date, newest first"),
            gettext("Apply"),  # the filter macro's own _()
            gettext("Invoice date"),  # a column label, _() in the template
            gettext("Pay invoice"),
            gettext("Request invoice"),
            ngettext("%(num)d invoice", "%(num)d invoices", 6),
        ]
        # The rows' overdue marks (built in Python) in the language's plural form.
        overdue = re.findall(r'<span class="status status-overdue">(\d+)([^<]*)</span>', html)
        assert len(overdue) == 3, html
        for days, text in overdue:
            n = int(days)
            assert days + text == ngettext("%(num)d day overdue", "%(num)d days overdue", n) % {
                "num": n
            }
    for text in expected:
        escaped = text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")
        assert escaped in html, (locale, text)
    if locale != "en":
        assert "All accounts" not in html and "Invoice date" not in html


def test_a_render_inside_force_locale_uses_that_catalog(app, client, login):
    """The templates' gettext is bound per render: an email rendered in the recipient's
    language during a French request is in that language."""
    _buyer(app)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert render_template_string("{{ _('Invoices') }}") == "Factures"
        with force_locale("nl"):
            assert render_template_string("{{ _('Invoices') }}") == "Facturen"
            assert render_template_string(
                "{{ ngettext('%(num)d invoice', '%(num)d invoices', 2) }}"
            ) == ("2 facturen")
        # Variables are escaped, the catalog's text is not.
        assert render_template_string(
            "{{ _('Invoice %(number)s is in your cart.', number=n) }}", n="<b>"
        ) == ("La facture &lt;b&gt; est dans votre panier.")


def test_rows_escape_names_and_carry_each_invoices_links_and_pay_form(app, client, login):
    _buyer(app)
    login("fv@example.com", "pw")
    html = client.get("/invoices", headers=HX).get_data(as_text=True)
    assert "<b>HQ</b>" not in html and "Own <i>" not in html
    assert "Org &#34;&lt;b&gt;HQ&lt;/b&gt;&#34; &amp; Co" in html
    assert "Own &lt;i&gt;" in html
    numbers = re.findall(r'<tr id="invoice-([^"]+)"', html)
    assert len(numbers) == 6
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    for number in numbers:
        row = html[html.index(f'<tr id="invoice-{number}"') :]
        row = row[: row.index("</tr>")]
        for url in (
            f'href="/invoices/{number}"',
            f'href="/invoices/{number}.pdf"',
            f'hx-get="/invoices/{number}/request"',
            f'<input type="hidden" name="invoice" value="{number}">',
            f'aria-label="Select {number}"',
            f'<input type="hidden" name="csrf_token" value="{token}">',
        ):
            assert url in row, (number, url)
        assert row.count(f'<span class="visually-hidden"> {number}</span>') == 5


def test_the_invoice_page_shows_own_and_invoice_account_invoices_only(app, client, login):
    """The invoice page's lookup (one statement, built once) is scoped to the user's account
    and its invoice account: a sibling customer's or a stranger's invoice is a 404."""
    with app.app_context():
        group = factories.customer("Group")
        own = factories.customer("Own", invoice_account=group)
        sibling = factories.customer("Sibling", invoice_account=group)
        stranger = factories.customer("Stranger")
        factories.user("fv@example.com", customer=own, password="pw")
        numbers = {
            c.name: factories.invoice(c, "10.00").number for c in (group, own, sibling, stranger)
        }
        db.session.commit()
    login("fv@example.com", "pw")
    for name, status in (("Own", 200), ("Group", 200), ("Sibling", 404), ("Stranger", 404)):
        response = client.get(f"/invoices/{numbers[name]}")
        assert response.status_code == status, name
        if status == 200:
            assert numbers[name] in response.get_data(as_text=True)
    assert client.get("/invoices/INV-9999999").status_code == 404
