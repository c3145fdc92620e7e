"""An audited export and its report.html opened in Debian's Chromium (shared by the browser test and the
README screenshot, `python -m tests.audit.report_page [docs/audit-report.png]`)."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from bench.audit_export import write_export
from cds_service.batch.progress import Progress
from cds_service.batch.runner import AuditOptions, run_audit
from cds_service.config import Settings
from tests.browser.conftest import CHROMIUM, launch_browser

ROOT = Path(__file__).resolve().parents[2]
FEES = Path(__file__).parent / "fee-schedule.csv"


def audited_report(folder: Path, encounters: int = 400) -> Path:
    """Audits a generated export (fixtures and two Synthea patients, with fees) and returns report.html."""
    write_export(folder / "in", encounters, synthea=2)
    run_audit(AuditOptions([folder / "in"], folder / "out", Settings().rule_packs_dir, workers=1, fee_schedule=FEES),
              Progress(tty=False, stream=io.StringIO()))
    return folder / "out" / "report.html"


def screenshot(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        report = audited_report(Path(folder))
        browser = launch_browser(playwright, Path(folder) / "profile", report.as_uri())
        try:
            page = browser.context.new_page()
            page.set_viewport_size({"width": 1280, "height": 1500})
            page.goto(report.as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.context.close()
        if browser.outside_requests:
            raise SystemExit(f"the report tried to reach other hosts: {browser.outside_requests}")


def main() -> int:
    if not CHROMIUM.exists():
        print("Debian's chromium is not installed: run `bash tests/infra/install.sh`", file=sys.stderr)
        return 1
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "audit-report.png"
    screenshot(out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
