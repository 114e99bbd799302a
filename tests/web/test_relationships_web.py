"""Relationships pages (issue 17): /admin/relationships through the shared list machinery,
qualify and convert, partner sign-up at /signup and its account application at
/admin/requests, approve and reject, with every refusal changing nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, Role, User
from b2bshop.extensions import db
from b2bshop.relationships.models import AccountApplication, Party, PartyKind
from b2bshop.requests.models import B2BRequest, RequestKind
from tests import factories
from tests.web.test_query_counts import count_queries

FRAGMENT = {"HX-Request": "true"}
SIGNUP = {
    "company": "Noord <b>Supplies</b> B.V.",
    "country_code": "NL",
    "vat_number": "NL812345678B01",
    "street": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "contact_name": "Anna de Vries",
    "email": "anna@noord.example",
    "language": "nl",
}


@pytest.fixture
def admin(app, client, login):
    with app.app_context():
        factories.legal_entity()
        factories.payment_terms(30)
        factories.user("boss@example.com", password="pw", role=Role.STORE_ADMIN)
        db.session.commit()
    return login("boss@example.com", "pw")


def _parties(app, n: int, first: int = 0) -> None:
    with app.app_context():
        for i in range(first, first + n):
            party = factories.party(
                "lead" if i % 2 else "prospect", f"Company {i:03d}", country="NL" if i % 3 else "FR"
            )
            factories.contact(party, f"person{i}@company.example")
            factories.contact(party)
        db.session.commit()


def _ids(app, model, *where):  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalars(select(model.id).where(*where).order_by(model.id)).all()


def test_the_list_filters_searches_and_pages_by_keyset(admin, app):
    _parties(app, 30)
    with app.app_context():
        factories.party("customer", "Already Customer")
        db.session.commit()
    page = admin.get("/admin/relationships").get_data(as_text=True)
    assert "30 leads and prospects" in page and "Already Customer" not in page
    assert page.count('id="party-') == 25 and 'rel="next"' in page
    nxt = re.search(r'href="(/admin/relationships\?after=[^"]+)"', page).group(1)
    second = admin.get(nxt.replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('id="party-') == 5 and "Company 029" in second
    leads = admin.get("/admin/relationships?kind=lead").get_data(as_text=True)
    assert "15 leads and prospects" in leads
    french = admin.get("/admin/relationships?country=FR", headers=FRAGMENT)
    assert french.headers["HX-Push-Url"] == "/admin/relationships?country=FR"
    assert "<html" not in french.get_data(as_text=True)
    assert "10 leads and prospects" in french.get_data(as_text=True)
    found = admin.get("/admin/relationships?q=person7%40").get_data(as_text=True)
    assert "1 lead or prospect" in found and "Company 007" in found
    bad = admin.get("/admin/relationships?kind=nonsense&country=XX&after=%00")
    assert bad.status_code in (200, 400)


def test_the_list_costs_the_same_queries_for_5_or_30_parties(admin, app):
    _parties(app, 5)
    with count_queries(app) as small:
        assert admin.get("/admin/relationships", headers=FRAGMENT).status_code == 200
    _parties(app, 25, first=5)
    with count_queries(app) as large:
        assert admin.get("/admin/relationships", headers=FRAGMENT).status_code == 200
    assert len(small) == len(large) <= 5, large


def test_buyers_and_visitors_do_not_reach_the_admin_pages(app, client, demo, login):
    for url in ("/admin/relationships", "/admin/relationships/new", "/admin/campaigns"):
        assert client.get(url).status_code == 404  # /admin gives nothing away
    login("buyer@contoso.example")
    for url in ("/admin/relationships", "/admin/campaigns", "/admin/relationships/1"):
        assert client.get(url).status_code == 404
    assert client.post("/admin/relationships/1/qualify").status_code == 404


def test_a_lead_is_created_qualified_and_converted_once(admin, app, outbox):
    bad = admin.post("/admin/relationships/new", data={"name": "", "country_code": "NL"})
    assert bad.status_code == 422 and "error-summary" in bad.get_data(as_text=True)
    wrong_vat = admin.post(
        "/admin/relationships/new", data={"name": "Acme", "country_code": "NL", "vat_number": "NL1"}
    )
    assert wrong_vat.status_code == 422
    assert _ids(app, Party) == []
    created = admin.post(
        "/admin/relationships/new",
        data={
            "name": "Acme <script>x</script>",
            "country_code": "NL",
            "vat_number": "NL812345678B01",
        },
    )
    assert created.status_code == 302
    [party_id] = _ids(app, Party)
    page = admin.get(f"/admin/relationships/{party_id}").get_data(as_text=True)
    assert "Acme &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    contact = admin.post(
        f"/admin/relationships/{party_id}/contacts/new",
        data={"name": "Jo", "email": "jo@acme.example", "language": "fr", "marketing_consent": "y"},
    )
    assert contact.status_code == 302
    assert admin.post(f"/admin/relationships/{party_id}/qualify").status_code == 302
    again = admin.post(f"/admin/relationships/{party_id}/qualify")
    assert again.status_code == 409 and "is not a lead any more" in again.get_data(as_text=True)

    form = admin.get(f"/admin/relationships/{party_id}/convert").get_data(as_text=True)
    terms_id = re.search(
        r'<option (?:selected )?value="(\d+)"', form.split('name="payment_terms_id"')[1]
    ).group(1)
    contact_id = re.search(
        r'<option (?:selected )?value="(\d+)"', form.split('name="contact_id"')[1]
    ).group(1)
    data = {
        "number": "",
        "currency": "EUR",
        "payment_terms_id": terms_id,
        "credit_limit": "1500.00",
        "invoice_account_id": "0",
        "contact_id": contact_id,
    }
    refused = admin.post(
        f"/admin/relationships/{party_id}/convert", data={**data, "credit_limit": "1e20"}
    )
    assert refused.status_code == 422
    assert _ids(app, Customer) == []
    done = admin.post(f"/admin/relationships/{party_id}/convert", data=data)
    assert done.status_code == 302 and "/admin/customers/" in done.headers["Location"]
    twice = admin.post(f"/admin/relationships/{party_id}/convert", data=data)
    assert twice.status_code == 409 and "already a customer" in twice.get_data(as_text=True)
    with app.app_context():
        [customer] = db.session.scalars(select(Customer)).all()
        assert customer.number == "CU-000001" and str(customer.credit_limit) == "1500.00"
        user = db.session.scalar(select(User).where(User.email == "jo@acme.example"))
        assert user.is_buyer_admin and user.customer_id == customer.id
        assert db.session.get(Party, party_id).kind == PartyKind.CUSTOMER


def test_other_ids_are_not_found(admin, app):
    _parties(app, 1)
    [party_id] = _ids(app, Party)
    assert admin.get("/admin/relationships/999999").status_code == 404
    assert admin.post("/admin/relationships/999999/qualify").status_code == 404
    assert admin.post(f"/admin/relationships/{party_id}/tasks/999999/done").status_code == 404
    assert (
        admin.get(f"/admin/relationships/{party_id}/applications/999999/reject").status_code == 404
    )


def test_follow_up_tasks_are_added_and_done(admin, app):
    _parties(app, 1)
    [party_id] = _ids(app, Party)
    empty = admin.post(f"/admin/relationships/{party_id}/tasks", data={"title": " "})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.get_data(as_text=True)
    assert (
        admin.post(
            f"/admin/relationships/{party_id}/tasks", data={"title": "Call back"}
        ).status_code
        == 302
    )
    page = admin.get(f"/admin/relationships/{party_id}").get_data(as_text=True)
    task_id = re.search(r'id="task-(\d+)"', page).group(1)
    assert admin.post(f"/admin/relationships/{party_id}/tasks/{task_id}/done").status_code == 302
    assert "<s>Call back</s>" in admin.get(f"/admin/relationships/{party_id}").get_data(
        as_text=True
    )


# --- Partner sign-up ---


def test_signup_page_works_without_javascript(client):
    page = client.get("/signup")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Request a business account" in html
    assert (
        'method="post"' in html
        and "hx-" not in html.split('id="signup-form"')[1].split("</form>")[0]
    )
    assert 'name="csrf_token"' in html


def test_a_signup_makes_a_prospect_and_a_request_admins_see(app, client, admin_client_factory):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 302 and response.headers["Location"].endswith("/signup/sent")
    # The same email, another company name and number: linked to the first application.
    again = client.post(
        "/signup",
        data={**SIGNUP, "company": "Noord again", "country_code": "NO", "vat_number": "923609016"},
    )
    assert again.headers["Location"] == response.headers["Location"]  # the same answer
    with app.app_context():
        [application] = db.session.scalars(select(AccountApplication)).all()
        assert application.repeats == 1
        request = db.session.get(B2BRequest, application.request_id)
        assert request.kind == RequestKind.ACCOUNT_APPLICATION
        party_id = application.party_id
    admin = admin_client_factory()
    requests_page = admin.get("/admin/requests").get_data(as_text=True)
    assert "Account application" in requests_page
    assert "Noord &lt;b&gt;Supplies&lt;/b&gt; B.V." in requests_page
    assert f"/admin/relationships/{party_id}" in requests_page
    party_page = admin.get(f"/admin/relationships/{party_id}").get_data(as_text=True)
    assert f'id="application-{application.id}"' in party_page and "sent again 1 time" in party_page


@pytest.fixture
def admin_client_factory(app, make_app):
    def make():  # type: ignore[no-untyped-def]
        with app.app_context():
            factories.legal_entity()
            factories.payment_terms(30)
            factories.user("boss@example.com", password="pw", role=Role.STORE_ADMIN)
            db.session.commit()
        other = app.test_client()
        assert (
            other.post("/login", data={"email": "boss@example.com", "password": "pw"}).status_code
            == 302
        )
        return other

    return make


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("vat_number", "NL123", "Enter a valid VAT or company registration number"),
        ("email", "anna@", "Invalid email address"),
        ("country_code", "", "This field is required"),
        ("company", "", "This field is required"),
    ],
)
def test_a_wrong_signup_is_refused_with_the_field_marked_and_input_kept(
    client, app, field, value, message
):
    response = client.post("/signup", data={**SIGNUP, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in html and "<title>Error: " in html
    assert 'aria-invalid="true"' in html and message in html
    assert 'value="Damrak 1"' in html  # what was typed is kept
    assert _ids(app, Party) == [] and _ids(app, B2BRequest) == []


def test_signup_in_french(client):
    html = client.get("/signup", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Demander un compte professionnel" in html


def test_signup_needs_a_csrf_token_and_is_rate_limited(make_app, app):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    csrf_client = csrf_app.test_client()
    refused = csrf_client.post("/signup", data=SIGNUP)
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    assert _ids(app, Party) == []
    limited = make_app(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="2 per minute").test_client()
    codes = [
        limited.post("/signup", data={**SIGNUP, "email": f"a{i}@x.example"}).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]
    assert limited.get("/signup").status_code == 200


def test_approving_from_the_party_page_converts_and_rejecting_sends_a_reason(
    app, client, admin_client_factory, outbox
):
    client.post("/signup", data=SIGNUP)
    client.post(
        "/signup",
        data={
            **SIGNUP,
            "email": "other@else.example",
            "country_code": "NO",
            "vat_number": "982463718",
            "company": "Else",
        },
    )
    with app.app_context():
        first, second = db.session.scalars(
            select(AccountApplication).order_by(AccountApplication.id)
        ).all()
        first_party, second_party, second_id = first.party_id, second.party_id, second.id
    admin = admin_client_factory()
    form = admin.get(f"/admin/relationships/{first_party}/convert").get_data(as_text=True)
    assert "Approve the account application" in form
    terms_id = re.search(
        r'<option (?:selected )?value="(\d+)"', form.split('name="payment_terms_id"')[1]
    ).group(1)
    data = {
        "currency": "EUR",
        "payment_terms_id": terms_id,
        "credit_limit": "0",
        "invoice_account_id": "0",
        "contact_id": "",
    }
    contact_id = re.search(r'<option selected value="(\d+)"', form.split('name="contact_id"')[1])
    data["contact_id"] = (
        contact_id.group(1)
        if contact_id
        else re.search(r'value="(\d+)"', form.split('name="contact_id"')[1]).group(1)
    )
    assert admin.post(f"/admin/relationships/{first_party}/convert", data=data).status_code == 302
    assert admin.post(f"/admin/relationships/{first_party}/convert", data=data).status_code == 409

    reject_url = f"/admin/relationships/{second_party}/applications/{second_id}/reject"
    assert admin.post(reject_url, data={"reason": ""}).status_code == 422
    assert admin.post(reject_url, data={"reason": "Outside our area"}).status_code == 302
    again = admin.post(reject_url, data={"reason": "Outside our area"})
    assert again.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count(Customer.id))) == 1
        assert db.session.get(AccountApplication, second_id).status.value == "rejected"


def test_an_account_application_is_not_retried_as_a_job(app, client, admin_client_factory):
    client.post("/signup", data=SIGNUP)
    with app.app_context():
        [request_id] = db.session.scalars(select(B2BRequest.id)).all()
    admin = admin_client_factory()
    page = admin.get("/admin/requests").get_data(as_text=True)
    assert f"/admin/requests/{request_id}/retry" not in page  # a Review link instead
    response = admin.post(f"/admin/requests/{request_id}/retry", follow_redirects=True)
    assert response.status_code == 200
    assert "approved or rejected on its prospect" in response.get_data(as_text=True)
    with app.app_context():
        request = db.session.get(B2BRequest, request_id)
        assert request.status.value == "pending" and request.job_id is None
