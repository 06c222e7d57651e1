"""The dashboard page and its JSON: KPIs and deltas, filters, isolation, re-sync on demand."""
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import login

from paydash.charts import aggregation
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import ChartAggregatedData
from paydash.models import ChartVersion
from paydash.models import SalaryRow


def store_month(tenant_id: int, year: int, month: int, people: dict[str, tuple[str, str]],
                sync: bool = True) -> None:
    """Salary rows for {name: (department, net)}; gross is net + 1,000.50 for everyone."""
    rows = [dict(tenant_id=tenant_id, year=year, month=month, employee_key=name, employee_name=name,
                 department=dept, net=Decimal(net), gross=Decimal(net) + Decimal("1000.50"),
                 ot_hours=Decimal("2.5"), late_deduction=Decimal("10.25"),
                 total_deductions=Decimal("1000.50"))
            for name, (dept, net) in people.items()]
    db.session.execute(sa.insert(SalaryRow.__table__), rows)
    db.session.commit()
    if sync:
        aggregation.sync_chart_data(tenant_id, year, month, "excel")


@pytest.fixture
def acme_half_year(app, people):
    """Acme: Jan–Jun 2026, two people in Sales and one in Stores; a raise for Sales in April."""
    with app.app_context():
        for month in range(1, 7):
            sales = "30000.00" if month < 4 else "33000.00"
            store_month(people.tenant_a, 2026, month, {
                "Asha": ("Sales", sales), "Ravi": ("Sales", sales), "Meena": ("Stores", "18000.00")})
    return people


def summary(client, query: str = "") -> dict:
    response = client.get("/api/dashboard/summary" + query)
    assert response.status_code == 200, response.data[:300]
    return response.get_json()


def kpi(data: dict, key: str) -> dict:
    return next(card for card in data["kpis"] if card["key"] == key)


