"""Legal entities and intercompany through the web (issue 20): the admin's entity switcher
and limits, every admin list and lookup in the selected entity (another entity's record is
a 404), the storefront of STORE_ENTITY only, and the payment journal pages: refusals change
nothing, a moved journal is a 409, a missing CSRF token a 400, constant queries."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role, User
from b2bshop.entities import service as entities
from b2bshop.extensions import db
from b2bshop.intercompany import service
from b2bshop.intercompany.models import PaymentJournal, VendorInvoice
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.test_query_counts import count_queries

HX = {"HX-Request": "true"}
TODAY = date.today()


@pytest.fixture
def group(app):
    """NL (the store's, first) sells to NO: two invoices of the intercompany customer, an
    ordinary customer and its buyer in each entity, one store admin for all."""
    with app.app_context():
        relation = factories.intercompany(auto_post=True)
        nl, no = factories.legal_entity(), factories.second_entity()
        first = factories.invoice(relation.customer, "100.00", days_ago=9)
        second = factories.invoice(relation.customer, "50.00", days_ago=8)
        nl_customer = factories.customer("Dutch Buyer BV")
        no_customer = factories.customer_of(no, "Norsk Kjøper AS")
        factories.user("nl@buyer.example", customer=nl_customer, password="pw")
        factories.user("no@buyer.example", customer=no_customer, password="pw")
        nl_invoice = factories.invoice(nl_customer, "10.00")
        no_invoice = factories.invoice(no_customer, "20.00")
        factories.product("NL-ONLY")
        factories.product_of(no, "NO-ONLY")
        factories.user("admin@group.example", role=Role.STORE_ADMIN, password="pw")
        vendor_invoices = [
            db.session.scalar(
                select(VendorInvoice.id).where(VendorInvoice.customer_invoice_id == i.id)
            )
            for i in (first, second)
        ]
        db.session.commit()
        return {
            "nl": nl.id,
            "no": no.id,
            "vendor": relation.vendor_id,
            "vendor_invoices": vendor_invoices,
            "nl_invoice": nl_invoice.number,
            "no_invoice": no_invoice.number,
            "nl_customer": nl_customer.id,
            "no_customer": no_customer.id,
            "relation": relation.id,
        }


def _admin(client, login):
    return login("admin@group.example", "pw", client)


def _switch(client, entity_id):
    return client.post("/admin/entity", data={"entity_id": str(entity_id)})


def test_the_switcher_scopes_every_list_and_lookup(client, login, group):
    _admin(client, login)
    page = client.get("/admin/invoices").get_data(as_text=True)
    assert 'id="entity-switcher"' in page
    assert group["nl_invoice"] in page and group["no_invoice"] not in page
    assert client.get(f"/admin/invoices/{group['no_invoice']}").status_code == 404
    assert client.get(f"/admin/customers/{group['no_customer']}").status_code == 404
    assert _switch(client, group["no"]).status_code == 302
    page = client.get("/admin/invoices", headers=HX).get_data(as_text=True)
    assert group["no_invoice"] in page and group["nl_invoice"] not in page
    assert client.get(f"/admin/invoices/{group['nl_invoice']}").status_code == 404
    assert client.get(f"/admin/invoices/{group['no_invoice']}").status_code == 200
    assert client.get(f"/admin/customers/{group['nl_customer']}").status_code == 404
    products = client.get("/admin/products", headers=HX).get_data(as_text=True)
    assert "NO-ONLY" in products and "NL-ONLY" not in products
    customers = client.get("/admin/customers", headers=HX).get_data(as_text=True)
    assert "Norsk Kjøper AS" in customers and "Dutch Buyer BV" not in customers
    # The choices of the forms that make documents are the entity's too.
    for url in ("/admin/orders/new", "/admin/payments/new", "/admin/free-text/new"):
        form = client.get(url).get_data(as_text=True)
        assert "Norsk Kjøper AS" in form and "Dutch Buyer BV" not in form, url
    new_order = client.get("/admin/orders/new").get_data(as_text=True)
    assert "NO-ONLY" in new_order and "NL-ONLY" not in new_order
    new_po = client.get("/admin/purchase-orders/new").get_data(as_text=True)
    assert "NO-ONLY" in new_po and "NL-ONLY" not in new_po


def test_an_unknown_entity_cannot_be_chosen(client, login, group):
    _admin(client, login)
    for bad in ("999", "0", "-1", "x", "99999999999999999999"):
        assert client.post("/admin/entity", data={"entity_id": bad}).status_code == 404
    assert group["nl_invoice"] in client.get("/admin/invoices").get_data(as_text=True)


def test_a_limited_admin_acts_in_its_entities_only(client, login, group, app):
    with app.app_context():
        boss = factories.user("boss@group.example", role=Role.STORE_ADMIN, password="pw")
        limited = db.session.scalar(
            select(type(boss)).where(type(boss).email == "admin@group.example")
        )
        entities.limit_admin(boss, limited, [group["no"]])
        db.session.commit()
    _admin(client, login)
    page = client.get("/admin/invoices").get_data(as_text=True)
    assert group["no_invoice"] in page and group["nl_invoice"] not in page
    assert 'id="entity-switcher"' not in page and "b2bshop NO" in page
    assert _switch(client, group["nl"]).status_code == 404
    assert client.get(f"/admin/invoices/{group['nl_invoice']}").status_code == 404


def test_limits_page_saves_and_refuses_unknown_entities(client, login, group, app):
    _admin(client, login)
    with app.app_context():
        me = db.session.scalar(select(User).where(User.email == "admin@group.example"))
        me_id = me.id
    url = f"/admin/admins/{me_id}/entities"
    assert client.get(url).status_code == 200
    refused = client.post(url, data={"entity_id": ["999"]})
    assert refused.status_code == 200 and "cannot be chosen" in refused.get_data(as_text=True)
    listed = client.get("/admin/admins").get_data(as_text=True)
    assert url in listed and '<td data-label="Legal entities">All</td>' in listed
    assert client.post(url, data={"entity_id": [str(group["nl"])]}).status_code == 302
    listed = client.get("/admin/admins").get_data(as_text=True)
    assert '<td data-label="Legal entities">TST</td>' in listed
    assert client.get("/admin/admins/999/entities").status_code == 404


@pytest.mark.parametrize(
    ("email", "store_entity", "signs_in"),
    [
        ("nl@buyer.example", "", True),
        ("no@buyer.example", "", False),
        ("no@buyer.example", "NO", True),
        ("nl@buyer.example", "NO", False),
    ],
)
def test_the_store_serves_one_entity(make_app, group, email, store_entity, signs_in):
    app = make_app(STORE_ENTITY=store_entity)
    client = app.test_client()
    answer = client.post("/login", data={"email": email, "password": "pw"})
    if not signs_in:
        # What a wrong password hears: nothing tells the visitor the account exists.
        assert answer.status_code == 401
        assert "Email or password is wrong." in answer.get_data(as_text=True)
        return
    assert answer.status_code == 302
    catalog = client.get("/catalog").get_data(as_text=True)
    own, foreign = ("NO-ONLY", "NL-ONLY") if store_entity == "NO" else ("NL-ONLY", "NO-ONLY")
    assert own in catalog and foreign not in catalog
    assert client.post("/cart/items", data={"sku": foreign, "quantity": "1"}).status_code in (
        404,
        422,
    )


def test_a_signed_in_buyer_of_another_entity_is_signed_out(make_app, group):
    """A session made on the NO store is worth nothing on the NL store's app."""
    no_store = make_app(STORE_ENTITY="NO")
    client = no_store.test_client()
    assert (
        client.post("/login", data={"email": "no@buyer.example", "password": "pw"}).status_code
        == 302
    )
    assert client.get("/invoices").status_code == 200
    nl_store = make_app(STORE_ENTITY="")
    other = nl_store.test_client()
    for cookie in client._cookies.values():  # the same browser, the other store
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert other.get("/invoices").status_code == 302  # to the sign-in page


def _new_journal(client, group, amount="150.00", invoices=None, key="k-1"):
    form = client.get(f"/admin/journals/new?vendor_id={group['vendor']}").get_data(as_text=True)
    ids = group["vendor_invoices"] if invoices is None else invoices
    return client.post(
        f"/admin/journals/new?vendor_id={group['vendor']}",
        data={
            "csrf_token": csrf_token_from(form),
            "vendor_id": str(group["vendor"]),
            "invoice_id": [str(i) for i in ids],
            "amount": amount,
            "paid_on": TODAY.isoformat(),
            "idempotency_key": key,
            "save": "1",
        },
    )


def test_vendor_journal_posted_in_the_buying_entity_pays_the_sellers_invoices(
    client, login, group, app
):
    _admin(client, login)
    # In NL the vendor is not there.
    assert client.get(f"/admin/journals/new?vendor_id={group['vendor']}").status_code == 200
    assert _new_journal(client, group).status_code == 422
    _switch(client, group["no"])
    made = _new_journal(client, group)
    assert made.status_code == 302
    number = made.headers["Location"].rsplit("/", 1)[1]
    assert number.startswith("NO-VPJ-")
    again = _new_journal(client, group)  # the same form twice: the same draft
    assert again.headers["Location"].endswith(number)
    page = client.get(f"/admin/journals/{number}").get_data(as_text=True)
    assert "Draft" in page
    posted = client.post(f"/admin/journals/{number}/post")
    assert posted.status_code == 303
    stale = client.post(f"/admin/journals/{number}/post")
    assert stale.status_code == 409
    assert "changed meanwhile" in stale.get_data(as_text=True)
    with app.app_context():
        journal = db.session.scalar(select(PaymentJournal).where(PaymentJournal.number == number))
        customer_journal = journal.customer_journal
        assert customer_journal.status == "posted" and customer_journal.number.startswith("CPJ-")
        relation = db.session.get(service.IntercompanyRelation, group["relation"])
        balances = service.balances(relation)
        assert balances.customer_open == balances.vendor_open == Decimal("0.00")
        customer_number = customer_journal.number
    # The customer side is NL's: a 404 from NO, shown after switching.
    assert client.get(f"/admin/journals/{customer_number}").status_code == 404
    _switch(client, group["nl"])
    assert "Posted" in client.get(f"/admin/journals/{customer_number}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("amount", "invoices", "message"),
    [
        ("0", None, "greater than zero"),
        ("abc", None, "greater than zero"),
        ("1e30", None, "greater than zero"),
        ("150.01", None, "more than the chosen invoices have open"),
        ("10", [], "Choose open invoices"),
        ("10", [999999], "Choose open invoices"),
    ],
)
def test_bad_journals_are_refused_and_change_nothing(
    client, login, group, app, amount, invoices, message
):
    _admin(client, login)
    _switch(client, group["no"])
    answer = _new_journal(client, group, amount, invoices)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert message in html and 'class="error-summary"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentJournal)) == 0


def test_a_failed_auto_post_is_listed_and_resolved_by_reversal(client, login, group, app):
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@group.example"))
        relation = db.session.get(service.IntercompanyRelation, group["relation"])
        # Paid outside the chain meanwhile: the automatic posting must fail.
        first = relation.customer  # noqa: F841 - kept for readability of the setup
        from b2bshop.billing.models import Invoice
        from b2bshop.payments.models import PaymentMethod
        from b2bshop.payments.service import Allocation, create_payment

        invoice = db.session.scalar(
            select(Invoice).where(Invoice.customer_id == relation.customer_id).order_by(Invoice.id)
        )
        create_payment(
            admin, relation.customer, [Allocation(invoice.id, invoice.total)], PaymentMethod.MANUAL
        )
        db.session.commit()
    _admin(client, login)
    _switch(client, group["no"])
    made = _new_journal(client, group, "100.00", group["vendor_invoices"][:1])
    number = made.headers["Location"].rsplit("/", 1)[1]
    posted = client.post(f"/admin/journals/{number}/post", follow_redirects=True)
    assert "could not be posted" in posted.get_data(as_text=True)
    _switch(client, group["nl"])
    listed = client.get("/admin/journals?status=attention", headers=HX).get_data(as_text=True)
    match = re.search(r"/admin/journals/(CPJ-\d+)", listed)
    assert match and "already paid" in listed
    page = client.get(f"/admin/journals/{match.group(1)}").get_data(as_text=True)
    assert 'id="attention"' in page and 'id="adjust-journal"' in page
    assert client.post(f"/admin/journals/{match.group(1)}/reverse").status_code == 303
    assert client.post(f"/admin/journals/{match.group(1)}/reverse").status_code == 409
    assert "1 journal" not in client.get("/admin/journals?status=attention", headers=HX).get_data(
        as_text=True
    )


def test_journal_actions_need_a_csrf_token(make_app, group, login):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": "admin@group.example",
            "password": "pw",
            "csrf_token": csrf_token_from(form),
        },
    )
    for url in ("/admin/entity", "/admin/journals/VPJ-000001/post", "/admin/intercompany"):
        answer = client.post(url, data={"entity_id": "1"})
        assert answer.status_code == 400, url


