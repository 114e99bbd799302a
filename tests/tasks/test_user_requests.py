"""A buyer admin's user requests (issue 5.6) and the store admin's monitor (issue 5.7)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from b2bshop.accounts.models import User
from b2bshop.extensions import db
from b2bshop.requests.models import B2BRequest, RequestStatus
from tasks import requests as request_jobs


@pytest.fixture(autouse=True)
def _clear_outbox(outbox):
    return outbox


@pytest.fixture
def admin(client, demo, login):
    return login("buyer@contoso.example")  # buyer admin of Contoso Retail


def _run_all(app) -> None:
    with app.app_context():
        ids = db.session.scalars(
            select(B2BRequest.id).where(B2BRequest.status == RequestStatus.PENDING)
        ).all()
        for request_id in ids:
            request = db.session.get(B2BRequest, request_id)
            job = (
                request_jobs.send_invoice_email
                if request.kind.value == "invoice_copy"
                else request_jobs.carry_out_user_request
            )
            job(request_id)
        db.session.remove()


def _user(app, email) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def test_add_user_sends_a_single_use_invitation(admin, app, client):
    response = admin.post(
        "/account/users",
        data={
            "action": "add",
            "email": "New.Person@Contoso.example",
            "name": "New Person",
            "may_view_invoices": "1",
            "may_pay_invoices": "1",
        },
    )
    assert response.status_code == 302
    assert _user(app, "new.person@contoso.example") is None  # a request, not done yet
    _run_all(app)
    user = _user(app, "new.person@contoso.example")
    assert user is not None and user.password_hash is None
    assert (user.may_order, user.may_view_invoices, user.may_pay_invoices) == (False, True, True)
    [message] = _sent(app)
    assert message.to == ["new.person@contoso.example"]
    link = re.search(r"https?://\S+/invitations/(\w+)", message.body).group(0)
    path = "/invitations/" + link.rsplit("/", 1)[1]
    _run_all(app)
    assert len(_sent(app)) == 1  # the job ran again: no second invitation

    admin.post("/logout")
    assert client.get(path).status_code == 200
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10" in short.get_data(as_text=True)
    ok = client.post(path, data={"password": "a long password", "confirm": "a long password"})
    assert ok.status_code == 302
    assert client.get("/invoices").status_code == 200  # signed in, may view invoices
    client.post("/logout")
    again = client.get(path)
    assert again.status_code == 410 and "not valid any more" in again.get_data(as_text=True)
    assert (
        client.post(
            "/login", data={"email": "new.person@contoso.example", "password": "a long password"}
        ).status_code
        == 302
    )


def test_unknown_invitation_token(client):
    assert client.get("/invitations/" + "0" * 64).status_code == 410


def test_expired_invitation(admin, app, client):
    from datetime import datetime, timedelta

    from b2bshop.requests.models import Invitation

    admin.post("/account/users", data={"action": "add", "email": "late@contoso.example"})
    _run_all(app)
    path = "/invitations/" + re.search(r"/invitations/(\w+)", _sent(app)[0].body).group(1)
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        invitation.expires_at = datetime.now() - timedelta(minutes=1)
        db.session.commit()
    admin.post("/logout")
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)


def test_change_permissions(admin, app):
    ap = _user(app, "ap@contoso.example")
    admin.post("/account/users", data={"action": "change", "user_id": ap.id, "may_order": "1"})
    _run_all(app)
    ap = _user(app, "ap@contoso.example")
    assert (ap.may_order, ap.may_view_invoices, ap.may_pay_invoices) == (True, False, False)


def test_removed_user_cannot_sign_in_and_their_session_ends(admin, app, make_app, demo):
    other = make_app().test_client()
    assert (
        other.post("/login", data={"email": "ap@contoso.example", "password": "demo"}).status_code
        == 302
    )
    assert other.get("/account").status_code == 200
    ap = _user(app, "ap@contoso.example")
    admin.post("/account/users", data={"action": "remove", "user_id": ap.id})
    _run_all(app)
    assert other.get("/account").status_code == 302  # the open session ended
    assert (
        other.post("/login", data={"email": "ap@contoso.example", "password": "demo"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"action": "add", "email": "ap@contoso.example"}, 422, "already a user of your account"),
        ({"action": "add", "email": "not-an-email"}, 422, "email address"),
        ({"action": "remove", "user_id": "SELF"}, 422, "cannot remove yourself"),
        ({"action": "change", "user_id": "FABRIKAM"}, 404, "no such user"),
        ({"action": "remove", "user_id": "99999"}, 404, "no such user"),
        # Past a 64-bit id: no such user either, not a driver error (a 500).
        ({"action": "remove", "user_id": str(2**63)}, 404, "no such user"),
        ({"action": "change", "user_id": str(2**64)}, 404, "no such user"),
    ],
)
def test_bad_user_requests_are_refused(admin, app, data, status, message):
    ids = {
        "SELF": _user(app, "buyer@contoso.example").id,
        "FABRIKAM": _user(app, "buyer@fabrikam.example").id,
    }
    data = {k: ids.get(v, v) for k, v in data.items()}
    response = admin.post("/account/users", data=data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(B2BRequest)) is None


def test_only_buyer_admins_manage_users(client, demo, login):
    login("ap@contoso.example")
    assert client.get("/account/users").status_code == 403
    assert (
        client.post(
            "/account/users", data={"action": "add", "email": "x@contoso.example"}
        ).status_code
        == 403
    )


def test_store_admin_monitor_and_retry(client, demo, login, app, monkeypatch):
    from tests.tasks.test_invoice_requests import _make_request

    request_id = _make_request(app)
    monkeypatch.setattr(request_jobs, "_last_attempt", lambda: True)
    monkeypatch.setattr(
        "flask_mailman.backends.locmem.EmailBackend.send_messages",
        lambda self, messages: (_ for _ in ()).throw(ConnectionRefusedError("smtp down")),
    )
    with app.app_context(), pytest.raises(ConnectionRefusedError):
        request_jobs.send_invoice_email(request_id)
    monkeypatch.undo()

    login("buyer@contoso.example")
    assert client.get("/admin/requests").status_code == 404  # buyers: no such page
    client.post("/logout")
    login("admin@b2bshop.example")
    html = client.get("/admin/requests?status=failed").get_data(as_text=True)
    assert f'id="admin-request-{request_id}" data-status="failed"' in html
    assert "smtp down" in html and 'id="queue-queued"' in html
    assert ">1<" in client.get("/admin/").get_data(as_text=True)  # failed requests tile
    response = client.post(f"/admin/requests/{request_id}/retry")
    assert response.status_code == 302
    with app.app_context():
        request = db.session.get(B2BRequest, request_id)
        assert request.status == RequestStatus.PENDING
        from b2bshop import jobs

        assert request.job_id in jobs.get_queue().get_job_ids()
    _run_all(app)
    with app.app_context():
        assert db.session.get(B2BRequest, request_id).status == RequestStatus.COMPLETED
    assert len(_sent(app)) == 1


def _sent(app) -> list:
    return app.extensions["mailman"].outbox


def test_adding_another_customers_address_looks_like_adding_a_new_one(admin, app, outbox):
    """No enumeration: the buyer admin cannot tell an address of another customer from a
    new one. The job holds that request for a store admin; no user, no email."""
    pages = {}
    for email in ("someone.new@example.com", "buyer@fabrikam.example"):
        response = admin.post("/account/users", data={"action": "add", "email": email})
        assert response.status_code == 302
        pages[email] = admin.get(response.headers["Location"]).get_data(as_text=True)
    new, taken = pages["someone.new@example.com"], pages["buyer@fabrikam.example"]

    def row(page: str, email: str) -> str:
        """The user table's row for the address, its request id left out."""
        rows = re.findall(r'<tr id="pending-user-\d+"(.*?)</tr>', page, re.S)
        [mine] = [r for r in rows if email in r]
        return mine.replace(email, "X")

    def outside_table(page: str, email: str) -> str:
        before, rest = page.split('<div id="users-table"', 1)
        return (before + rest.split("</table>", 1)[1]).replace(email, "X")

    # The page around the table, and each address's row in it, are the same for both.
    assert outside_table(new, "someone.new@example.com") == outside_table(
        taken, "buyer@fabrikam.example"
    )
    assert row(new, "someone.new@example.com") == row(taken, "buyer@fabrikam.example")
    _run_all(app)
    fabrikam = _user(app, "buyer@fabrikam.example")
    with app.app_context():
        held = db.session.scalar(
            select(B2BRequest).where(B2BRequest.payload["email"].as_string() == fabrikam.email)
        )
        assert held.status == RequestStatus.PENDING and "another customer" in held.last_error
        assert fabrikam.customer_id != _user(app, "buyer@contoso.example").customer_id
    assert [m.to for m in outbox] == [["someone.new@example.com"]]
    # The sync job leaves it alone; the store admin sees why it waits.
    with app.app_context():
        from b2bshop.requests import service as requests_service

        assert requests_service.unqueued_pending_requests(set()) == []
