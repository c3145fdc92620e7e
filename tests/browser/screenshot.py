"""Regenerate the README's screenshot of the playground: `python -m tests.browser.screenshot [docs/playground.png]`.

Starts the real service on a free loopback port, opens the playground in Debian's Chromium, sends one
scenario, accepts its first suggestion and saves the page.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser.conftest import CHROMIUM, launch_browser
from tests.infra.service import start_service

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "thoracentesis-with-guidance-order.order-sign"
SERVICE = "procedure-coding-order-sign"


def take(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        env = {"CDS_PROFILE": "development", "CDS_SQLITE_PATH": str(Path(folder) / "cds.sqlite3")}
        with start_service(env=env, workers=1, log_dir=Path(folder)) as service, sync_playwright() as playwright:
            browser = launch_browser(playwright, Path(folder) / "profile", service.base_url)
            try:
                page = browser.context.new_page()
                page.goto(f"{service.base_url}/playground?scenario={SCENARIO}")
                page.wait_for_selector("body[data-ready='true']")
                with page.expect_response(lambda r: r.url.endswith(f"/cds-services/{SERVICE}")):
                    page.click("#send")
                page.locator("button.suggestion").first.click()
                page.locator(".card__feedback[data-outcome]").first.wait_for()
                page.evaluate("() => document.activeElement.blur()")
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
            finally:
                browser.context.close()
            if browser.outside_requests:
                raise SystemExit(f"the page tried to reach other hosts: {browser.outside_requests}")


def main() -> int:
    if not CHROMIUM.exists():
        print("Debian's chromium is not installed: run `bash tests/infra/install.sh`", file=sys.stderr)
        return 1
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "playground.png"
    take(out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
