"""The invoice list in Chromium: the htmx status filter and its history, the PDFs, and the
plain GET form without JavaScript."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.e2e.conftest import ARTIFACTS, PHONE, artifact_path

BUYER = "buyer@contoso.example"
ROWS = "#invoice-list tbody tr[id^='invoice-']"
STATUSES = {"paid", "unpaid", "partially_paid"}


def rows_by_status(page: Page) -> list[tuple[str, str]]:
    """(row id, data-status) of every invoice row, in page order."""
    return page.locator(ROWS).evaluate_all("rows => rows.map(r => [r.id, r.dataset.status])")


def expect_rows(page: Page, expected: list[tuple[str, str]]) -> None:
    """Wait until the list shows exactly `expected` (a swap replaces the list at once)."""
    expect(page.locator(ROWS)).to_have_count(len(expected))
    for status in STATUSES - {s for _, s in expected}:
        expect(page.locator(f"{ROWS}[data-status='{status}']")).to_have_count(0)
    assert [tuple(r) for r in rows_by_status(page)] == expected
    expect(page.locator("#invoice-results .totals")).to_contain_text(f"{len(expected)} invoice")


def only(rows: list[tuple[str, str]], status: str) -> list[tuple[str, str]]:
    return [row for row in rows if row[1] == status]


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-"), body[:40]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_status_filter_swaps_the_list_pushes_the_url_and_back_restores_it(
    demo: None, page: Page, live_server: str, sign_in: Callable[..., None]
) -> None:
    sign_in(page, BUYER)
    page.goto("/invoices")
    status = page.locator("#filter-status")
    expect(status).to_have_value("")
    all_rows = rows_by_status(page)
    assert {s for _, s in all_rows} == STATUSES, all_rows
    partly, paid = only(all_rows, "partially_paid"), only(all_rows, "paid")
    assert partly and paid

    # A real htmx swap: the document (and this marker) survives the filter change.
    page.evaluate("window.__marker = 1")
    old_list = page.locator("#invoice-list").element_handle()
    status.select_option("partially_paid")
    page.wait_for_url(f"{live_server}/invoices?status=partially_paid")
    expect_rows(page, [tuple(r) for r in partly])
    expect(status).to_have_value("partially_paid")
    assert page.evaluate("window.__marker") == 1, "the filter reloaded the page"
    assert old_list.evaluate("el => el.isConnected") is False, "#invoice-list was not swapped"
    page.screenshot(path=artifact_path("invoices-desktop"), full_page=True)

    status.select_option("paid")
    page.wait_for_url(f"{live_server}/invoices?status=paid")
    expect_rows(page, [tuple(r) for r in paid])
    expect(status).to_have_value("paid")

    page.go_back()
    page.wait_for_url(f"{live_server}/invoices?status=partially_paid")
    expect(status).to_have_value("partially_paid")
    expect_rows(page, [tuple(r) for r in partly])

    page.go_back()
    page.wait_for_url(f"{live_server}/invoices")
    expect(status).to_have_value("")
    expect_rows(page, [tuple(r) for r in all_rows])
    assert page.evaluate("window.__marker") == 1, "Back reloaded the page instead of htmx"

    # The restored form is live again: filtering still works after going back.
    status.select_option("unpaid")
    page.wait_for_url(f"{live_server}/invoices?status=unpaid")
    expect_rows(page, [tuple(r) for r in only(all_rows, "unpaid")])


def test_invoice_and_statement_pdfs(
    demo: None,
    page: Page,
    new_page: Callable[..., Page],
    live_server: str,
    sign_in: Callable[..., None],
) -> None:
    sign_in(page, BUYER)
    page.goto("/invoices?status=partially_paid")
    row = page.locator(ROWS).first
    number = (row.get_attribute("id") or "").removeprefix("invoice-")
    assert re.fullmatch(r"INV-\d+", number), number
    href = row.get_by_role("link", name=f"PDF {number}", exact=True).get_attribute("href")
    assert href == f"/invoices/{number}.pdf"

    # Served inline (a browser would show it in its viewer): fetch it with the page's cookies.
    response = page.request.get(href)
    assert response.status == 200, response.status
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'inline; filename="{number}.pdf"'
    text = pdf_text(response.body())
    assert number in text, text[:500]

    # The invoice page's button is the same document.
    row.get_by_role("link", name=number, exact=True).click()
    page.wait_for_url(f"{live_server}/invoices/{number}")
    button = page.get_by_role("link", name="Download PDF", exact=True)
    expect(button).to_have_attribute("href", href)
    assert number in pdf_text(page.request.get(href).body())

    # Not for someone signed out.
    stranger = new_page().request.get(href, max_redirects=0)
    assert stranger.status == 302, stranger.status
    assert urlsplit(stranger.headers["location"]).path == "/login"

    # The statement of account is an attachment: a real download.
    page.goto("/invoices")
    open_numbers = [rid.removeprefix("invoice-") for rid, s in rows_by_status(page) if s != "paid"]
    paid_numbers = [rid.removeprefix("invoice-") for rid, s in rows_by_status(page) if s == "paid"]
    assert open_numbers and paid_numbers
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Statement of account (PDF)", exact=True).click()
    download = download_info.value
    assert download.failure() is None
    assert re.fullmatch(r"statement-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    ARTIFACTS.mkdir(exist_ok=True)
    saved = ARTIFACTS / "invoices-statement.pdf"
    download.save_as(saved)
    text = pdf_text(saved.read_bytes())
    assert "Statement of account" in text, text[:500]
    assert "Contoso" in text, text[:500]
    missing = [n for n in open_numbers if n not in text]
    assert not missing, f"open invoices missing from the statement: {missing}"
    listed_paid = [n for n in paid_numbers if n in text]
    assert not listed_paid, f"paid invoices on the statement: {listed_paid}"


def test_filter_form_works_without_javascript(
    demo: None, new_page: Callable[..., Page], live_server: str, sign_in: Callable[..., None]
) -> None:
    page = new_page(java_script_enabled=False)
    sign_in(page, BUYER)
    page.wait_for_url(f"{live_server}/")
    page.goto("/invoices")
    all_rows = rows_by_status(page)
    paid = only(all_rows, "paid")
    assert paid and len(paid) < len(all_rows)

    page.locator("#filter-status").select_option("paid")
    with page.expect_navigation():
        page.locator("#invoice-filters").get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"/invoices\?.*\bstatus=paid\b"))
    query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
    assert query.pop("status") == ["paid"], page.url
    # The other fields come along empty (sort keeps its default): nothing else filters.
    assert {k: v for k, v in query.items() if v != [""]} == {"sort": ["due_date"]}, page.url
    expect(page.locator("#filter-status")).to_have_value("paid")
    expect_rows(page, [tuple(r) for r in paid])


def test_invoice_list_on_a_phone(
    demo: None, new_page: Callable[..., Page], live_server: str, sign_in: Callable[..., None]
) -> None:
    page = new_page(viewport=PHONE)
    sign_in(page, BUYER)
    page.goto("/invoices")
    expect(page.locator(ROWS).first).to_be_visible()
    expect(page.locator("#filter-status")).to_be_visible()
    page.screenshot(path=artifact_path("invoices-phone"), full_page=True)
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], f"horizontal overflow on a phone: {widths}"
