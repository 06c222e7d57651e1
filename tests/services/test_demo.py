"""Demo data: idempotent seed, logins that work, and the dashboard in a real browser."""
import datetime as dt
import json
import pathlib

import pytest
import sqlalchemy as sa
from conftest import login

from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.models import User
from paydash.services import demo

TODAY = dt.date(2026, 7, 15)


def counts() -> dict:
    """What a seed run could change: row counts and the money in them."""
    return {
        "tenants": db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)),
        "users": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "salary_rows": db.session.scalar(sa.select(sa.func.count()).select_from(SalaryRow)),
        "net": db.session.scalar(sa.select(sa.func.sum(SalaryRow.net))),
        "chart_rows": db.session.scalar(sa.select(sa.func.count()).select_from(ChartAggregatedData)),
    }


def test_seed_creates_twelve_months_ending_last_month_with_charts(app):
    with app.app_context():
        demo.seed_demo(employees=30, months=12, today=TODAY)
        months = db.session.execute(sa.select(SalaryRow.year, SalaryRow.month).distinct()).all()
        charted = db.session.execute(sa.select(ChartAggregatedData.year, ChartAggregatedData.month).distinct()).all()
        assert sorted(months)[0] == (2025, 7) and sorted(months)[-1] == (2026, 6)
        assert len(months) == 12
        assert sorted(charted) == sorted(months)


def test_seed_creates_the_demo_tenant_and_its_four_logins(app):
    with app.app_context():
        info = demo.seed_demo(employees=10, months=2, today=TODAY)
        roles = dict(db.session.execute(sa.select(User.email, User.role)).all())
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "demo"))
    assert tenant.name == "Demo Traders Pvt Ltd"
    assert roles == {"hr@demo.paydash": "hr", "admin@demo.paydash": "tenant_admin",
                     "ops@paydash.local": "operator", "viewer@paydash.local": "readonly_operator"}
    assert {login["email"] for login in info["logins"]} == set(roles)


def test_seeding_twice_changes_nothing(app):
    with app.app_context():
        demo.seed_demo(employees=20, months=3, today=TODAY)
        before = counts()
        again = demo.seed_demo(employees=20, months=3, today=TODAY)
        assert counts() == before
    assert again["salary_rows_inserted"] == 0 and again["months_aggregated"] == 0


def test_generated_payroll_is_the_same_every_time():
    assert demo.generate_payroll(15, 4, 24313) == demo.generate_payroll(15, 4, 24313)


def test_generated_payroll_nets_are_gross_less_deductions_with_joiners_and_leavers():
    rows = demo.generate_payroll(100, 12, 24313)
    assert all(r["net"] == r["gross"] - r["total_deductions"] for r in rows)
    by_month = {}
    for r in rows:
        by_month.setdefault((r["year"], r["month"]), set()).add(r["employee_code"])
    first, last = by_month[min(by_month)], by_month[max(by_month)]
    assert first - last and last - first  # some left, some joined


def test_demo_hr_signs_in_with_the_printed_password_and_sees_data(app):
    with app.app_context():
        info = demo.seed_demo(employees=10, months=2)
    hr = next(entry for entry in info["logins"] if entry["role"] == "hr")
    client = login(app.test_client(), hr["email"], hr["password"])
    data = client.get("/api/dashboard/summary").get_json()
    assert data["has_data"] is True
    assert data["kpis"][2]["value"] > 0


def test_seed_demo_command_prints_the_logins_as_json(app):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--employees", "5", "--months", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["logins"][0]["email"] == "hr@demo.paydash"


@pytest.fixture
def live_demo(app, serve_app):
    """The app with demo data, served over HTTP from a thread on a free port."""
    with app.app_context():
        info = demo.seed_demo(employees=40, months=12)
    url = serve_app(app)
    DEMO_HR_PASSWORDS[url] = info["logins"][0]["password"]
    return url


DEMO_HR_PASSWORDS: dict[str, str] = {}  # base URL -> the HR password the seed printed


def live_demo_password(base_url: str) -> str:
    return DEMO_HR_PASSWORDS[base_url]


