"""The real service under gunicorn and Debian's Chromium driven by Playwright (never `playwright install`).

The browser runs with a fresh profile and may talk only to the service on 127.0.0.1: any other request
is aborted and recorded, so a test can assert that the page fetched nothing from outside.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, _REPO_ROOT)

from tests.infra.service import RunningService, start_service  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}



@dataclass
class Browser:
    context: object
    # Requests the page tried to make to anywhere but the service.
    outside_requests: list[str] = field(default_factory=list)


@dataclass
class PlaygroundService:
    running: RunningService
    sqlite_path: Path

    @property
    def base_url(self) -> str:
        return self.running.base_url

    def stored_feedback(self):
        """Feedback as the service stored it, read through the store's own interface."""
        from cds_service.config import Settings
        from cds_service.store import open_store

        store = open_store(Settings(sqlite_path=self.sqlite_path))
        try:
            return store.feedback_log()
        finally:
            store.close()


@pytest.fixture(scope="session")
def playground_service(tmp_path_factory) -> Iterator[PlaygroundService]:
    folder = tmp_path_factory.mktemp("playground-service")
    sqlite_path = folder / "cds.sqlite3"
    env = {"CDS_PROFILE": "development", "CDS_SQLITE_PATH": str(sqlite_path), "CDS_PLAYGROUND": "1"}
    with start_service(env=env, workers=1, log_dir=folder) as running:
        yield PlaygroundService(running, sqlite_path)


def launch_browser(playwright, user_data_dir: Path, service_url: str) -> Browser:
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport=VIEWPORT,
    )
    browser = Browser(context)
    allowed = urlsplit(service_url).netloc

    def only_the_service(route):
        url = route.request.url
        if urlsplit(url).netloc == allowed:
            route.continue_()
        else:
            browser.outside_requests.append(url)
            route.abort()

    context.route("**/*", only_the_service)
    return browser


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver per session: its sync API cannot run two at once in one thread."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `bash tests/infra/install.sh` (part of `make test`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver, playground_service, tmp_path_factory) -> Iterator[Browser]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    launched = launch_browser(playwright_driver, profile, playground_service.base_url)
    try:
        yield launched
    finally:
        launched.context.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Script errors and console errors of the test's tab; a test that provokes one on purpose clears it."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]):
    """A new tab; fails the test if the page logged an error or tried to reach anything but the service."""
    tab = browser.context.new_page()
    tab.on("pageerror", lambda error: page_errors.append(str(error)))
    tab.on("console", lambda message: page_errors.append(message.text) if message.type == "error" else None)
    yield tab
    tab.close()
    assert page_errors == [], f"the page logged errors: {page_errors}"
    assert browser.outside_requests == [], f"the page tried to reach other hosts: {browser.outside_requests}"