def test_the_journal_list_costs_the_same_queries_for_2_or_20(client, login, group, app):
    def make(n: int) -> None:
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.email == "admin@group.example"))
            for i in range(n):
                line = service.VendorLineInput(
                    group["vendor"], Decimal("0.01"), TODAY, group["vendor_invoices"]
                )
                service.create_vendor_journal(
                    admin, group["no"], [line], idempotency_key=f"q{n}-{i}"
                )
            db.session.commit()

    _admin(client, login)
    _switch(client, group["no"])
    make(2)
    client.get("/admin/journals", headers=HX)
    with count_queries(app) as small:
        assert "2 journals" in client.get("/admin/journals", headers=HX).get_data(as_text=True)
    make(18)
    with count_queries(app) as large:
        assert "20 journals" in client.get("/admin/journals", headers=HX).get_data(as_text=True)
    assert len(small) == len(large), large


def test_the_intercompany_page_saves_settings_and_refuses_a_foreign_journal(
    client, login, group, app
):
    _admin(client, login)
    page = client.get("/admin/intercompany").get_data(as_text=True)
    assert "b2bshop NO (intercompany)" in page
    with app.app_context():
        settings = service.settings_for(group["nl"])
        journal_id = settings.customer_journal_name_id
    assert (
        client.post(
            "/admin/intercompany",
            data={"action": "settings", "journal_name_id": str(journal_id)},
        ).status_code
        == 303
    )
    with app.app_context():
        assert service.settings_for(group["nl"]).auto_post is False
    refused = client.post(
        "/admin/intercompany",
        data={"action": "settings", "journal_name_id": "999", "auto_post": "y"},
    )
    assert refused.status_code == 422
    with app.app_context():
        assert service.settings_for(group["nl"]).auto_post is False
    assert (
        client.post(
            "/admin/intercompany", data={"action": "journal", "code": "", "name": ""}
        ).status_code
        == 422
    )


