"""The session cookie verified once per value (core/cookie_session.py): a remembered value
still expires, a changed one is still refused, and requests never share what they change."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, flash, session

from b2bshop.core import cookie_session


def _app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(hours=1))

    @app.route("/set/<value>")
    def set_value(value: str):  # type: ignore[no-untyped-def]
        session["value"] = value
        return "ok"

    @app.route("/get")
    def get_value():  # type: ignore[no-untyped-def]
        return session.get("value", "-")

    @app.route("/change")
    def change():  # type: ignore[no-untyped-def]
        session["value"] = "changed in this request"
        return "ok"

    @app.route("/flash")
    def flash_message():  # type: ignore[no-untyped-def]
        flash("saved")
        return "ok"

    return app


def test_a_cookie_is_verified_once_and_read_from_memory_after(make_app, monkeypatch):
    app = _app(make_app)
    client = app.test_client()
    client.get("/set/a")
    calls = []
    loads = cookie_session.URLSafeTimedSerializer.loads

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return loads(self, *args, **kwargs)

    monkeypatch.setattr(cookie_session.URLSafeTimedSerializer, "loads", counted)
    assert [client.get("/get").get_data(as_text=True) for _ in range(3)] == ["a"] * 3
    assert len(calls) == 1


def test_a_remembered_cookie_still_expires(make_app, monkeypatch):
    app = _app(make_app)
    client = app.test_client()
    client.get("/set/a")
    assert client.get("/get").get_data(as_text=True) == "a"  # verified and remembered
    later = cookie_session.time.time() + 3601
    monkeypatch.setattr(cookie_session.time, "time", lambda: later)
    assert client.get("/get").get_data(as_text=True) == "-"


def _remembered(app: Flask):  # type: ignore[no-untyped-def]
    """A client whose session holds "a", its cookie verified (and so remembered), and a
    second client."""
    client = app.test_client()
    client.get("/set/a")
    assert client.get("/get").get_data(as_text=True) == "a"
    return client, client.get_cookie("session").value, app.test_client()


def test_a_changed_cookie_is_refused_after_the_real_one_was_remembered(make_app):
    _client, cookie, forged = _remembered(_app(make_app))
    forged.set_cookie("session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert forged.get("/get").get_data(as_text=True) == "-"


def test_what_a_request_changes_is_not_seen_by_another_with_the_same_cookie(make_app):
    client, cookie, other = _remembered(_app(make_app))
    other.set_cookie("session", cookie)
    assert other.get("/change").status_code == 200
    assert client.get("/get").get_data(as_text=True) == "a"


def test_a_session_holding_a_list_is_not_remembered(make_app):
    app = _app(make_app)
    client = app.test_client()
    client.get("/flash")
    cookie = client.get_cookie("session").value
    client.get("/get")
    assert cookie not in app.session_interface._verified
