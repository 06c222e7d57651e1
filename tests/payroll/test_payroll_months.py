"""A month worked out in the browser: save, lock, audited unlock, variance, drafts, register."""
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import login
from openpyxl import load_workbook

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import AuditLog
from paydash.models import ChartAggregatedData
from paydash.models import Employee
from paydash.models import PayrollMonth
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.sheets import salary_sheet

YEAR, MONTH = 2024, 3


@pytest.fixture
def staff(app, people):
    """Two employees of tenant A (30-day basis, 8 working hours) and one of tenant B."""
    with app.app_context():
        tenant = db.session.get(Tenant, people.tenant_a)
        tenant.days_basis = "30"
        made = [Employee(tenant_id=people.tenant_a, code="E1", name="Ravi Kumar", department="Stores",
                         monthly_salary=Decimal("24000"), advance_balance=Decimal("2000")),
                Employee(tenant_id=people.tenant_a, code="E2", name="Meena", department="Sales",
                         designation="Clerk", monthly_salary=Decimal("15500"), tds_pct=Decimal("5")),
                Employee(tenant_id=people.tenant_b, code="B1", name="Bina's worker",
                         monthly_salary=Decimal("9000"))]
        db.session.add_all(made)
        db.session.commit()
        return {e.code: e.id for e in made}


def cells(staff, **by_code):
    return {"inputs": {str(staff[code]): values for code, values in by_code.items()}}


def url(action=""):
    return f"/payroll/{YEAR}/{MONTH}" + (f"/{action}" if action else "")


def period_rows(app, tenant_id, year=YEAR, month=MONTH):
    with app.app_context():
        return {r.employee_key: r for r in db.session.scalars(sa.select(SalaryRow).where(
            SalaryRow.tenant_id == tenant_id, SalaryRow.year == year, SalaryRow.month == month))}


def save(client, staff, **by_code):
    return client.post(url("save"), json=cells(staff, **by_code))


def test_saving_stores_the_servers_figures_with_source_frontend(hr_client, app, people, staff):
    response = save(hr_client, staff, E1={"absent_days": "2", "ot_hours": "10", "late_minutes": "30",
                                          "tds_override": "100", "advance": "500", "net": "999999"})
    assert response.status_code == 202
    rows = period_rows(app, people.tenant_a)
    assert set(rows) == {"E1", "E2"}
    ravi = rows["E1"]
    assert (ravi.gross, ravi.tds, ravi.advance, ravi.net, ravi.source) == (
        Decimal("23350.00"), Decimal("100.00"), Decimal("500.00"), Decimal("22750.00"), "frontend")


def test_saving_replaces_the_periods_rows_and_nothing_else(hr_client, app, people, staff):
    with app.app_context():
        db.session.add_all([
            SalaryRow(tenant_id=people.tenant_a, year=YEAR, month=MONTH, employee_key="OLD",
                      employee_name="From the upload", net=Decimal(1)),
            SalaryRow(tenant_id=people.tenant_a, year=YEAR, month=MONTH - 1, employee_key="E1",
                      employee_name="Last month", net=Decimal(1)),
            SalaryRow(tenant_id=people.tenant_b, year=YEAR, month=MONTH, employee_key="B1",
                      employee_name="Other tenant", net=Decimal(1))])
        db.session.commit()
    assert save(hr_client, staff).status_code == 202
    assert set(period_rows(app, people.tenant_a)) == {"E1", "E2"}
    assert set(period_rows(app, people.tenant_a, month=MONTH - 1)) == {"E1"}
    assert set(period_rows(app, people.tenant_b)) == {"B1"}


def test_saving_requests_the_chart_sync_through_the_job_ledger(hr_client, app, people, staff):
    job = save(hr_client, staff).get_json()["job"]
    assert (job["task"], job["year"], job["month"]) == ("sync_chart_data_batch", YEAR, MONTH)
    with app.app_context():
        stored = db.session.get(Job, job["id"])
        assert stored.args == {"args": [people.tenant_a, YEAR, MONTH, "frontend"]}
        assert stored.requested_by_id == people.hr_a
        assert stored.state == "SUCCESS"  # Immediate mode: the sync ran.
        headcount = db.session.scalar(sa.select(sa.func.sum(ChartAggregatedData.headcount)).where(
            ChartAggregatedData.tenant_id == people.tenant_a, ChartAggregatedData.kind == "dept"))
        assert headcount == 2