def test_each_entity_has_its_own_bank_account_and_legal_data(make_app, group, login, app):
    """A bank transfer's receipt names the IBAN of the buyer's entity; the admin's legal
    data page edits the entity the admin works in."""
    from b2bshop.accounts.models import LegalEntity
    from b2bshop.payments.models import PaymentMethod, PaymentStatus
    from b2bshop.payments.service import Allocation, create_payment

    with app.app_context():
        no = db.session.get(LegalEntity, group["no"])
        no.iban = "NO9386011117947"
        buyer = db.session.scalar(select(User).where(User.email == "no@buyer.example"))
        invoice = db.session.scalar(
            select(factories.Invoice).where(factories.Invoice.number == group["no_invoice"])
        )
        payment = create_payment(
            buyer,
            buyer.customer,
            [Allocation(invoice.id, Decimal("5.00"))],
            PaymentMethod.BANK_TRANSFER,
            status=PaymentStatus.PENDING,
        )
        db.session.commit()
        number = payment.number
    assert number.startswith("NO-PAY-")
    no_store = make_app(STORE_ENTITY="NO").test_client()
    login("no@buyer.example", "pw", no_store)
    assert "NO9386011117947" in no_store.get(f"/payments/{number}").get_data(as_text=True)

    admin = app.test_client()
    _admin(admin, login)
    _switch(admin, group["no"])
    page = admin.get("/admin/settings/legal").get_data(as_text=True)
    assert 'value="NO9386011117947"' in page