def test_summary_sums_the_period_and_compares_it_with_the_previous_one(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2026-04&to=2026-06")
    assert kpi(data, "net")["value"] == 3 * (33000 * 2 + 18000)
    assert kpi(data, "net")["previous"] == 3 * (30000 * 2 + 18000)
    assert kpi(data, "net")["change_pct"] == pytest.approx(7.7, abs=0.05)
    assert kpi(data, "gross")["value"] == 3 * (33000 * 2 + 18000) + 9 * 1000.50
    assert kpi(data, "headcount")["value"] == 3
    assert data["previous"]["from"] == "2026-01" and data["previous"]["to"] == "2026-03"


def test_summary_gives_the_average_net_per_employee_month(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2026-01&to=2026-03")
    assert kpi(data, "avg_net")["value"] == pytest.approx((30000 * 2 + 18000) / 3, abs=0.01)


def test_summary_has_a_trend_point_for_every_month_in_the_range(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2025-12&to=2026-02")
    assert [p["month"] for p in data["trend"]] == ["2025-12", "2026-01", "2026-02"]
    assert data["trend"][0]["net"] is None
    assert data["trend"][1]["headcount"] == 3


def test_department_filter_limits_every_figure_to_that_department(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2026-06&to=2026-06&department=Stores")
    assert kpi(data, "net")["value"] == 18000
    assert kpi(data, "headcount")["value"] == 1
    assert [d["department"] for d in data["by_department"]] == ["Stores"]
    assert [t["name"] for t in data["top_earners"]] == ["Meena"]
    assert data["departments"] == ["Sales", "Stores"]


def test_bands_and_top_earners_come_from_the_last_month_of_the_range(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2026-01&to=2026-06")
    assert data["detail_month"]["key"] == "2026-06"
    assert {b["band"]: b["count"] for b in data["bands"] if b["count"]} == {"b4": 2, "b2": 1}
    assert [t["net"] for t in data["top_earners"]] == [33000, 33000, 18000]


def test_hr_of_another_tenant_never_sees_these_numbers(app, acme_half_year):
    client = login(app.test_client(), "hr@bharat.test")
    data = summary(client, f"?from=2026-01&to=2026-06&tenant={acme_half_year.tenant_a}")
    assert data["has_data"] is False
    assert data["departments"] == []
    assert all(card["value"] == 0 for card in data["kpis"])
    assert data["top_earners"] == []


def test_operator_picks_the_tenant_to_look_at(app, acme_half_year):
    client = login(app.test_client(), "ops@paydash.test")
    data = summary(client, f"?from=2026-06&to=2026-06&tenant={acme_half_year.tenant_a}")
    assert kpi(data, "headcount")["value"] == 3


def test_this_month_falls_back_to_the_latest_month_with_data_and_says_so(app, hr_client, people):
    today = dt.date.today()
    year, month = (today.year, today.month - 2) if today.month > 2 else (today.year - 1, today.month + 10)
    with app.app_context():
        store_month(people.tenant_a, year, month, {"Asha": ("Sales", "25000")})
    data = summary(hr_client, "?period=month")
    assert data["period"]["from"] == data["period"]["to"] == "%04d-%02d" % (year, month)
    assert "latest month with data" in data["period"]["note"]


def test_a_month_that_is_not_a_month_is_refused_with_a_readable_message(hr_client, people):
    response = hr_client.get("/api/dashboard/summary?from=2026-13&to=2026-14")
    assert response.status_code == 400
    assert "not a month" in response.get_json()["detail"]


def test_summary_requires_sign_in(client):
    assert client.get("/api/dashboard/summary").status_code == 401


def test_dashboard_page_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_dashboard_page_embeds_the_summary_for_its_charts(hr_client, acme_half_year):
    page = hr_client.get("/?from=2026-06&to=2026-06").get_data(as_text=True)
    embedded = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    data = json.loads(embedded.group(1))
    assert kpi(data, "headcount")["value"] == 3
    assert 'src="/static/js/charts.js"' in page and 'id="chart-trend"' in page


def test_dashboard_page_has_no_inline_script_or_style(hr_client, acme_half_year):
    page = hr_client.get("/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*(src=|application/json))[^>]*>", page)
    assert " style=" not in page and not re.search(r"\son[a-z]+=", page)


def test_empty_dashboard_tells_hr_to_upload_a_sheet(hr_client, people):
    page = hr_client.get("/").get_data(as_text=True)
    assert "No payroll data for this period yet" in page
    assert "Upload your monthly salary sheet" in page


def test_a_bad_period_on_the_page_shows_a_message_not_an_error_page(hr_client, acme_half_year):
    response = hr_client.get("/?from=nonsense")
    assert response.status_code == 200
    assert "is not a month" in response.get_data(as_text=True)


def test_a_period_with_salary_rows_but_no_chart_data_is_refreshing_with_one_sync(queued_app):
    from conftest import People  # noqa: PLC0415
    people = People(queued_app)
    with queued_app.app_context():
        store_month(people.tenant_a, 2026, 5, {"Asha": ("Sales", "25000")}, sync=False)
    client = login(queued_app.test_client(), "hr@acme.test")
    first = summary(client, "?from=2026-05&to=2026-05")
    second = summary(client, "?from=2026-05&to=2026-05")
    assert [(r["year"], r["month"]) for r in first["refreshing"]] == [(2026, 5)]
    assert second["refreshing"][0]["job_id"] == first["refreshing"][0]["job_id"]
    with queued_app.app_context():
        jobs = db.session.scalars(sa.select(Job).where(Job.task_name == "sync_chart_data_batch")).all()
        assert [(j.tenant_id, j.year, j.month, j.state) for j in jobs] == [(people.tenant_a, 2026, 5, "PENDING")]


def test_a_chart_cleaned_up_by_retention_comes_back_on_the_next_visit(app, hr_client, acme_half_year):
    before = summary(hr_client, "?from=2026-04&to=2026-06")
    with app.app_context():
        db.session.execute(sa.update(ChartAggregatedData).values(refreshed_at=utcnow() - dt.timedelta(days=100)))
        db.session.commit()
        assert aggregation.cleanup_old_chart_data()["deleted"] > 0
    after = summary(hr_client, "?from=2026-04&to=2026-06")
    assert after["kpis"] == before["kpis"]
    assert after["refreshing"] == []


# --- The summary cache: never stale after a write, never shared between tenants ----------------


def version_of(tenant_id: int) -> int:
    return db.session.get(ChartVersion, tenant_id).version


def test_a_sync_bumps_only_its_tenants_chart_version(app, acme_half_year):
    with app.app_context():
        before = version_of(acme_half_year.tenant_a)
        store_month(acme_half_year.tenant_b, 2026, 6, {"Bala": ("Paint", "21000")})
        assert version_of(acme_half_year.tenant_a) == before
        aggregation.sync_chart_data(acme_half_year.tenant_a, 2026, 6, "excel")
        assert version_of(acme_half_year.tenant_a) == before + 1


def test_a_cleanup_bumps_the_version_of_each_tenant_it_deleted_from(app, acme_half_year):
    with app.app_context():
        store_month(acme_half_year.tenant_b, 2026, 6, {"Bala": ("Paint", "21000")})
        a, b = version_of(acme_half_year.tenant_a), version_of(acme_half_year.tenant_b)
        db.session.execute(sa.update(ChartAggregatedData)
                           .where(ChartAggregatedData.tenant_id == acme_half_year.tenant_a)
                           .values(refreshed_at=utcnow() - dt.timedelta(days=100)))
        db.session.commit()
        aggregation.cleanup_old_chart_data()
        assert (version_of(acme_half_year.tenant_a), version_of(acme_half_year.tenant_b)) == (a + 1, b)


def test_a_summary_is_reused_until_the_chart_version_moves(app, hr_client, acme_half_year):
    first = summary(hr_client, "?from=2026-06&to=2026-06")
    with app.app_context():
        # A write that skips the version (never done by Paydash) shows the cache is in use.
        db.session.execute(sa.update(ChartAggregatedData).values(headcount=99))
        db.session.commit()
        assert kpi(summary(hr_client, "?from=2026-06&to=2026-06"), "headcount") == kpi(first, "headcount")
        aggregation.bump_chart_version([acme_half_year.tenant_a])
        db.session.commit()
    assert kpi(summary(hr_client, "?from=2026-06&to=2026-06"), "headcount")["value"] > 3


def test_a_sync_after_a_cached_answer_shows_the_new_figures(app, hr_client, acme_half_year):
    assert kpi(summary(hr_client, "?period=6m"), "headcount")["value"] == 3
    assert kpi(summary(hr_client, "?from=2026-06&to=2026-06"), "headcount")["value"] == 3
    with app.app_context():
        store_month(acme_half_year.tenant_a, 2026, 6, {"Kiran": ("Stores", "20000.00")})
    data = summary(hr_client, "?from=2026-06&to=2026-06")
    assert kpi(data, "headcount")["value"] == 4
    assert kpi(data, "net")["value"] == 33000 * 2 + 18000 + 20000


def test_a_cleanup_after_a_cached_answer_is_not_served_stale(app, hr_client, acme_half_year):
    assert summary(hr_client, "?from=2026-06&to=2026-06")["has_data"] is True
    with app.app_context():
        # June's salary rows are gone and its chart rows are past retention: June is empty now.
        db.session.execute(sa.delete(SalaryRow).where(SalaryRow.month == 6))
        db.session.execute(sa.update(ChartAggregatedData).where(ChartAggregatedData.month == 6)
                           .values(refreshed_at=utcnow() - dt.timedelta(days=100)))
        db.session.commit()
        aggregation.cleanup_old_chart_data()
    data = summary(hr_client, "?from=2026-06&to=2026-06")
    assert data["has_data"] is False
    assert kpi(data, "headcount")["value"] == 0


def test_the_same_query_from_two_tenants_gets_each_its_own_numbers(app, acme_half_year):
    with app.app_context():
        store_month(acme_half_year.tenant_b, 2026, 6, {"Bala": ("Paint", "21000.00")})
    acme = summary(login(app.test_client(), "hr@acme.test"), "?from=2026-06&to=2026-06")
    bharat = summary(login(app.test_client(), "hr@bharat.test"), "?from=2026-06&to=2026-06")
    again = summary(login(app.test_client(), "hr@acme.test"), "?from=2026-06&to=2026-06")
    assert (kpi(acme, "headcount")["value"], kpi(bharat, "headcount")["value"]) == (3, 1)
    assert bharat["departments"] == ["Paint"] and again == acme


def test_the_department_filter_is_part_of_the_cached_answer(hr_client, acme_half_year):
    everyone = summary(hr_client, "?from=2026-06&to=2026-06")
    stores = summary(hr_client, "?from=2026-06&to=2026-06&department=Stores")
    assert (kpi(everyone, "headcount")["value"], kpi(stores, "headcount")["value"]) == (3, 1)


def test_an_answer_waiting_for_a_resync_is_not_cached(queued_app):
    from conftest import People  # noqa: PLC0415
    people = People(queued_app)
    with queued_app.app_context():
        store_month(people.tenant_a, 2026, 5, {"Asha": ("Sales", "25000")}, sync=False)
    client = login(queued_app.test_client(), "hr@acme.test")
    assert summary(client, "?from=2026-05&to=2026-05")["refreshing"]
    with queued_app.app_context():
        db.session.execute(sa.delete(Job))
        db.session.commit()
    # With the first answer cached, no new sync would be asked for after the job vanished.
    assert summary(client, "?from=2026-05&to=2026-05")["refreshing"][0]["state"] == "PENDING"
    with queued_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_a_range_whose_earlier_window_has_one_month_compares_the_average_month(hr_client, app,
                                                                             people):
    # Issue 14: Jan–Mar against Oct–Dec with only Dec on file read "▲200%": 3 months vs 1.
    with app.app_context():
        for year, month in ((2025, 12), (2026, 1), (2026, 2), (2026, 3)):
            store_month(people.tenant_a, year, month, {"Asha": ("Sales", "30000.00")})
    data = summary(hr_client, "?from=2026-01&to=2026-03")
    assert kpi(data, "net")["value"] == 90000 and kpi(data, "net")["previous"] == 30000
    assert kpi(data, "net")["change_pct"] == 0
    assert kpi(data, "net")["compare"].startswith("per month, vs")
    assert data["previous"]["months_with_data"] == 1 and data["previous"]["complete"] is False
    assert "only 1 of its 3 months" in data["previous"]["note"]


def test_an_earlier_window_without_data_shows_no_percentage(hr_client, app, people):
    with app.app_context():
        store_month(people.tenant_a, 2026, 1, {"Asha": ("Sales", "30000.00")})
    data = summary(hr_client, "?from=2026-01&to=2026-01")
    assert all(card["change_pct"] is None for card in data["kpis"])
    assert "nothing to compare" in data["previous"]["note"]


def test_full_windows_compare_totals_without_a_note(hr_client, acme_half_year):
    data = summary(hr_client, "?from=2026-04&to=2026-06")
    assert kpi(data, "net")["compare"] == "vs Jan 2026 – Mar 2026"
    assert data["previous"]["note"] is None and data["previous"]["complete"] is True