def test_bad_cells_are_refused_with_a_message_per_cell_and_nothing_is_stored(hr_client, app, people, staff):
    response = save(hr_client, staff, E1={"ot_hours": "ten"}, E2={"absent_days": "-2"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        str(staff["E1"]): {"ot_hours": "OT hours: 'ten' is not a number"},
        str(staff["E2"]): {"absent_days": "Absent days cannot be negative"}}
    assert period_rows(app, people.tenant_a) == {}


def test_another_tenants_employee_in_the_inputs_is_ignored(hr_client, app, people, staff):
    assert save(hr_client, staff, B1={"incentive": "5000"}).status_code == 202
    assert set(period_rows(app, people.tenant_a)) == {"E1", "E2"}
    assert period_rows(app, people.tenant_b) == {}


def test_the_month_page_lists_only_the_tenants_employees(hr_client, staff):
    page = hr_client.get(url()).get_data(as_text=True)
    assert "Ravi Kumar" in page and "Bina&#39;s worker" not in page and "Bina's worker" not in page


def _mark_paid(client, app, staff):
    save(client, staff)
    assert client.post(url("paid")).status_code == 302


def test_a_paid_month_cannot_be_saved_or_drafted(hr_client, app, people, staff):
    _mark_paid(hr_client, app, staff)
    assert save(hr_client, staff, E1={"incentive": "1"}).status_code == 409
    assert hr_client.put(url("draft"), json=cells(staff, E1={"incentive": "1"})).status_code == 409
    assert period_rows(app, people.tenant_a)["E1"].incentive == Decimal(0)


def test_marking_a_month_paid_is_audited_with_who_and_from_where(hr_client, app, people, staff):
    _mark_paid(hr_client, app, staff)
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "payroll.paid"))
        assert (entry.user_id, entry.tenant_id, entry.target) == (people.hr_a, people.tenant_a,
                                                                   "Marked March 2024 paid")
        assert entry.ip == "127.0.0.1"


def test_hr_cannot_unlock_a_paid_month(hr_client, app, people, staff):
    _mark_paid(hr_client, app, staff)
    assert hr_client.post(url("unlock"), data={"reason": "fix"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(PayrollMonth.status)) == "paid"


def test_an_admin_unlock_is_written_to_the_audit_log(hr_client, app, people, staff):
    _mark_paid(hr_client, app, staff)
    admin = login(app.test_client(), "admin@acme.test")
    assert admin.post(url("unlock"), data={"reason": "wrong OT for E1"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(PayrollMonth.status)) == "saved"
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "payroll.unlock"))
        assert (entry.user_id, entry.tenant_id, entry.target) == (people.admin_a, people.tenant_a,
                                                                   "Unlocked March 2024")
        assert entry.detail["Reason"] == "wrong OT for E1"
        assert entry.ip == "127.0.0.1"
    assert save(hr_client, staff).status_code == 202


def test_another_tenants_admin_cannot_unlock_the_month(hr_client, app, people, staff):
    _mark_paid(hr_client, app, staff)
    other = login(app.test_client(), "admin@bharat.test")
    other.post(url("unlock"), data={"reason": "x"})
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(PayrollMonth.tenant_id, PayrollMonth.status)).all())
        assert statuses[people.tenant_a] == "paid"


