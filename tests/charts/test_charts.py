"""Chart aggregation (on SQLite and PostgreSQL), cleanup, and the sync task's ledger entry."""
import datetime as dt
import random
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import make_app

from paydash import accounts
from paydash.charts import aggregation
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow

MEASURES = ("gross", "net", "fixed_salary", "ot_hours", "ot_pay", "late_deduction", "total_deductions")


@pytest.fixture(params=["sqlite", "postgresql"])
def chart_app(request, tmp_path):
    """The app on SQLite or on PostgreSQL, in immediate mode, with one tenant."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    app = make_app(base_config(tmp_path, url, HUEY_IMMEDIATE=True))
    with app.app_context():
        app.tenant_id = accounts.create_tenant("Acme Traders", "acme").id
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def paise(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount with paise, like the dozen-decimal cells sheets round to."""
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def add_rows(tenant_id: int, year: int, month: int, people: list[tuple[str, str, Decimal]],
             seed: int = 7) -> list[dict]:
    """Store salary rows for (code, department, net) with random paise in every other measure."""
    rng = random.Random(seed)
    rows = []
    for code, department, net in people:
        row = dict(tenant_id=tenant_id, year=year, month=month, employee_key=code, employee_code=code,
                   employee_name=f"Name {code}", department=department, net=net,
                   gross=net + paise(rng, 0, 5000), fixed_salary=paise(rng, 8000, 90000),
                   ot_hours=paise(rng, 0, 40), ot_pay=paise(rng, 0, 4000),
                   late_deduction=paise(rng, 0, 500), total_deductions=paise(rng, 0, 6000))
        rows.append(row)
    db.session.execute(sa.insert(SalaryRow.__table__), rows)
    db.session.commit()
    return rows


def many_people(count: int, departments: tuple[str, ...], seed: int = 3) -> list[tuple[str, str, Decimal]]:
    rng = random.Random(seed)
    return [(f"E{i:04d}", departments[i % len(departments)], paise(rng, 5000, 150000))
            for i in range(count)]


def chart_rows(tenant_id: int, kind: str | None = None) -> list[ChartAggregatedData]:
    stmt = sa.select(ChartAggregatedData).where(ChartAggregatedData.tenant_id == tenant_id)
    if kind:
        stmt = stmt.where(ChartAggregatedData.kind == kind)
    return db.session.scalars(stmt.order_by(ChartAggregatedData.id)).all()


def snapshot(tenant_id: int) -> list[tuple]:
    """Every chart row's id, key and figures: all but refreshed_at."""
    return [(r.id, r.year, r.month, r.kind, r.department, r.bucket, r.label, r.headcount,
             *(getattr(r, m) for m in MEASURES)) for r in chart_rows(tenant_id)]


def test_department_totals_equal_the_sum_of_the_rows_to_the_paisa(chart_app):
    rows = add_rows(chart_app.tenant_id, 2026, 3, many_people(250, ("Sales", "Stores", "Accounts")))
    aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "excel")
    for dept in chart_rows(chart_app.tenant_id, aggregation.DEPT):
        mine = [r for r in rows if r["department"] == dept.department]
        assert dept.headcount == len(mine)
        for measure in MEASURES:
            assert getattr(dept, measure) == sum(r[measure] for r in mine), (dept.department, measure)


def test_salary_bands_count_each_employee_once_by_net_pay(chart_app):
    nets = ["9999.99", "10000.00", "19999.99", "20000", "35000", "50000", "99999.99", "100000", "250000"]
    add_rows(chart_app.tenant_id, 2026, 3, [(f"B{i}", "Sales", Decimal(n)) for i, n in enumerate(nets)])
    aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "excel")
    counts = {r.bucket: r.headcount for r in chart_rows(chart_app.tenant_id, aggregation.BAND)}
    assert counts == {"b1": 1, "b2": 2, "b3": 1, "b4": 1, "b5": 2, "b6": 2}


def test_top_earners_are_the_ten_best_paid_by_net_per_department_and_overall(chart_app):
    rows = add_rows(chart_app.tenant_id, 2026, 3, many_people(60, ("Sales", "Stores")))
    aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "excel")
    top = chart_rows(chart_app.tenant_id, aggregation.TOP)
    for department in ("Sales", "Stores", aggregation.ALL_DEPARTMENTS):
        pool = [r for r in rows if department in ("", r["department"])]
        expected = [r["employee_name"] for r in sorted(pool, key=lambda r: -r["net"])[:10]]
        ranked = sorted((r for r in top if r.department == department), key=lambda r: r.bucket)
        assert [r.label for r in ranked] == expected
        assert [r.bucket for r in ranked] == [f"{n:02d}" for n in range(1, 11)]