@pytest.fixture
def no_records(app, group):
    """One record of every kind in b2bshop NO, each with an admin URL."""
    from b2bshop.agreements import service as agreements
    from b2bshop.catalog.models import Product
    from b2bshop.payments.models import PaymentMethod, PaymentStatus
    from b2bshop.payments.service import Allocation, create_payment
    from b2bshop.purchasing.models import PurchaseOrder
    from b2bshop.quotations import service as quotations
    from b2bshop.sales import service as sales

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@group.example"))
        customer = db.session.get(factories.Customer, group["no_customer"])
        product = db.session.scalar(select(Product).where(Product.sku == "NO-ONLY"))
        order = sales.place_order(admin, customer, [sales.OrderLineInput(product.id, 1)])
        invoice = db.session.scalar(
            select(factories.Invoice).where(factories.Invoice.number == group["no_invoice"])
        )
        payment = create_payment(
            admin, customer, [Allocation(invoice.id, Decimal("1.00"))], PaymentMethod.MANUAL,
            status=PaymentStatus.COMPLETED,
        )  # fmt: skip
        agreement = agreements.create_sales_agreement(
            admin,
            agreements.SalesAgreementInput(
                customer.id, "total_amount", TODAY, TODAY.replace(year=TODAY.year + 1),
                Decimal("100.00"),
            ),
        )  # fmt: skip
        quotation = quotations.create_draft(admin, customer)
        # NL's intercompany order makes NO's purchase order.
        relation = db.session.get(service.IntercompanyRelation, group["relation"])
        nl_product = db.session.scalar(select(Product).where(Product.sku == "NL-ONLY"))
        sales.place_order(admin, relation.customer, [sales.OrderLineInput(nl_product.id, 1)])
        purchase = db.session.scalar(select(PurchaseOrder))
        journal = service.create_vendor_journal(
            admin,
            group["no"],
            [
                service.VendorLineInput(
                    group["vendor"], Decimal("1.00"), TODAY, group["vendor_invoices"][:1]
                )
            ],
        )
        db.session.commit()
        return [
            f"/admin/customers/{customer.id}",
            f"/admin/customers/{customer.id}/edit",
            f"/admin/customers/{customer.id}/einvoice",
            f"/admin/invoices/{invoice.number}",
            f"/admin/invoices/{invoice.number}.pdf",
            f"/admin/orders/{order.number}",
            f"/admin/orders/{order.number}/pro-forma.pdf",
            f"/admin/payments/{payment.number}",
            f"/admin/products/{product.id}/edit",
            f"/admin/vendors/{group['vendor']}/edit",
            f"/admin/purchase-orders/{purchase.number}",
            f"/admin/agreements/{agreement.number}",
            f"/admin/quotations/{quotation.number}",
            f"/admin/journals/{journal.number}",
        ]


