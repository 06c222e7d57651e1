"""Charts read without hovering, on a laptop and on a 360 px phone, in Chromium."""
import datetime as dt
import re

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app
from test_browser_every_page import sign_in

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import JobState
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.services import demo
from paydash.services import demo_history

LONG_NAME = "Meera Guptaswamy Raghunathan"


@pytest.fixture
def site(tmp_path, sqlite_url, serve_app):
    app = make_app(base_config(tmp_path, sqlite_url))
    people = People(app)
    with app.app_context():
        last = demo.month_index_of_last_month()
        rows = demo.generate_payroll(20, 12, last)
        demo_history.seed_history(db.session.get(Tenant, people.tenant_a), people.hr_a, rows, last, 12)
        # The best-paid person of the latest month gets a long name: it must show whole.
        year, month = divmod(last, 12)
        top = db.session.scalars(sa.select(SalaryRow).where(
            SalaryRow.tenant_id == people.tenant_a, SalaryRow.year == year, SalaryRow.month == month + 1)
            .order_by(SalaryRow.net.desc())).first()
        top.employee_name = LONG_NAME
        db.session.commit()
        demo.sync_missing_charts(people.tenant_a)
        done = jobs.create_job("noop", args=(0,))
        done.state, done.finished_at = JobState.SUCCESS.value, done.created_at
        # Queue latency: jobs of Acme that waited 2, 45 and 90 s, started in the last hour.
        now = utcnow()
        for minutes_ago, waited in ((40, 2), (25, 45), (5, 90)):
            job = jobs.create_job("noop", args=(0,), tenant_id=people.tenant_a)
            job.started_at = now - dt.timedelta(minutes=minutes_ago)
            job.created_at = job.started_at - dt.timedelta(seconds=waited)
            job.state, job.finished_at = JobState.SUCCESS.value, job.started_at + dt.timedelta(seconds=1)
        db.session.commit()
    return serve_app(app)


def chart_text(page, chart: str) -> str:
    return page.locator(f"#chart-{chart} svg").text_content()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_one_month_shows_values_headcount_band_counts_and_whole_names(site, browser_page, width):
    page = browser_page(viewport={"width": width, "height": 900})
    sign_in(page, site, "hr@acme.test")
    page.wait_for_selector("#chart-trend svg rect.bar")
    assert page.locator("#chart-trend svg circle, #chart-headcount svg circle").count() == 0
    assert re.search(r"Gross ₹[\d.]+[kL]", chart_text(page, "trend"))
    assert re.search(r"\b\d+\b", chart_text(page, "headcount"))
    departments = chart_text(page, "departments")
    rows = page.locator("#chart-departments .hbar-row").count()
    assert rows > 1 and len(re.findall(r"\d+ (people|person)", departments)) == rows
    bands = page.locator("#chart-bands svg .value-label").all_text_contents()
    assert bands and all(re.fullmatch(r"[\d,]+", t) for t in bands)
    assert " 0 h" not in chart_text(page, "overtime")
    assert LONG_NAME in chart_text(page, "top")


@pytest.mark.browser
def test_gross_and_net_over_a_year_share_an_axis_that_does_not_start_at_zero(site, browser_page):
    page = browser_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site, "hr@acme.test")
    page.click("label[for=period-12m]")
    page.locator("#chart-trend .points.s0 circle").nth(11).wait_for()
    ticks = page.locator("#chart-trend .axis .axis-label").all_text_contents()
    assert ticks[0] != "₹0", ticks
    assert "₹ a month" in chart_text(page, "trend")


@pytest.mark.browser
def test_job_throughput_has_a_time_axis_counts_and_totals(site, browser_page):
    page = browser_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site, "ops@paydash.test")
    page.goto(site + "/jobs/")
    box = page.locator('[data-series="per_minute"]')
    box.locator("svg .axis-title").wait_for(state="attached")
    text = box.locator("svg").text_content()
    assert "Jobs per minute" in text
    assert re.search(r"\d\d:\d\d", text)  # minutes on the time axis
    assert re.search(r"\d+ succeeded · \d+ failed", page.locator("[data-series-total]").first.inner_text())


@pytest.mark.browser
@pytest.mark.parametrize(("width", "email"), [(1280, "ops@paydash.test"), (360, "ops@paydash.test"),
                                              (360, "admin@acme.test")])
def test_queue_latency_chart_has_a_time_axis_a_seconds_axis_and_values(site, browser_page, width, email):
    page = browser_page(viewport={"width": width, "height": 900})
    sign_in(page, site, email)
    page.goto(site + "/jobs/")
    box = page.locator("[data-latency]")
    box.locator("svg .end-label").first.wait_for(state="attached")
    text = box.locator("svg").text_content()
    assert "Wait, seconds" in text
    assert len(re.findall(r"\d\d:\d\d", text)) >= 2          # minutes on the time axis
    ticks = box.locator("svg .axis .axis-label").all_text_contents()
    assert any(re.fullmatch(r"[\d.,]+ s", t) for t in ticks), ticks
    # The last minute with a start is written on the chart: median and p95 of a 90 s wait.
    ends = box.locator("svg .end-label").all_text_contents()
    assert sorted(ends) == ["Median 90 s", "p95 90 s"], ends
    summary = page.locator("[data-latency-summary]").inner_text()
    assert "3 jobs started" in summary and "longest 1 min 30 s" in summary, summary
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box_width = box.bounding_box()["width"]
    assert box.locator("svg").bounding_box()["width"] <= box_width + 1
