"""report.html in headless Chromium: self-contained (nothing fetched), no script errors, filters, evidence."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, launch_browser

from .report_page import audited_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_tab(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `bash tests/infra/install.sh` (part of `make test`)")
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("report")
    report = audited_report(folder, encounters=150)
    with sync_playwright() as playwright:
        browser = launch_browser(playwright, folder / "profile", report.as_uri())
        errors: list[str] = []
        try:
            page = browser.context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(report.as_uri())
            yield page, errors, browser
        finally:
            browser.context.close()


def test_report_renders_without_fetching_anything(report_tab):
    page, errors, browser = report_tab
    assert page.locator("svg").count() == 3
    assert page.locator("#exceptions tbody tr").count() > 10
    assert errors == [] and browser.outside_requests == []


def test_status_filter_and_search(report_tab):
    page, errors, _ = report_tab
    rows = page.locator("#exceptions tbody tr")
    total = rows.count()
    page.select_option("#f-status", "not-billed")
    visible = page.locator("#exceptions tbody tr:not([hidden])")
    assert 0 < visible.count() < total
    assert set(visible.locator("td.status").all_inner_texts()) == {"not-billed"}
    assert page.locator("#shown").inner_text() == str(visible.count())
    page.select_option("#f-status", "")
    page.fill("#f-text", "no such text anywhere")
    assert page.locator("#exceptions tbody tr:not([hidden])").count() == 0
    page.fill("#f-text", "")
    assert rows.count() == total and errors == []


def test_evidence_link_opens_the_evidence(report_tab):
    page, errors, _ = report_tab
    link = page.locator("#exceptions tbody tr a").first
    target = link.get_attribute("href").lstrip("#")
    assert page.locator(f"details#{target}").get_attribute("open") is None
    link.click()
    details = page.locator(f"details#{target}")
    assert details.get_attribute("open") is not None
    assert "Why" in details.inner_text() and errors == []
