"""One real browser: sign in, upload a sheet, confirm it, see the month on the dashboard.

The app runs on a real SQLite queue served by werkzeug in a thread; a real
`huey_consumer` subprocess validates, commits and syncs the chart data.
"""
import datetime as dt
import pathlib

import pytest
from browser_steps import live_site
from browser_steps import sign_in
from browser_steps import upload_sheet
from openpyxl import Workbook

HEADERS = ["Employee ID", "NAME", "SALARY", "OT", "CHARGES", "SAL+OT", "NETT PAYABLE", "Department"]
ROWS = [
    ("E001", "Ravi Kumar", 30000, 4, 1000.123456789, 31000.123456789, 29500.5, "Sales"),
    ("E002", "Meena Iyer", 45000, 0, 0, 45000, 42000.25, "Accounts"),
    ("E003", "Joseph Dsouza", 25000, 2, 500, 25500, 24000, None),
]
# The sheet's own totals, to the paisa.
GROSS, NET = "₹1,01,500.12", "₹95,500.75"
YEAR = dt.date.today().year - 1  # Always one of the years the form offers.


def write_sheet(path: pathlib.Path) -> pathlib.Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Salary Oct"
    ws.append([f"Acme Traders — salary for October {YEAR}"])
    ws.append([])
    ws.append(HEADERS)
    for row in ROWS:
        ws.append(list(row))
    wb.save(path)
    return path


@pytest.fixture
def live_app(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with a real consumer, served on a free port (browser_steps.live_site)."""
    return live_site(tmp_path, sqlite_url, start_consumer, serve_app)[1]


@pytest.fixture
def page(browser_page):
    """A Chromium page set to India's locale and time zone."""
    return browser_page(locale="en-IN", timezone_id="Asia/Kolkata")


@pytest.mark.browser
@pytest.mark.slow
def test_hr_uploads_confirms_and_sees_the_months_totals_on_the_dashboard(live_app, page, tmp_path):
    from playwright.sync_api import expect  # noqa: PLC0415
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in(page, live_app)

    upload_sheet(page, live_app, write_sheet(tmp_path / "october.xlsx"), 10, YEAR)

    # The page follows the import job live, then shows the preview.
    expect(page.locator('[data-kpi="gross"]')).to_have_text(GROSS, timeout=30_000)
    expect(page.locator('[data-kpi="net"]')).to_have_text(NET)
    expect(page.locator('[data-kpi="employees"]')).to_have_text("3")

    page.click("#confirm-button")
    expect(page.locator(".done-line")).to_have_text(f"Done — the dashboard shows October {YEAR}.",
                                                    timeout=30_000)

    page.click(f'a:has-text("Open the dashboard for October {YEAR}")')
    # The cards show the same paise as the upload (issue 14: one convention for totals).
    expect(page.locator(".kpi-gross .kpi-value")).to_have_text(GROSS, timeout=15_000)
    expect(page.locator(".kpi-net .kpi-value")).to_have_text(NET)
    expect(page.locator(".kpi-headcount .kpi-value")).to_have_text("3")
    assert errors == []