def test_variance_flags_nets_that_moved_more_than_the_tenants_percentage(hr_client, app, people, staff):
    with app.app_context():
        db.session.add_all([
            SalaryRow(tenant_id=people.tenant_a, year=YEAR, month=MONTH - 1, employee_key="E1",
                      employee_name="Ravi Kumar", net=Decimal("24000")),
            SalaryRow(tenant_id=people.tenant_a, year=YEAR, month=MONTH - 1, employee_key="E2",
                      employee_name="Meena", net=Decimal("14725"))])
        db.session.commit()
    # E1 loses 10 days: 16,000 is a third less than 24,000 (> 20%); E2 is unchanged.
    body = hr_client.post(url("preview"), json=cells(staff, E1={"absent_days": "10"})).get_json()
    assert [(f["code"], f["previous"], f["net"]) for f in body["variance"]] == [
        ("E1", "24000.00", "16000.00")]
    assert body["rows"][str(staff["E2"])]["net"] == "14725.00"


def test_a_draft_keeps_only_keys_that_are_plain_digits(hr_client, app, staff):
    # "²" and "١" are digits to str.isdigit, but no employee id is written with them.
    inputs = cells(staff, E1={"ot_hours": "7"})["inputs"]
    inputs.update({"²": {"ot_hours": "1"}, "١٢": {"ot_hours": "2"}})
    assert hr_client.put(url("draft"), json={"inputs": inputs}).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(PayrollMonth.draft))["inputs"] == {
            str(staff["E1"]): {"ot_hours": "7"}}


def test_a_draft_survives_and_comes_back_on_the_page(hr_client, app, staff):
    response = hr_client.put(url("draft"), json=cells(staff, E1={"ot_hours": "7", "bogus": "x"}))
    assert response.status_code == 200
    with app.app_context():
        draft = db.session.scalar(sa.select(PayrollMonth.draft))
        assert draft["inputs"] == {str(staff["E1"]): {"ot_hours": "7"}}
    assert '"ot_hours": "7"' in hr_client.get(url()).get_data(as_text=True)


def _parse(data: bytes) -> list[dict]:
    """The register read exactly as an upload is: rows keyed by SalaryRow column names."""
    sheet = salary_sheet.SalarySheet(data)
    rows = list(sheet.rows())
    assert sheet.report.ok, sheet.report.as_preview()
    return rows


COMPARED = ("employee_code", "employee_name", "department", "designation", "fixed_salary",
            "paid_days", "absent_days", "ot_hours", "ot_pay", "late_minutes", "late_deduction",
            "incentive", "gross", "tds", "advance", "other_deductions", "total_deductions", "net")


