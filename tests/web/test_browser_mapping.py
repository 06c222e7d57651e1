"""One real browser through the mapping step: a sheet refused for a net pay column Paydash
cannot name, HR maps that column by hand, checks again without uploading, and confirms.

The app runs on a real SQLite queue served by werkzeug in a thread; a real `huey_consumer`
subprocess checks, re-checks, commits and syncs the chart data.
"""
import datetime as dt
import pathlib

import pytest
from browser_steps import live_site
from browser_steps import sign_in
from browser_steps import upload_sheet
from openpyxl import Workbook

HEADERS = ["Ref", "Staff Member", "Wages Earned", "Disbursed", "Unit"]
ROWS = [("R-7", "Kiran Bedi", 26000, 24100.5, "Stores"),
        ("R-9", "Salim Ali", 19000, 18050, "Stores")]
YEAR = dt.date.today().year - 1


def write_sheet(path: pathlib.Path) -> pathlib.Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Pay run — November"])
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(list(row))
    sheet.append([])
    sheet.append(["", "Checked by the owner"])
    book.save(path)
    return path


@pytest.fixture
def live_app(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with a real consumer, served on a free port (browser_steps.live_site)."""
    return live_site(tmp_path, sqlite_url, start_consumer, serve_app)[1]


@pytest.mark.browser
@pytest.mark.slow
def test_hr_maps_the_net_pay_column_by_hand_checks_again_and_confirms(live_app, browser_page,
                                                                      tmp_path):
    from playwright.sync_api import expect  # noqa: PLC0415
    page = browser_page(locale="en-IN", timezone_id="Asia/Kolkata")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_app)

    upload_sheet(page, live_app, write_sheet(tmp_path / "november.xlsx"), 11, YEAR)

    # Refused, but the page shows how each column was read, with a choice per column.
    expect(page.locator("#rejected-title")).to_be_visible(timeout=30_000)
    expect(page.locator("#mapping")).to_contain_text("Disbursed")
    expect(page.locator("#mapping")).to_contain_text("holds amounts")
    page.select_option("#col-D", "net")
    page.click('button:has-text("Check again with these columns")')

    expect(page.locator('[data-kpi="net"]')).to_have_text("₹42,150.50", timeout=30_000)
    expect(page.locator('[data-kpi="employees"]')).to_have_text("2")
    expect(page.locator('tr[data-column="D"]')).to_contain_text("Your choice")
    expect(page.locator(".left-out-table")).to_contain_text("Checked by the owner")

    page.click("#confirm-button")
    expect(page.locator(".done-line")).to_have_text(f"Done — the dashboard shows November {YEAR}.",
                                                    timeout=30_000)
    assert errors == []