def test_running_the_sync_twice_leaves_the_same_rows(chart_app):
    add_rows(chart_app.tenant_id, 2026, 3, many_people(40, ("Sales", "Stores")))
    first = aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "excel")
    before = snapshot(chart_app.tenant_id)
    second = aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "excel")
    assert snapshot(chart_app.tenant_id) == before
    assert first == second
    assert second["rows_deleted"] == 0


def test_a_reupload_without_a_department_removes_that_departments_chart_rows(chart_app):
    tenant = chart_app.tenant_id
    add_rows(tenant, 2026, 3, many_people(30, ("Sales", "Stores")))
    aggregation.sync_chart_data(tenant, 2026, 3, "excel")
    db.session.execute(sa.update(SalaryRow).where(SalaryRow.department == "Stores").values(department="Sales"))
    db.session.commit()
    result = aggregation.sync_chart_data(tenant, 2026, 3, "excel")
    assert {r.department for r in chart_rows(tenant)} == {"Sales", aggregation.ALL_DEPARTMENTS}
    assert result["rows_deleted"] > 0


def test_a_period_without_salary_rows_keeps_other_periods_chart_rows(chart_app):
    tenant = chart_app.tenant_id
    add_rows(tenant, 2026, 2, many_people(5, ("Sales",)))
    aggregation.sync_chart_data(tenant, 2026, 2, "excel")
    aggregation.sync_chart_data(tenant, 2026, 3, "excel")
    assert {(r.year, r.month) for r in chart_rows(tenant)} == {(2026, 2)}


def test_sync_summary_reports_rows_departments_and_headcount(chart_app):
    add_rows(chart_app.tenant_id, 2026, 3, many_people(12, ("Sales", "Stores", "Accounts")))
    summary = aggregation.sync_chart_data(chart_app.tenant_id, 2026, 3, "frontend")
    assert summary["headcount"] == 12
    assert summary["departments"] == 3
    assert summary["rows_written"] == len(chart_rows(chart_app.tenant_id))
    assert {r.source for r in chart_rows(chart_app.tenant_id)} == {"frontend"}


def test_sync_for_a_tenant_that_does_not_exist_fails_with_a_clear_error(app):
    with app.app_context(), pytest.raises(aggregation.UnknownTenant, match="No tenant with id 999"):
        aggregation.sync_chart_data(999, 2026, 3, "excel")


def test_requested_sync_runs_as_a_job_and_records_its_summary(app):
    with app.app_context():
        tenant = accounts.create_tenant("Acme Traders", "acme").id
        add_rows(tenant, 2026, 3, many_people(8, ("Sales",)))
        job = aggregation.request_sync(tenant, 2026, 3, "excel", requested_by_id=None)
        job = db.session.get(Job, job.id)
        assert (job.state, job.result["headcount"], job.queue) == ("SUCCESS", 8, "chart_sync")


def test_requested_sync_for_a_missing_tenant_ends_as_a_failed_job(app):
    with app.app_context():
        job_id = aggregation.request_sync(4242, 2026, 3, "excel", requested_by_id=None).id
        job = db.session.get(Job, job_id)
        assert job.state in ("FAILURE", "RETRY")
        assert "No tenant with id 4242" in job.error


def test_cleanup_deletes_only_chart_rows_older_than_the_retention(app):
    with app.app_context():
        tenant = accounts.create_tenant("Acme Traders", "acme").id
        for month in (2, 3):
            add_rows(tenant, 2026, month, many_people(5, ("Sales",)))
            aggregation.sync_chart_data(tenant, 2026, month, "excel")
        old = utcnow() - dt.timedelta(days=91)
        db.session.execute(sa.update(ChartAggregatedData).where(ChartAggregatedData.month == 2)
                           .values(refreshed_at=old))
        db.session.commit()
        result = aggregation.cleanup_old_chart_data()
        assert result["deleted"] > 0
        assert {r.month for r in chart_rows(tenant)} == {3}


def test_cleanup_reads_the_retention_from_configuration(app):
    app.config["CHART_DATA_RETENTION_DAYS"] = 5
    with app.app_context():
        tenant = accounts.create_tenant("Acme Traders", "acme").id
        add_rows(tenant, 2026, 3, many_people(5, ("Sales",)))
        aggregation.sync_chart_data(tenant, 2026, 3, "excel")
        aggregation.cleanup_old_chart_data(now=utcnow() + dt.timedelta(days=6))
        assert chart_rows(tenant) == []
