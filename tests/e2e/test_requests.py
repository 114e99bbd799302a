"""Request invoice (SPEC A8/A9) in Chromium, against the live server whose jobs run.

The buyer asks for an invoice by email from the invoice list (an htmx dialog, then a toast),
follows the request under My account → B2B requests while the job is held back (pending,
the list polling itself), sees it turn completed without a reload once the job may run, and
the email is there: one .eml to the registered address with the invoice PDF attached.

The worker thread runs in this process, so the test holds the job back by wrapping
`tasks.requests.send_invoice_email` (RQ looks the function up by name when it runs a job):
"pending" is then observed deterministically, not raced against a 50 ms job.
"""

from __future__ import annotations

import email
import io
import re
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect
from pypdf import PdfReader

from tasks import requests as request_jobs
from tests.e2e.conftest import artifact_path

BUYER = "buyer@contoso.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"
REQUEST_ROWS = "#request-list tbody tr[id^='request-']"


class HeldJobs:
    """send_invoice_email jobs wait for `release` before they run."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()


@pytest.fixture
def held_invoice_emails(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldJobs]:
    held = HeldJobs()
    send = request_jobs.send_invoice_email

    def held_send(request_id: int) -> str:
        held.started.set()
        if not held.release.wait(timeout=60):
            raise RuntimeError("held invoice email job never released")
        try:
            return send(request_id)
        finally:
            held.finished.set()

    monkeypatch.setattr(request_jobs, "send_invoice_email", held_send)
    try:
        yield held
    finally:
        # Never leave the worker thread blocked, nor a job writing while the tables are
        # truncated after the test.
        held.release.set()
        if held.started.is_set():
            held.finished.wait(timeout=15)


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-"), body[:40]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def read_mail(mail_dir: Path) -> list[EmailMessage]:
    """Every message the .eml backend wrote (its temporary files start with a dot)."""
    messages = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def test_request_invoice_by_email_and_follow_it_until_completed(
    demo: None,
    worker_page: Page,
    live_server_with_worker: str,
    mail_dir: Path,
    held_invoice_emails: HeldJobs,
    sign_in: Callable[..., None],
) -> None:
    page = worker_page
    sign_in(page, BUYER)
    page.goto("/invoices")
    row = page.locator(ROWS).first
    number = (row.get_attribute("id") or "").removeprefix("invoice-")
    assert re.fullmatch(r"INV-\d+", number), number
    request_link = row.get_by_role("link", name=f"Request invoice {number}", exact=True)
    dialog = page.locator("#dialog dialog")
    page.evaluate("window.__marker = 1")

    # The dialog names the registered address; Cancel closes it.
    request_link.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.get_by_role("heading", name="Request invoice", level=2)).to_be_visible()
    expect(dialog).to_contain_text(f"The details of invoice {number} will be sent")
    expect(dialog.locator(".email")).to_have_text(BUYER)
    dialog.get_by_role("link", name="Cancel", exact=True).click()
    expect(dialog).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "Cancel reloaded the page"

    # Again, and send it: the dialog gives way to a toast that links to the requests.
    request_link.click()
    expect(dialog).to_be_visible()
    expect(dialog.locator(".email")).to_have_text(BUYER)
    page.screenshot(path=artifact_path("request-dialog"))
    dialog.get_by_role("button", name="Send it to me", exact=True).click()
    toast = page.locator("#dialog .toast[role='status']")
    expect(toast).to_contain_text(
        f"Your request for invoice {number} is registered. Follow it under My account "
        "→ B2B requests."
    )
    expect(dialog).to_have_count(0)
    requests_link = toast.get_by_role("link", name="Open B2B requests", exact=True)
    expect(requests_link).to_have_attribute("href", "/account/requests")
    assert page.evaluate("window.__marker") == 1, "Send it to me reloaded the page"

    # The job is held back: the request is pending, and the list polls itself.
    polls: list[str] = []

    def count_poll(request: Request) -> None:
        if urlsplit(request.url).path == "/account/requests" and request.headers.get("hx-request"):
            polls.append(request.url)

    page.on("request", count_poll)
    requests_link.click()
    page.wait_for_url(f"{live_server_with_worker}/account/requests")
    expect(page.get_by_role("heading", name="B2B requests", level=1)).to_be_visible()
    rows = page.locator(REQUEST_ROWS)
    expect(rows).to_have_count(1)
    request_row = rows.first
    row_id = request_row.get_attribute("id")
    expect(request_row).to_have_attribute("data-status", "pending")
    expect(request_row.locator("td[data-label='Kind']")).to_have_text("Invoice copy")
    subject = request_row.locator("td[data-label='Subject']")
    expect(subject).to_have_text(f"{number} → {BUYER}")
    expect(subject.get_by_role("link", name=number, exact=True)).to_have_attribute(
        "href", f"/invoices/{number}"
    )
    # Until the mail server accepted the email: "Sending", never "Completed" (issue 14).
    expect(request_row.locator("td[data-label='Status']")).to_have_text("Sending")
    expect(request_row.locator("td[data-label='Completed']")).to_have_text("—")
    request_list = page.locator("#request-list")
    expect(request_list).to_have_attribute("hx-trigger", "every 2s")
    page.screenshot(path=artifact_path("requests-list-pending"), full_page=True)
    assert held_invoice_emails.started.wait(timeout=10), "the worker never took the job"
    assert read_mail(mail_dir) == []
    page.evaluate("window.__marker = 2")

    # Let the job run: the next poll shows it completed, and the polling stops.
    held_invoice_emails.release.set()
    expect(page.locator(f"#{row_id}")).to_have_attribute("data-status", "completed")
    request_row = page.locator(f"#{row_id}")
    expect(request_row.locator("td[data-label='Status']")).to_have_text("Completed")
    expect(request_row.locator("td[data-label='Completed']")).not_to_have_text("—")
    assert page.evaluate("window.__marker") == 2, "the list was reloaded, not polled"
    assert polls, "the list turned completed without polling"
    assert request_list.evaluate("el => el.hasAttribute('hx-trigger')") is False
    polls_when_completed = len(polls)
    page.wait_for_timeout(2_500)  # longer than the polling interval
    assert len(polls) == polls_when_completed, f"still polling: {polls}"
    page.screenshot(path=artifact_path("requests-list"), full_page=True)

    # The email: one message, to the registered address, with the invoice PDF attached.
    messages = read_mail(mail_dir)
    assert len(messages) == 1, [m["Subject"] for m in messages]
    [message] = messages
    assert [a.addr_spec for a in message["To"].addresses] == [BUYER], message["To"]
    assert number in message["Subject"], message["Subject"]
    attachments = list(message.iter_attachments())
    pdfs = [a for a in attachments if a.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1, [(a.get_content_type(), a.get_filename()) for a in attachments]
    assert pdfs[0].get_filename() == f"{number}.pdf"
    text = pdf_text(pdfs[0].get_content())
    assert number in text, text[:500]
