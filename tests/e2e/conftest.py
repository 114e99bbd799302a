"""Browser tests: headless Chromium (Playwright) against a live server on the test database.

The live server is the real app with CSRF on, served by werkzeug in a daemon thread on
127.0.0.1 and a free port. It shares the test database with the `app` fixture, so data a
test commits (the `demo` fixture, factories) is what the browser sees, and the autouse
truncation in tests/conftest.py cleans up after each test as usual.

`live_server` runs no jobs. `live_server_with_worker` is a second server whose app runs
the embedded queue (fakeredis and an RQ worker thread) and writes mail as .eml files into
`mail_dir`; `worker_page` is a page on it.

Chromium is Debian's (/usr/bin/chromium, or $E2E_CHROMIUM): Playwright cannot download its
own here. A missing browser fails the tests rather than skipping them: CI installs it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from b2bshop import jobs
from b2bshop.extensions import db

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Playwright's default is 30 s; a page of this app on a local server takes milliseconds.
TIMEOUT_MS = 10_000

_phase_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


# --- hooks -------------------------------------------------------------------------------


#: When Chromium drops a connection while the live server (Werkzeug's, in a thread) is still
#: sending a static file (the favicon, as the page moves on), Werkzeug leaves the file for the
#: garbage collector, which warns in whichever test runs then. Only those static files are let
#: through; any other unclosed file still fails the test.
DROPPED_STATIC_FILE = (
    "ignore:unclosed file <_io.BufferedReader name='[^']*/static/[^']*'>:ResourceWarning",
    "ignore:Exception ignored in. <_io.FileIO name='[^']*/static/[^']*'"
    ":pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e carries the `e2e` marker (`-m "not e2e"` skips them)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            for rule in DROPPED_STATIC_FILE:
                item.add_marker(pytest.mark.filterwarnings(rule))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the item, so the `page` fixture knows if the test failed."""
    report = yield
    item.stash.setdefault(_phase_reports, {})[report.when] = report
    return report


def artifact_path(name: str) -> Path:
    """test-artifacts/<name>.png at the repo root (git-ignored), the directory made if need be."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


# --- live server -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(app: Flask, make_app: Callable[..., Flask]) -> Iterator[str]:
    """Base URL of the app served on 127.0.0.1 (CSRF enabled, like production)."""
    # `app` has built the schema (migrations); this second app shares its database.
    live_app = make_app(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=False)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with live_app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def _stop_embedded_queue(app: Flask) -> None:
    """Stop the embedded worker and clock threads of `app` (its first request started them),
    and leave the queue, which every app of the process shares, empty for the tests after."""
    worker = app.extensions.get("b2bshop_worker_thread")
    # The clock thread is not kept anywhere; it is the one whose argument is this app.
    clocks = [
        t
        for t in threading.enumerate()
        if t.name == "rq-embedded-clock" and getattr(t, "_args", (None,))[0] is app
    ]
    jobs.stop_embedded_worker(app, timeout=15)
    for clock in clocks:
        clock.join(timeout=5)
    if worker is not None and worker.is_alive():
        raise RuntimeError("the embedded RQ worker thread did not stop")
    jobs.get_queue(app=app).empty()


@pytest.fixture(scope="package")
def _worker_mail_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="package")
def worker_app(app: Flask, make_app: Callable[..., Flask], _worker_mail_root: Path) -> Flask:
    """The app behind `live_server_with_worker`: embedded queue on, mail into .eml files."""
    return make_app(
        WTF_CSRF_ENABLED=True,
        SESSION_COOKIE_SECURE=False,
        QUEUE_EMBEDDED_WORKER=True,
        REDIS_URL="",
        MAIL_BACKEND="b2bshop.mailing.EmlFileEmailBackend",
        MAIL_FILE_PATH=str(_worker_mail_root),
    )


@pytest.fixture(scope="package")
def live_server_with_worker(worker_app: Flask) -> Iterator[str]:
    """Base URL of a live server whose jobs run: its first request starts the embedded RQ
    worker thread (and its clock), which carry out jobs a few milliseconds after they are
    queued.

    Package scope, not session: the embedded queue is a fakeredis server shared by every app
    of the process, and a worker left running would take the jobs of later tests (tests/tasks
    count what is queued). Teardown stops the server, then the worker and the clock.
    """
    server: BaseWSGIServer = make_server("127.0.0.1", 0, worker_app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, name="e2e-live-server-with-worker", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        try:
            _stop_embedded_queue(worker_app)
        finally:
            with worker_app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()


@pytest.fixture
def mail_dir(_worker_mail_root: Path) -> Path:
    """Where `live_server_with_worker` writes each email as an .eml file, empty at the start
    of the test."""
    for path in _worker_mail_root.iterdir():
        path.unlink()
    return _worker_mail_root


# --- browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright, live_server: str) -> Iterator[Browser]:
    # Depends on live_server so the browser closes (and drops its keep-alive connections)
    # before the server shuts down.
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the e2e tests need it "
            "(apt-get install chromium, or set E2E_CHROMIUM to a Chromium binary).",
            pytrace=False,
        )
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def new_page(
    browser: Browser, live_server: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (own cookies); options go to new_context().

    On failure each page opened this way leaves test-artifacts/<test name>[-n].png.
    """
    contexts: list[BrowserContext] = []

    def open_page(**options: Any) -> Page:
        settings: dict[str, Any] = {
            "base_url": live_server,
            "viewport": DESKTOP,
            "locale": "en-US",
        }
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        reports = request.node.stash.get(_phase_reports, {})
        failed = any(report.failed for report in reports.values())
        for n, context in enumerate(contexts):
            if failed:
                suffix = f"-{n + 1}" if n else ""
                for pg in context.pages:
                    try:
                        pg.screenshot(
                            path=artifact_path(request.node.name + suffix), full_page=True
                        )
                    except Exception as exc:  # a broken page must not hide the failure
                        print(f"e2e: no screenshot of {request.node.name}: {exc}")
            context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A desktop page (1280x800, en-US) whose relative URLs go to the live server."""
    return new_page()


@pytest.fixture
def worker_page(
    new_page: Callable[..., Page], live_server_with_worker: str, worker_app: Flask
) -> Page:
    """A desktop page on `live_server_with_worker` (screenshot on failure, like `page`).

    The queue starts empty: a job a previous test queued (on any app: the fakeredis server
    is the process's) must not run in this one, against rows that reuse its ids.
    """
    jobs.get_queue(app=worker_app).empty()
    return new_page(base_url=live_server_with_worker)


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """Sign in through the real /login form (CSRF token and all)."""

    def do_sign_in(page: Page, email: str, password: str = "demo") -> None:
        page.goto("/login")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in", exact=True).click()

    return do_sign_in
