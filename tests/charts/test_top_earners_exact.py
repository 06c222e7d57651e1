"""The chart sync that ranks only the rows that can be top earners writes exactly the chart
rows the sync at 1f3a984 (ranking every row; from git) wrote: every key, label and figure,
as the database holds it. On SQLite and PostgreSQL.
"""
from decimal import Decimal

import aggregation_before
import pytest
import sqlalchemy as sa
from conftest import base_config
from conftest import make_app
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash import accounts
from paydash.charts import aggregation
from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow

FIGURES = ("label", "headcount", "gross", "net", "fixed_salary", "ot_hours", "ot_pay",
           "late_deduction", "total_deductions", "source")
_tenants = [0]


@pytest.fixture(params=["sqlite", "postgresql"])
def top_app(request, tmp_path):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    app = make_app(base_config(tmp_path, url, HUEY_IMMEDIATE=True))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def charted(tenant_id: int) -> list[tuple]:
    c = ChartAggregatedData
    texts = [sa.cast(getattr(c, name), sa.Text).label(f"{name}_text") for name in ("gross", "net")]
    return [tuple(row) for row in db.session.execute(
        sa.select(c.kind, c.department, c.bucket, *(getattr(c, f) for f in FIGURES), *texts)
        .where(c.tenant_id == tenant_id).order_by(c.kind, c.department, c.bucket))]


def both_ways(people: list[tuple]) -> tuple[list, list]:
    """Chart rows after the earlier sync, then after today's, of one tenant-month."""
    _tenants[0] += 1
    tenant_id = accounts.create_tenant("T", f"top{_tenants[0]}").id
    db.session.execute(sa.insert(SalaryRow.__table__), [
        dict(tenant_id=tenant_id, year=2025, month=4, employee_key=f"K{i:03d}{key}",
             employee_code=None, employee_name=name, department=department, net=Decimal(net),
             gross=None if gross is None else Decimal(gross), fixed_salary=Decimal(i))
        for i, (key, name, department, net, gross) in enumerate(people)] or [
        dict(tenant_id=tenant_id, year=2025, month=5, employee_key="other")])
    db.session.commit()
    aggregation_before.sync_chart_data(tenant_id, 2025, 4, "excel")
    before = charted(tenant_id)
    db.session.execute(sa.delete(ChartAggregatedData).where(ChartAggregatedData.tenant_id == tenant_id))
    db.session.commit()
    aggregation.sync_chart_data(tenant_id, 2025, 4, "excel")
    return before, charted(tenant_id)


NETS = st.sampled_from(["-500", "0", "9999.99", "10000", "15000", "19999.99", "20000", "25000",
                        "30000", "49999.99", "50000", "75000.50", "99999.99", "100000", "250000"])
PEOPLE = st.lists(st.tuples(st.sampled_from(["a", "b", "B", "é"]), st.sampled_from(["", "Ravi", "Zed"]),
                            st.sampled_from(["Sales", "Stores", "", "Unassigned", "Accounts"]),
                            NETS, st.one_of(st.none(), NETS)),
                  max_size=60)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(people=PEOPLE)
def test_random_months_chart_exactly_as_before(top_app, people):
    before, after = both_ways(people)
    assert after == before


@pytest.mark.parametrize("spread", ["one band", "top band thin", "many ties", "few people"])
def test_months_whose_top_crosses_bands_chart_exactly_as_before(top_app, spread):
    nets = {"one band": ["25000"] * 30 + ["25000.01"] * 5,
            "top band thin": ["150000"] * 3 + ["60000"] * 4 + ["35000"] * 2 + ["5000"] * 40 + ["-1"],
            "many ties": ["100000"] * 9 + ["99999.99"] * 15 + ["50000"] * 12,
            "few people": ["120000", "-5", "0", "45000"]}[spread]
    people = [(chr(97 + i % 26), f"P{i}", ("Sales", "Stores", "")[i % 3], net, net)
              for i, net in enumerate(nets)]
    before, after = both_ways(people)
    assert after == before and [r for r in after if r[0] == "top"]
