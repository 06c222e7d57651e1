"""One real browser on the month's payroll sheet: typing updates the row and the totals,
pasting a column fills consecutive cells, and saving reaches the dashboard.

The app runs on a real SQLite queue served by werkzeug in a thread; a real
`huey_consumer` subprocess runs the chart sync the save requests.
"""
from decimal import Decimal

import pytest
import sqlalchemy as sa
from browser_steps import sign_in
from conftest import People
from conftest import base_config
from conftest import make_app

from paydash.extensions import db
from paydash.models import Employee
from paydash.models import SalaryRow
from paydash.models import Tenant

STAFF = [("E1", "Ravi Kumar", "24000"), ("E2", "Meena Iyer", "15000"), ("E3", "Joseph D", "30000")]


@pytest.fixture
def live_app(tmp_path, sqlite_url, start_consumer, serve_app):
    """The app with three employees of Acme (30-day basis), a real consumer, on a free port."""
    app = make_app(base_config(tmp_path, sqlite_url))
    people = People(app)
    with app.app_context():
        db.session.get(Tenant, people.tenant_a).days_basis = "30"
        for code, name, salary in STAFF:
            db.session.add(Employee(tenant_id=people.tenant_a, code=code, name=name,
                                    monthly_salary=Decimal(salary), department="Stores"))
        db.session.commit()
    start_consumer(app, workers=2)
    return app, serve_app(app)


@pytest.fixture
def page(browser_page):
    """A Chromium page set to India's locale and time zone."""
    return browser_page(locale="en-IN", timezone_id="Asia/Kolkata")


def sign_in_and_open_march(page, base: str) -> None:
    sign_in(page, base)
    page.goto(f"{base}/payroll/2024/3")


def cell(page, row: int, field: str):
    return page.locator(f'input.cell[data-row="{row}"][data-field="{field}"]')


@pytest.mark.browser
@pytest.mark.slow
def test_hr_changes_a_cell_sees_net_and_totals_change_saves_and_the_dashboard_shows_it(live_app, page):
    from playwright.sync_api import expect  # noqa: PLC0415
    app, base = live_app
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_and_open_march(page, base)

    ravi = page.locator("#pm-body tr").filter(has_text="Ravi Kumar")
    expect(ravi.locator("td.out-net")).to_have_text("₹24,000")
    expect(page.locator("#total-net")).to_have_text("₹69,000")

    # Ravi is the first row (sorted by name within Stores: Joseph, Meena, Ravi): find his row.
    row = int(ravi.locator("input.cell").first.get_attribute("data-row"))
    cell(page, row, "absent_days").fill("2")          # 24000/30 x 28 = 22,400
    cell(page, row, "ot_hours").fill("10")            # 10 h x 24000/240 = 1,000
    expect(ravi.locator("td.out-net")).to_have_text("₹23,400")
    expect(page.locator("#total-net")).to_have_text("₹68,400")

    # Text in a number cell: a message at the cell, no traceback, the totals leave the row out.
    cell(page, row, "late_minutes").fill("late")
    expect(ravi.locator(".cell-error").filter(has_text="Late minutes: 'late' is not a number")).to_be_visible()
    cell(page, row, "late_minutes").fill("")
    expect(page.locator("#total-net")).to_have_text("₹68,400")

    page.click("#save-month")
    expect(page.locator("#save-text")).to_contain_text("Done — dashboard updated", timeout=30_000)

    with app.app_context():
        stored = db.session.scalar(sa.select(SalaryRow).where(SalaryRow.employee_key == "E1"))
        assert (stored.net, stored.source) == (Decimal("23400.00"), "frontend")
    summary = page.request.get(f"{base}/api/dashboard/summary?from=2024-03&to=2024-03").json()
    net = next(k for k in summary["kpis"] if k["key"] == "net")
    assert Decimal(str(net["value"])) == Decimal("68400")
    assert errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_a_column_pasted_from_excel_fills_consecutive_cells_and_enter_moves_down(live_app, page):
    from playwright.sync_api import expect  # noqa: PLC0415
    _app, base = live_app
    sign_in_and_open_march(page, base)
    first = cell(page, 0, "incentive")
    first.focus()
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.setData('text/plain', '100\\n200\\r\\n300\\n');
        document.activeElement.dispatchEvent(
            new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""")
    assert [cell(page, r, "incentive").input_value() for r in range(3)] == ["100", "200", "300"]
    expect(page.locator("#total-net")).to_have_text("₹69,600")

    first.press("Enter")
    assert page.evaluate("document.activeElement.dataset.row") == "1"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.row") == "2"

    # The draft is kept: a reload (a closed tab) brings the pasted values back.
    page.wait_for_timeout(2000)
    # Saved on the server, at a time in the tenant's zone (India), whatever the browser's own.
    expect(page.locator("#draft-status")).to_contain_text("Draft saved")
    expect(page.locator("#draft-status")).to_contain_text("IST")
    page.reload()
    assert [cell(page, r, "incentive").input_value() for r in range(3)] == ["100", "200", "300"]


@pytest.mark.browser
@pytest.mark.slow
def test_mark_paid_is_offered_as_soon_as_the_save_finishes_and_withdrawn_by_a_later_edit(live_app, page):
    from playwright.sync_api import expect  # noqa: PLC0415
    _app, base = live_app
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_and_open_march(page, base)
    mark_paid = page.locator("#mark-paid button")
    expect(mark_paid).to_be_hidden()

    cell(page, 0, "incentive").fill("100")
    page.click("#save-month")
    expect(mark_paid).to_be_visible()              # No reload: the save's answer shows it.

    cell(page, 0, "incentive").fill("150")         # Now the screen differs from what was saved.
    expect(mark_paid).to_be_hidden()
    expect(page.locator("#mark-paid-hint")).to_be_visible()

    page.click("#save-month")
    expect(mark_paid).to_be_visible()
    mark_paid.click()
    expect(page.locator("#month-status")).to_have_text("paid")
    assert errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_a_refused_save_lists_every_employee_with_an_error_and_leads_to_the_cell(live_app, page):
    from playwright.sync_api import expect  # noqa: PLC0415
    _app, base = live_app
    sign_in_and_open_march(page, base)
    # Rows are sorted by name within Stores: Joseph D (E3), Meena Iyer (E2), Ravi Kumar (E1).
    cell(page, 0, "ot_hours").fill("ten")
    cell(page, 2, "late_minutes").fill("x")
    page.click("#save-month")

    items = page.locator("#save-error-list li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_text("E3 Joseph D: OT hours: 'ten' is not a number")
    expect(items.nth(1)).to_have_text("E1 Ravi Kumar: Late minutes: 'x' is not a number")
    items.nth(1).get_by_role("button").click()
    assert page.evaluate("[document.activeElement.dataset.row, document.activeElement.dataset.field]") == [
        "2", "late_minutes"]
