"""Keyboard only: an upload can be chosen, sent and confirmed, and a month sheet filled in and
saved, with Tab, Shift+Tab, Space, Enter and typing — no mouse click anywhere.

The app runs in immediate mode (tasks run inside the request), served from a thread.
"""
import pytest
from conftest import PASSWORD
from conftest import People
from conftest import base_config
from conftest import make_app

from paydash.extensions import db
from paydash.models import PayrollMonth
from paydash.models import Tenant
from paydash.services import demo
from paydash.services import demo_history


@pytest.fixture
def site(tmp_path, sqlite_url, serve_app):
    app = make_app(base_config(tmp_path, sqlite_url, WTF_CSRF_ENABLED=True, HUEY_IMMEDIATE=True))
    people = People(app)
    with app.app_context():
        last = demo.month_index_of_last_month()
        rows = demo.generate_payroll(6, 2, last)
        demo_history.seed_history(db.session.get(Tenant, people.tenant_a), people.hr_a, rows, last, 2)
        demo.sync_missing_charts(people.tenant_a)
    return app, serve_app(app), rows, last


def tab_to(page, selector: str, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    pytest.fail(f"{selector} could not be reached with the keyboard")


def choose_file_with_the_keyboard(page, path: str) -> None:
    """Open the focused file field's chooser with a key, as a keyboard user does, and pick `path`.

    Chromium opens it on Enter or Space; headless Chromium now and then ignores the first key
    press, so each key gets one try.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415
    for key in ("Enter", "Space", "Enter"):
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press(key)
        except PlaywrightTimeout:
            continue
        chooser.value.set_files(path)
        return
    pytest.fail("the file field's chooser did not open from the keyboard")


def keyboard_sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    tab_to(page, "input[name=email]")
    page.keyboard.type("hr@acme.test")
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
def test_upload_and_confirm_with_the_keyboard_alone(site, browser_page, tmp_path):
    from playwright.sync_api import expect  # noqa: PLC0415
    _app, base, rows, last = site
    year, month = divmod(last - 1, 12)  # the uploaded month: a re-upload replaces it
    sheet = tmp_path / "salary.xlsx"
    sheet.write_bytes(demo_history.salary_workbook(
        [r for r in rows if (r["year"], r["month"]) == (year, month + 1)], "Salary"))
    page = browser_page()
    keyboard_sign_in(page, base)
    page.goto(f"{base}/uploads")
    tab_to(page, "select[name=month]")
    page.keyboard.press("Home")
    for _ in range(month):
        page.keyboard.press("ArrowDown")
    tab_to(page, "select[name=year]")
    page.keyboard.type(str(year))
    tab_to(page, "input[type=file]")
    choose_file_with_the_keyboard(page, str(sheet))
    tab_to(page, "form.upload-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#confirm-button", timeout=30_000)
    tab_to(page, "#confirm-button")
    page.keyboard.press("Enter")
    expect(page.locator(".done-line")).to_contain_text("Done", timeout=30_000)


@pytest.mark.browser
def test_a_month_sheet_is_filled_in_and_saved_with_the_keyboard_alone(site, browser_page):
    from playwright.sync_api import expect  # noqa: PLC0415
    app, base, _rows, last = site
    year, month = divmod(last, 12)
    page = browser_page(viewport={"width": 360, "height": 800})  # on a phone, too
    keyboard_sign_in(page, base)
    page.goto(f"{base}/payroll/{year}/{month + 1}")
    tab_to(page, "#pm-body input.cell")
    page.keyboard.type("7")  # the first cell: present days
    page.keyboard.press("Tab")
    tab_to(page, "#save-month", backwards=True, limit=200)
    page.keyboard.press("Enter")
    expect(page.locator("#month-status")).to_have_text("saved", timeout=30_000)
    expect(page.locator("#variance-lead")).to_have_text("Saved with")
    with app.app_context():
        record = db.session.query(PayrollMonth).filter_by(year=year, month=month + 1).one()
        assert record.status == "saved"
