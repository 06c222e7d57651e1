"""One real browser (issue 14): import a month, open its month sheet (no flags, the same
nets), save the next month in the browser, and see both months on the dashboard.

The app runs on a real SQLite queue served by werkzeug in a thread; a real `huey_consumer`
subprocess validates, commits and syncs the chart data.
"""
import pathlib
from decimal import Decimal

import pytest
import sqlalchemy as sa
from browser_steps import live_site
from browser_steps import sign_in
from browser_steps import upload_sheet
from openpyxl import Workbook

from paydash.extensions import db
from paydash.models import SalaryRow

HEADERS = ["Employee ID", "NAME", "SALARY", "SAL+OT", "OLD ADV", "TDS", "NETT PAYABLE",
           "Department", "Balnce Adv"]
# TDS and an advance being recovered: the month sheet must not lose either.
ROWS = [["E1", "Ravi Kumar", 68000, 68000, 5000, 6774, 56226, "Sales", 15000],
        ["E2", "Meena Iyer", 30000, 30123.456789, 0, 0, 30123.456789, "Stores", 0],
        ["E3", "Joseph Dsouza", 45000, 45000, 2000, 900, 42100, "Sales", 4000]]
NETS = {"E1": "₹56,226.00", "E2": "₹30,123.46", "E3": "₹42,100.00"}
YEAR = 2024


def write_sheet(path: pathlib.Path) -> pathlib.Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Salary"
    ws.append(HEADERS)
    for row in ROWS:
        ws.append(row)
    wb.save(path)
    return path


@pytest.fixture
def live_app(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with a real consumer, served on a free port (browser_steps.live_site)."""
    return live_site(tmp_path, sqlite_url, start_consumer, serve_app)


@pytest.fixture
def page(browser_page):
    return browser_page(locale="en-IN", timezone_id="Asia/Kolkata")


@pytest.mark.browser
@pytest.mark.slow
def test_an_imported_month_opens_with_its_nets_and_no_flags_and_the_next_month_follows(
        live_app, page, tmp_path):
    from playwright.sync_api import expect  # noqa: PLC0415
    app, base = live_app
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base)

    upload_sheet(page, base, write_sheet(tmp_path / "april.xlsx"), 4, YEAR)
    expect(page.locator("#confirm-button")).to_be_visible(timeout=30_000)
    page.click("#confirm-button")
    expect(page.locator(".done-line")).to_be_visible(timeout=30_000)

    # The imported month's sheet: the nets as imported, and nothing flagged.
    page.goto(f"{base}/payroll/{YEAR}/4")
    for code, net in NETS.items():
        expect(page.locator(f'#imported-month tr[data-code="{code}"] .imported-net')).to_have_text(net)
    expect(page.locator("#imported-total-net")).to_have_text("₹1,28,449.46")
    expect(page.locator("#variance")).to_be_hidden()
    expect(page.locator("#imported-flags")).to_have_count(0)
    expect(page.locator("#pm-body tr.variance")).to_have_count(0)

    # May starts from what the sheet said: TDS % and the advance recovery, so no flags either.
    page.goto(f"{base}/payroll/{YEAR}/5")
    ravi = page.locator("#pm-body tr").filter(has_text="Ravi Kumar")
    expect(ravi.locator('input[data-field="advance"]')).to_have_value("5000.00")
    expect(ravi.locator("td.out-net")).to_have_text("₹56,227")
    expect(page.locator("#variance")).to_be_hidden()
    page.click("#save-month")
    expect(page.locator("#save-text")).to_contain_text("Done — dashboard updated", timeout=30_000)

    with app.app_context():
        stored = dict(db.session.execute(sa.select(SalaryRow.month, sa.func.count(SalaryRow.id))
                                         .group_by(SalaryRow.month)).all())
        assert stored == {4: 3, 5: 3}
    summary = page.request.get(f"{base}/api/dashboard/summary?from={YEAR}-04&to={YEAR}-05").json()
    trend = {point["month"]: point["net"] for point in summary["trend"]}
    assert Decimal(str(trend[f"{YEAR}-04"])) == Decimal("128449.46")
    assert trend[f"{YEAR}-05"] is not None and trend[f"{YEAR}-05"] > 0
    assert errors == []
