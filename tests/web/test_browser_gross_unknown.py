"""A month whose sheet had no gross pay reads as "not in the sheet" on the dashboard (issue 15)."""
import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app
from test_browser_every_page import sign_in

from paydash.charts import aggregation
from paydash.charts.queries import month_label
from paydash.extensions import db
from paydash.models import SalaryRow


def months_back(n: int) -> tuple[int, int]:
    first = dt.date.today().replace(day=1)
    index = first.year * 12 + first.month - 1 - n
    return index // 12, index % 12 + 1


@pytest.fixture
def site(tmp_path, sqlite_url, serve_app):
    """Acme: the month before last with gross, last month from a sheet with net pay only."""
    app = make_app(base_config(tmp_path, sqlite_url))
    people = People(app)
    with app.app_context():
        for back, gross in ((2, True), (1, False)):
            year, month = months_back(back)
            rows = [dict(tenant_id=people.tenant_a, year=year, month=month, employee_key=f"W{i}",
                         employee_name=name, department=dept, net=Decimal(18000 + i * 1000),
                         gross=Decimal(20000 + i * 1000) if gross else None,
                         total_deductions=Decimal(2000) if gross else Decimal(0))
                    for i, (name, dept) in enumerate((("Asha Rao", "Yard"), ("Ravi Das", "Yard"),
                                                      ("Meena Iyer", "Stores")))]
            db.session.execute(sa.insert(SalaryRow.__table__), rows)
            db.session.commit()
            aggregation.sync_chart_data(people.tenant_a, year, month, "excel")
    return serve_app(app)


@pytest.mark.browser
def test_the_dashboard_says_gross_is_not_in_the_sheet_instead_of_a_figure(site, browser_page):
    page = browser_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site, "hr@acme.test")
    page.wait_for_selector("#chart-trend svg")
    year, month = months_back(1)
    last = month_label(year * 12 + month - 1)
    card = page.locator("#dash-kpis .kpi-gross")
    assert card.locator(".kpi-value").text_content() == "Not in the sheet"
    assert card.locator(".kpi-delta").text_content() == f"Not in the sheet for {last}"
    assert f"Gross pay is not in the sheet for {last}" in page.locator("#dash-gross-unknown").text_content()
    trend = page.locator("#chart-trend svg").text_content()
    assert "₹57k" in trend and "Gross" not in trend  # net pay alone, no bar reading "Gross ₹0"
    assert page.locator("#chart-trend-title").text_content() == "Net pay (gross not in the sheet)"
    assert "no gross pay" in page.locator("#chart-trend-hint").text_content()
    assert page.locator("#chart-departments-title").text_content() == "Net pay and headcount by department"
    assert "net ₹37k · 2 people" in page.locator("#chart-departments svg").text_content()
    assert "gross is not in the sheet" in page.locator("#chart-departments-hint").text_content()
    assert "₹0" not in card.text_content()


@pytest.mark.browser
def test_over_six_months_the_gross_line_has_a_gap_where_the_sheet_had_none(site, browser_page):
    page = browser_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site, "hr@acme.test")
    page.click("label[for=period-6m]")
    page.locator("#chart-trend .points.s1 circle").nth(1).wait_for()
    assert page.locator("#chart-trend .points.s0 circle").count() == 1  # gross: the earlier month only
    assert page.locator("#dash-kpis .kpi-gross .kpi-value").text_content() == "Not in the sheet"
    assert "gross is not in the sheet for some months" in page.locator("#chart-trend-hint").text_content()
