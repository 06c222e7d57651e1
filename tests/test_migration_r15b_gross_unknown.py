"""r15b_gross_unknown: salary and chart rows are all kept with their gross; NULL is then allowed."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import ROOT

pytestmark = pytest.mark.slow

BEFORE = "r13_worker_identity"


def flask_db(database_url: str, tmp_path, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url, PAYDASH_INSTANCE=str(tmp_path / "instance"),
               HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def fill(conn) -> None:
    conn.execute(sa.text(
        "INSERT INTO tenant (name, slug, created_at, days_basis, shift_hours, break_hours, "
        "variance_pct, pf_enabled, esi_enabled, pt_state) VALUES "
        "('Acme Pvt Ltd', 'acme', '2026-01-01 00:00:00', '26', 8.5, 1, 15, true, false, 'MH')"))
    tenant = conn.execute(sa.text("SELECT id FROM tenant")).scalar_one()
    for i in range(4):
        conn.execute(sa.text(
            "INSERT INTO salary_row (tenant_id, year, month, employee_key, employee_code, "
            "employee_name, department, fixed_salary, ot_hours, ot_pay, late_minutes, "
            "late_deduction, incentive, gross, tds, advance, other_deductions, total_deductions, "
            "net, source) VALUES (:t, 2026, 10, :key, :key, :name, 'Sales', :gross, 0, 0, 0, 0, "
            "0, :gross, 100, 0, 0, 100, :net, 'excel')"),
            {"t": tenant, "key": f"E{i}", "name": f"Person {i}", "gross": 20000 + i * 1000.25,
             "net": 19900 + i * 1000.25})
    conn.execute(sa.text(
        "INSERT INTO chart_aggregated_data (tenant_id, year, month, kind, department, bucket, "
        "label, headcount, gross, net, fixed_salary, ot_hours, ot_pay, late_deduction, "
        "total_deductions, source, refreshed_at) VALUES (:t, 2026, 10, 'dept', 'Sales', '', "
        "'Sales', 4, 86001.50, 85601.50, 86001.50, 0, 0, 0, 400, 'excel', '2026-11-01 00:00:00')"),
        {"t": tenant})


def rows(conn, table: str) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings()]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_keeps_every_row_and_its_gross_and_then_allows_unknown_gross(
        backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'paydash.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    flask_db(url, tmp_path, "upgrade", BEFORE)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        fill(conn)
        before = {t: rows(conn, t) for t in ("salary_row", "chart_aggregated_data")}
    engine.dispose()

    flask_db(url, tmp_path, "upgrade", "r15b_gross_unknown")

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        after = {t: rows(conn, t) for t in before}
        conn.execute(sa.text("UPDATE salary_row SET gross = NULL WHERE employee_key = 'E0'"))
        conn.execute(sa.text("UPDATE chart_aggregated_data SET gross = NULL"))
        unknown = conn.execute(sa.text(
            "SELECT count(*) FROM salary_row WHERE gross IS NULL")).scalar_one()
    engine.dispose()
    assert [len(after[t]) for t in before] == [4, 1]
    assert after == before
    assert [float(r["gross"]) for r in after["salary_row"]] == [20000, 21000.25, 22000.5, 23000.75]
    assert unknown == 1
