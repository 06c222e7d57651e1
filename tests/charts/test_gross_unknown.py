"""A month whose sheet has net pay but no gross (issue 15): imported, charted and shown as
unknown, never as 0, a short total or a comparison with a known gross."""
import io
from decimal import Decimal

import pytest
import sheet_builders as sb
import sqlalchemy as sa
from conftest import base_config
from conftest import dispose_app
from conftest import make_app
from openpyxl import load_workbook

from paydash.charts import aggregation
from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.services import imports


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path):
    """Every test here on SQLite and on PostgreSQL, tasks run at once."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    app = make_app(base_config(tmp_path, url, HUEY_IMMEDIATE=True))
    yield app
    dispose_app(app)


NET_ONLY = ["Worker No.", "Worker", "Section", "Amount Paid (Rs)"]
WITH_GROSS = ["Emp Code", "Name", "Department", "Gross", "Net Pay"]
STAFF = [("W1", "Asha Rao", "Yard"), ("W2", "Ravi Das", "Yard"), ("W3", "Meena Iyer", "Stores")]


def import_month(app, people, month: int, gross: bool) -> int:
    """Import one month of 2026 for Acme, with or without a gross column; returns the upload id."""
    if gross:
        rows = [[c, n, d, 20000 + i * 1000 + month, 18000 + i * 1000 + month]
                for i, (c, n, d) in enumerate(STAFF)]
        data = sb.simple_sheet(rows, headers=WITH_GROSS)
    else:
        rows = [[c, n, d, 18000 + i * 1000 + month] for i, (c, n, d) in enumerate(STAFF)]
        data = sb.simple_sheet(rows, headers=NET_ONLY)
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, f"{month}.xlsx", data, 2026, month)
        imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
        return upload.id


@pytest.fixture
def mixed_months(app, people):
    """Jan–Mar with a gross column, Apr–May without one, Jun with one again."""
    for month in range(1, 7):
        import_month(app, people, month, gross=month not in (4, 5))
    return people


def summary(client, query: str) -> dict:
    response = client.get("/api/dashboard/summary" + query)
    assert response.status_code == 200, response.data[:300]
    return response.get_json()


def kpi(data: dict, key: str) -> dict:
    return next(card for card in data["kpis"] if card["key"] == key)


def test_a_net_only_sheet_is_stored_with_gross_unknown_and_said_so(app, people):
    upload_id = import_month(app, people, 4, gross=False)
    with app.app_context():
        grosses = db.session.scalars(sa.select(SalaryRow.gross).where(SalaryRow.month == 4)).all()
        nets = db.session.scalars(sa.select(SalaryRow.net).where(SalaryRow.month == 4)).all()
        upload = db.session.get(Upload, upload_id)
        charted = db.session.scalars(sa.select(ChartAggregatedData.gross)
                                     .where(ChartAggregatedData.month == 4)).all()
        assert upload.status == "confirmed"
        assert grosses == [None, None, None]
        assert sum(nets) == Decimal(3 * 18000 + 1000 + 2000 + 3 * 4)
        assert upload.gross_total is None and upload.net_total == sum(nets)
        assert any("no gross pay" in w for w in upload.preview["warnings"])
        assert charted and set(charted) == {None}


def test_the_upload_page_says_the_sheet_has_no_gross(app, people, hr_client):
    upload_id = import_month(app, people, 4, gross=False)
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "Not in the sheet" in page
    assert "This sheet has no gross pay" in page


def test_a_range_of_months_without_gross_shows_gross_as_unknown(hr_client, mixed_months):
    data = summary(hr_client, "?from=2026-04&to=2026-05")
    gross = kpi(data, "gross")
    assert gross["value"] is None and gross["change_pct"] is None
    assert gross["unknown"] == "Not in the sheet for Apr 2026, May 2026"
    assert kpi(data, "total_deductions")["value"] is None  # not "₹0 of deductions"
    assert kpi(data, "net")["value"] == 2 * (3 * 18000 + 3000) + 3 * (4 + 5)
    assert [p["gross"] for p in data["trend"]] == [None, None]
    assert [p["gross_unknown"] for p in data["trend"]] == [True, True]
    assert {d["gross"] for d in data["by_department"]} == {None}
    assert data["top_earners"] and {t["gross"] for t in data["top_earners"]} == {None}
    assert data["gross_unknown_months"] == ["Apr 2026", "May 2026"]


def test_a_range_mixing_months_with_and_without_gross_has_no_gross_total(hr_client, mixed_months):
    data = summary(hr_client, "?from=2026-03&to=2026-04")
    march = 3 * 20000 + 3000 + 3 * 3
    assert [p["gross"] for p in data["trend"]] == [march, None]
    assert [p["gross_unknown"] for p in data["trend"]] == [False, True]
    # March's gross alone would read as the two months' payroll cost: unknown instead.
    assert kpi(data, "gross")["value"] is None
    assert kpi(data, "gross")["unknown"] == "Not in the sheet for Apr 2026"
    assert data["gross_unknown_months"] == ["Apr 2026"]
    assert kpi(data, "net")["change_pct"] is not None


def test_a_known_gross_is_never_compared_with_a_missing_one(hr_client, mixed_months):
    june = summary(hr_client, "?from=2026-06&to=2026-06")
    gross = kpi(june, "gross")
    assert gross["value"] == 3 * 20000 + 3000 + 3 * 6
    assert gross["change_pct"] is None and kpi(june, "total_deductions")["change_pct"] is None
    assert gross["unknown"] == "Not compared: no gross pay in the sheet for May 2026"
    assert june["gross_unknown_months"] == []
    february = kpi(summary(hr_client, "?from=2026-02&to=2026-02"), "gross")
    assert february["change_pct"] is not None and february["unknown"] is None


def test_the_month_sheet_and_register_of_a_month_without_gross(app, people, hr_client):
    import_month(app, people, 4, gross=False)
    page = hr_client.get("/payroll/2026/4")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="imported-gross-unknown"' in text and "not in the sheet" in text
    response = hr_client.get("/payroll/2026/4/register.xlsx")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    headers = [c.value for c in ws[3]]
    gross_col = headers.index("SAL+OT") + 1
    net_col = headers.index("NETT PAYABLE") + 1
    grosses = [ws.cell(row=r, column=gross_col).value for r in range(4, ws.max_row + 1)]
    assert grosses == [None, None, None, None]  # three people and the TOTAL row: all blank
    assert ws.cell(row=ws.max_row, column=net_col).value == 3 * 18000 + 3000 + 3 * 4


def test_a_resync_of_a_month_without_gross_changes_nothing(app, people):
    import_month(app, people, 5, gross=False)
    with app.app_context():
        def charted():
            return sorted((r.kind, r.department, r.bucket, r.gross, r.net) for r in db.session.scalars(
                sa.select(ChartAggregatedData).where(ChartAggregatedData.month == 5)))
        first = charted()
        aggregation.sync_chart_data(people.tenant_a, 2026, 5, "excel")
        assert charted() == first