def test_matrix_another_entitys_records_are_404_for_the_admin(client, login, group, no_records):
    """The authorization matrix, one entity more: every admin page of a NO record answers
    404 while the admin works in NL, and 200 in NO."""
    _admin(client, login)
    for url in no_records:
        assert client.get(url).status_code == 404, f"NL selected: {url}"
    _switch(client, group["no"])
    for url in no_records:
        assert client.get(url).status_code == 200, f"NO selected: {url}"


def test_matrix_another_entitys_documents_are_404_for_a_buyer(make_app, group, no_records):
    """A NO buyer on the NO store sees its own documents; an NL buyer on the NL store gets
    404 for each of NO's (and cannot sign in on the other store, above)."""
    no_store = make_app(STORE_ENTITY="NO").test_client()
    no_store.post("/login", data={"email": "no@buyer.example", "password": "pw"})
    nl_store = make_app().test_client()
    nl_store.post("/login", data={"email": "nl@buyer.example", "password": "pw"})
    documents = [
        f"/invoices/{group['no_invoice']}",
        *(u.replace("/admin", "") for u in no_records if "/payments/" in u or "/orders/" in u),
    ]
    documents = [d for d in documents if not d.endswith(".pdf")]
    for url in documents:
        assert no_store.get(url).status_code == 200, f"own: {url}"
        assert nl_store.get(url).status_code == 404, f"other entity: {url}"


def test_a_second_payment_line_is_added_to_a_draft_once(client, login, group, app):
    _admin(client, login)
    _switch(client, group["no"])
    made = _new_journal(client, group, "100.00", group["vendor_invoices"][:1])
    number = made.headers["Location"].rsplit("/", 1)[1]
    assert f"/admin/journals/new?journal={number}" in client.get(
        f"/admin/journals/{number}"
    ).get_data(as_text=True)
    url = f"/admin/journals/new?journal={number}&vendor_id={group['vendor']}"
    form = client.get(url).get_data(as_text=True)
    assert 'name="lines_seen" value="1"' in form
    data = {
        "csrf_token": csrf_token_from(form),
        "journal": number,
        "lines_seen": "1",
        "vendor_id": str(group["vendor"]),
        "invoice_id": [str(group["vendor_invoices"][1])],
        "amount": "50.00",
        "paid_on": TODAY.isoformat(),
        "save": "1",
    }
    assert client.post(url, data=data).status_code == 302
    again = client.post(url, data=data)
    assert again.status_code == 409 and "changed meanwhile" in again.get_data(as_text=True)
    with app.app_context():
        journal = db.session.scalar(select(PaymentJournal).where(PaymentJournal.number == number))
        assert [line.amount for line in journal.lines] == [Decimal("100.00"), Decimal("50.00")]
    client.post(f"/admin/journals/{number}/post")
    assert client.get(f"/admin/journals/new?journal={number}").status_code == 404