@pytest.mark.browser
def test_demo_dashboard_in_chromium_shows_kpis_charts_and_tooltips(live_demo, browser_page):
    page = browser_page(viewport={"width": 1280, "height": 900})
    from playwright.sync_api import expect  # noqa: PLC0415
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(live_demo + "/login")
    page.fill("input[name=email]", "hr@demo.paydash")
    page.fill("input[name=password]", live_demo_password(live_demo))
    page.click("button[type=submit]")
    # One month: bars with their values written on them, not lone dots.
    page.wait_for_selector("#chart-trend svg rect.bar")
    assert page.locator("#chart-trend svg circle").count() == 0
    assert "Net ₹" in page.locator("#chart-trend svg").text_content()
    assert page.locator(".kpi-value").first.inner_text().startswith("₹")
    assert page.locator(".pd-chart svg").count() == 6
    page.click("label[for=period-12m]")
    expect(page.locator("#chart-trend .points.s0 circle")).to_have_count(12)
    page.hover("#chart-trend .points.s1 circle >> nth=-1")
    tooltip = page.locator("#chart-trend .chart-tooltip")
    tooltip.wait_for(state="visible")
    assert "Net: ₹" in tooltip.inner_text()
    # The browser asks for /favicon.ico on its own; no page of ours links it.
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [e for e in errors if "Failed to load resource" not in e] == []


def test_demo_passwords_are_made_per_install_and_printed_only_once(tmp_path):
    from conftest import base_config  # noqa: PLC0415
    from conftest import dispose_app  # noqa: PLC0415
    from conftest import make_app  # noqa: PLC0415
    seen = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        other = make_app(base_config(tmp_path / str(n), f"sqlite:///{tmp_path / f'{n}.db'}"))
        with other.app_context():
            first = demo.seed_demo(employees=3, months=1, today=TODAY)
            again = demo.seed_demo(employees=3, months=1, today=TODAY)
        dispose_app(other)
        seen.append({e["email"]: e["password"] for e in first["logins"]})
        assert all(e["password"] == demo.PASSWORD_SHOWN_BEFORE for e in again["logins"])
    assert all(len(p) >= 16 for p in seen[0].values())
    assert not set(seen[0].values()) & set(seen[1].values())  # another install, other passwords


def test_new_demo_passwords_replace_the_old_ones(app):
    with app.app_context():
        old = demo.seed_demo(employees=3, months=1, today=TODAY)["logins"][0]["password"]
        new = demo.seed_demo(employees=3, months=1, today=TODAY, new_passwords=True)["logins"][0]["password"]
    assert new != old
    assert app.test_client().post("/login", data={"email": "hr@demo.paydash",
                                                  "password": old}).status_code == 401
    login(app.test_client(), "hr@demo.paydash", new)
def test_first_start_has_employees_a_year_of_uploads_browser_months_and_a_retried_job(app):
    from paydash.ledger.models import Job  # noqa: PLC0415
    from paydash.ledger.models import JobEvent  # noqa: PLC0415
    from paydash.models import Employee  # noqa: PLC0415
    from paydash.models import PayrollMonth  # noqa: PLC0415
    from paydash.models import Upload  # noqa: PLC0415
    from paydash.sheets.salary_sheet import read_salary_sheet  # noqa: PLC0415
    with app.app_context():
        info = demo.seed_demo(employees=12, months=12)
        uploads = db.session.scalars(sa.select(Upload)).all()
        statuses = sorted(u.status for u in uploads)
        assert statuses.count("confirmed") == 10 and statuses.count("superseded") == 1
        assert all(u.preview and u.preview["employee_count"] > 0 for u in uploads)
        assert db.session.scalar(sa.select(sa.func.count(Employee.id))) >= 12
        months = {m.status for m in db.session.scalars(sa.select(PayrollMonth))}
        assert months == {"saved", "paid"}
        retried = db.session.scalars(sa.select(Job).where(Job.attempts == 2)).one()
        assert retried.state == "SUCCESS"
        assert "RETRY" in {e.state for e in db.session.scalars(
            sa.select(JobEvent).where(JobEvent.job_id == retried.id))}
        sample = pathlib.Path(info["sample_sheet"])
        assert read_salary_sheet(sample.read_bytes()).ok
        # Idempotent: a second start adds nothing.
        demo.seed_demo(employees=12, months=12)
        assert db.session.scalar(sa.select(sa.func.count(Upload.id))) == 11
