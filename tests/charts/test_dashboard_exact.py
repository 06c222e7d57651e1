"""The dashboard's faster read path (issue 18) answers byte for byte what the earlier
computation answered: several tenants, departments, months without data, months whose
sheet had no gross pay, months whose chart rows are gone — on SQLite and PostgreSQL."""
import json
import random
from decimal import Decimal

import dashboard_before
import pytest
import sqlalchemy as sa
from conftest import PASSWORD
from conftest import base_config
from conftest import dispose_app
from conftest import login
from conftest import make_app

from paydash import accounts
from paydash.charts import aggregation
from paydash.charts import queries
from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Tenant

YEAR = 2025
DEPARTMENTS = ("Sales", "Stores", "Yard", "", "Accounts & Finance", "Ünïcode Dept")


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path):
    """Queued mode: a month to re-sync keeps its open job, so both computations see it."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    app = make_app(base_config(tmp_path, url))
    yield app
    dispose_app(app)


def paise(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def store_tenant(slug: str, seed: int) -> tuple[int, list[int]]:
    """A tenant with random payroll over 2025–2026 (gaps, net-only months); returns
    (tenant id, month indexes with salary rows)."""
    rng = random.Random(seed)
    tenant_id = accounts.create_tenant(f"Tenant {slug}", slug).id
    departments = rng.sample(DEPARTMENTS, rng.randint(1, len(DEPARTMENTS)))
    staff = [(f"{slug}{i:03d}", rng.choice(departments)) for i in range(rng.randint(3, 40))]
    months = sorted(rng.sample(range(queries.month_index(YEAR, 1), queries.month_index(YEAR + 1, 12) + 1),
                               rng.randint(6, 18)))
    for index in months:
        year, month = queries.from_index(index)
        net_only = rng.random() < 0.2  # a sheet without gross pay (issue 15)
        rows = []
        for code, department in rng.sample(staff, rng.randint(1, len(staff))):
            net = paise(rng, 5000, 150000)
            rows.append(dict(
                tenant_id=tenant_id, year=year, month=month, employee_key=code, employee_code=code,
                employee_name=f"Name {code}", department=department, net=net,
                gross=None if net_only or rng.random() < 0.05 else net + paise(rng, 0, 9000),
                fixed_salary=paise(rng, 8000, 90000), ot_hours=paise(rng, 0, 40),
                ot_pay=paise(rng, 0, 4000), late_deduction=paise(rng, 0, 500),
                total_deductions=paise(rng, 0, 9000)))
        db.session.execute(sa.insert(SalaryRow.__table__), rows)
        db.session.commit()
        aggregation.sync_chart_data(tenant_id, year, month, "excel")
    return tenant_id, months


def drop_chart_rows(tenant_id: int, index: int) -> None:
    """What the retention cleanup leaves: salary rows, no chart rows (a re-sync is due)."""
    year, month = queries.from_index(index)
    db.session.execute(sa.delete(ChartAggregatedData).where(
        ChartAggregatedData.tenant_id == tenant_id, ChartAggregatedData.year == year,
        ChartAggregatedData.month == month))
    aggregation.bump_chart_version([tenant_id])
    db.session.commit()


def periods(months: list[int]) -> list[queries.Period]:
    """Ranges of 1 to 36 months, inside, around and outside the months with data."""
    first, last = months[0], months[-1]
    spans = [(last, last), (first, first), (first, last), (last - 2, last), (last - 5, last),
             (last - 11, last), (last - 23, last), (first - 6, first + 5), (last + 1, last + 4),
             (first - 35, first), (first + 1, first + 3)]
    # Presets as the request parser names them, so the endpoint's answers compare too.
    return [queries.Period(a, b, "month" if a == b else "custom")
            for a, b in spans if 0 < b - a + 1 <= queries.MAX_MONTHS]


def encoded(summary: dict) -> bytes:
    return json.dumps(summary, separators=(",", ":")).encode()


@pytest.fixture
def three_tenants(app):
    """Three tenants of random payroll; two of them with months whose chart rows are gone
    (the tenant's first month with data, and one inside)."""
    with app.app_context():
        tenants = [store_tenant(slug, seed) for slug, seed in (("ka", 11), ("kb", 12), ("kc", 13))]
        drop_chart_rows(tenants[0][0], tenants[0][1][0])
        drop_chart_rows(tenants[1][0], tenants[1][1][len(tenants[1][1]) // 2])
    return tenants


def test_every_answer_is_byte_for_byte_the_earlier_one(app, three_tenants):
    compared = 0
    with app.app_context():
        for tenant_id, months in three_tenants:
            departments = sorted({d or "Unassigned" for d in db.session.scalars(
                sa.select(SalaryRow.department).where(SalaryRow.tenant_id == tenant_id))})
            for period in periods(months):
                for department in (None, *departments, "No Such Department"):
                    before = dashboard_before._build_summary(tenant_id, period, department, None)
                    now = queries._build_summary(tenant_id, period, department, None)
                    assert now[1] == before[1], (tenant_id, period, department)
                    assert encoded(now[0]) == encoded(before[0]), (tenant_id, period, department)
                    compared += 1
    assert compared > 100


def test_the_data_exercises_what_the_fast_path_must_get_right(app, three_tenants):
    """The comparison above covers net-only months, months to re-sync and empty windows."""
    seen = set()
    with app.app_context():
        for tenant_id, months in three_tenants:
            for period in periods(months):
                summary, complete = queries._build_summary(tenant_id, period, None, None)
                seen.add("gross unknown" if summary["gross_unknown_months"] else "gross known")
                seen.add("re-sync" if not complete else "complete")
                seen.add("refreshing" if summary["refreshing"] else "not refreshing")
                seen.add("no data" if not summary["has_data"] else "data")
                seen.add("partial earlier window" if 0 < summary["previous"]["months_with_data"]
                         < summary["previous"]["months"] else "other window")
    assert seen >= {"gross unknown", "gross known", "re-sync", "complete", "refreshing",
                    "no data", "data", "partial earlier window"}


def test_the_json_endpoint_sends_the_earlier_computation_s_bytes(app, three_tenants):
    tenant_id, months = three_tenants[2]
    with app.app_context():
        accounts.create_user("hr@kc.test", PASSWORD, tenant=db.session.get(Tenant, tenant_id))
        db.session.commit()
    client = login(app.test_client(), "hr@kc.test")
    for period in periods(months):
        query = "?from=%s&to=%s" % (queries.month_key(period.start), queries.month_key(period.end))
        body = client.get("/api/dashboard/summary" + query).data
        with app.app_context():
            summary, _ = dashboard_before._build_summary(tenant_id, period, None, None)
        assert body == encoded(dict(summary, tenant_id=tenant_id)), query