@pytest.mark.parametrize("statutory", [False, True], ids=["plain", "with-statutory"])
def test_uploading_the_register_reproduces_the_month(hr_client, app, people, staff, statutory):
    if statutory:
        with app.app_context():
            tenant = db.session.get(Tenant, people.tenant_a)
            tenant.pf_enabled = tenant.esi_enabled = True
            tenant.pt_state = "maharashtra"
            db.session.commit()
    save(hr_client, staff, E1={"absent_days": "2", "ot_hours": "10", "late_minutes": "30",
                               "tds_override": "100", "advance": "500"},
         E2={"absent_days": "0.5", "ot_hours": "7.5", "late_minutes": "45", "incentive": "333.33"})
    response = hr_client.get(url("register.xlsx"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"  # A month's salaries.
    parsed = {r["employee_code"]: r for r in _parse(response.data)}
    stored = period_rows(app, people.tenant_a)
    for code, row in stored.items():
        assert {f: parsed[code].get(f) for f in COMPARED} == {f: getattr(row, f) for f in COMPARED}


def test_the_register_keeps_a_name_that_looks_like_a_formula_as_text(hr_client, app, staff):
    with app.app_context():
        db.session.get(Employee, staff["E2"]).name = '=HYPERLINK("x")'
        db.session.commit()
    save(hr_client, staff)
    ws = load_workbook(io.BytesIO(hr_client.get(url("register.xlsx")).data)).active
    names = [ws.cell(row=r, column=2).value for r in range(4, ws.max_row + 1)]
    assert "'=HYPERLINK(\"x\")" in names


# --- Advance balances follow the paid months ------------------------------------------------


def balances(app, staff) -> dict[str, Decimal]:
    with app.app_context():
        return {code: db.session.get(Employee, staff[code]).advance_balance for code in ("E1", "E2")}


def test_marking_paid_takes_the_months_advance_off_the_balance(hr_client, app, staff):
    save(hr_client, staff, E1={"advance": "500"})
    hr_client.post(url("paid"))
    assert balances(app, staff) == {"E1": Decimal("1500.00"), "E2": Decimal("0.00")}


def test_marking_paid_twice_takes_the_advance_off_once(hr_client, app, staff):
    save(hr_client, staff, E1={"advance": "500"})
    hr_client.post(url("paid"))
    hr_client.post(url("paid"))
    assert balances(app, staff)["E1"] == Decimal("1500.00")


def test_a_request_that_saw_the_month_unpaid_cannot_deduct_again_after_another_paid_it(
        hr_client, app, people, staff, monkeypatch):
    """Two "mark paid" requests racing: the loser read the month as saved before the winner."""
    from paydash.payroll import monthly
    save(hr_client, staff, E1={"advance": "500"})
    with app.app_context():
        stale = monthly.get_month(people.tenant_a, 2024, 3)
        assert stale.status == "saved"
        db.session.expunge(stale)  # the loser's copy, read before the winner committed
        monthly.mark_paid(people.tenant_a, 2024, 3, people.hr_a)  # the winner
        monkeypatch.setattr(monthly, "get_month",
                            lambda *args: db.session.merge(stale, load=False))
        monthly.mark_paid(people.tenant_a, 2024, 3, people.hr_a)  # the loser
    assert balances(app, staff)["E1"] == Decimal("1500.00")


def test_unlocking_gives_the_advance_back_so_paying_again_does_not_double_deduct(
        hr_client, app, staff):
    save(hr_client, staff, E1={"advance": "500"})
    hr_client.post(url("paid"))
    admin = login(app.test_client(), "admin@acme.test")
    admin.post(url("unlock"), data={"reason": "wrong advance"})
    assert balances(app, staff)["E1"] == Decimal("2000.00")
    hr_client.post(url("paid"))
    assert balances(app, staff)["E1"] == Decimal("1500.00")


def test_a_balance_lowered_after_saving_never_goes_below_zero_and_unlock_restores_it(
        hr_client, app, staff):
    save(hr_client, staff, E1={"advance": "500"})
    with app.app_context():
        db.session.get(Employee, staff["E1"]).advance_balance = Decimal("200")
        db.session.commit()
    hr_client.post(url("paid"))
    assert balances(app, staff)["E1"] == Decimal("0.00")
    login(app.test_client(), "admin@acme.test").post(url("unlock"), data={"reason": "x"})
    assert balances(app, staff)["E1"] == Decimal("200.00")


def test_a_month_changed_after_saving_cannot_be_marked_paid_until_saved_again(hr_client, app, staff):
    save(hr_client, staff)
    hr_client.put(url("draft"), json=cells(staff, E1={"incentive": "700"}))
    page = hr_client.post(url("paid"), follow_redirects=True).get_data(as_text=True)
    assert "Save the month again before marking it paid." in page
    with app.app_context():
        assert db.session.scalar(sa.select(PayrollMonth.status)) == "saved"


def test_refused_save_lists_every_employee_with_an_error_by_code_and_name(hr_client, staff):
    body = save(hr_client, staff, E1={"ot_hours": "ten"},
                E2={"absent_days": "-2", "late_minutes": "x"}).get_json()
    assert body["detail"] == "2 employees need fixing before saving"
    assert [(s["code"], s["name"], s["messages"]) for s in body["summary"]] == [
        ("E2", "Meena", ["Absent days cannot be negative", "Late minutes: 'x' is not a number"]),
        ("E1", "Ravi Kumar", ["OT hours: 'ten' is not a number"])]


def test_saving_a_month_is_audited_in_plain_words(hr_client, app, people, staff):
    assert save(hr_client, staff).status_code == 202
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "payroll.saved"))
        assert (entry.user_id, entry.target) == (people.hr_a, "Saved March 2024 payroll month")
        saved = db.session.scalar(sa.select(sa.func.count(SalaryRow.id)))
        assert entry.detail["Employees"] == saved and entry.ip == "127.0.0.1"
