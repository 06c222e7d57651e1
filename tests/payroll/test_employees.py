"""The employee master: HR's form, .xlsx import, updates from confirmed salary rows, isolation."""
import io
from decimal import Decimal

import sqlalchemy as sa
from conftest import login
from openpyxl import Workbook

from paydash.extensions import db
from paydash.models import Employee
from paydash.models import SalaryRow
from paydash.payroll import employees


def workbook(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def add_employee(app, tenant_id, code, name, salary="20000", **extra) -> int:
    with app.app_context():
        employee = Employee(tenant_id=tenant_id, code=code, name=name,
                            monthly_salary=Decimal(salary), **extra)
        db.session.add(employee)
        db.session.commit()
        return employee.id


def test_hr_adds_an_employee_through_the_form(hr_client, app, people):
    response = hr_client.post("/payroll/employees/new", data={
        "code": "E001", "name": "Ravi Kumar", "department": "Stores", "monthly_salary": "18,500",
        "ot_multiplier": "1.5", "tds_pct": "0", "advance_balance": "2000", "active": "yes",
        "joined_on": "2023-04-01"})
    assert response.status_code == 302
    with app.app_context():
        employee = db.session.scalar(sa.select(Employee).where(Employee.code == "E001"))
        assert (employee.tenant_id, employee.monthly_salary, employee.ot_multiplier) == (
            people.tenant_a, Decimal("18500.00"), Decimal("1.50"))


def test_the_form_says_what_is_wrong_with_each_field(hr_client):
    response = hr_client.post("/payroll/employees/new", data={
        "code": "", "name": "Ravi", "monthly_salary": "lots", "tds_pct": "120"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Employee code is required" in page
    assert "Monthly salary: &#39;lots&#39; is not a number" in page
    assert "TDS %: cannot be more than 100" in page


def test_a_code_used_twice_is_refused(hr_client, app, people):
    add_employee(app, people.tenant_a, "E001", "Ravi")
    response = hr_client.post("/payroll/employees/new", data={"code": "E001", "name": "Other"})
    assert response.status_code == 422
    assert "already used by Ravi" in response.get_data(as_text=True)


def test_another_tenants_employee_is_not_found(hr_client, app, people):
    theirs = add_employee(app, people.tenant_b, "B001", "Bina's worker")
    assert hr_client.get(f"/payroll/employees/{theirs}").status_code == 404
    assert hr_client.post(f"/payroll/employees/{theirs}", data={"code": "X", "name": "Y"}).status_code == 404


def test_employee_list_shows_only_the_tenants_own_people(hr_client, app, people):
    add_employee(app, people.tenant_a, "A1", "Asha Worker")
    add_employee(app, people.tenant_b, "B1", "Bharat Worker")
    page = hr_client.get("/payroll/employees").get_data(as_text=True)
    assert "Asha Worker" in page and "Bharat Worker" not in page


def test_import_creates_and_updates_employees(hr_client, app, people):
    add_employee(app, people.tenant_a, "E2", "Old Name", salary="1000")
    data = workbook([["Employee Code", "Name", "Department", "Monthly Salary", "TDS %", "Active",
                      "Joining date"],
                     ["E1", "Meena", "Sales", 21000, 5, "yes", "01/04/2023"],
                     ["E2", "New Name", "Stores", "15,000", None, "no", None]])
    response = hr_client.post("/payroll/employees/import",
                              data={"file": (io.BytesIO(data), "staff.xlsx")},
                              content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        rows = {e.code: e for e in employees.list_employees(people.tenant_a)}
        assert rows["E1"].monthly_salary == Decimal("21000.00")
        assert str(rows["E1"].joined_on) == "2023-04-01"
        assert (rows["E2"].name, rows["E2"].active) == ("New Name", False)


def test_import_with_a_bad_row_saves_nothing_and_lists_each_row(hr_client, app, people):
    data = workbook([["Code", "Name", "Salary"], ["E1", "Meena", "twenty"], ["E2", "", 100],
                     ["E1", "Again", 10]])
    response = hr_client.post("/payroll/employees/import",
                              data={"file": (io.BytesIO(data), "staff.xlsx")},
                              content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Row 2: Monthly salary: &#39;twenty&#39; is not a number" in page
    assert "Row 3: Name is required" in page
    assert "Row 4: Employee code E1 is also on row 2" in page
    with app.app_context():
        assert employees.list_employees(people.tenant_a) == []


def test_import_of_a_file_that_is_not_a_workbook_says_so(hr_client):
    response = hr_client.post("/payroll/employees/import",
                              data={"file": (io.BytesIO(b"name,code\n"), "staff.xlsx")},
                              content_type="multipart/form-data")
    assert "not an .xlsx workbook" in response.get_data(as_text=True)


def _salary_row(tenant_id, code, name, salary, department="Stores"):
    return SalaryRow(tenant_id=tenant_id, year=2024, month=5, employee_key=code,
                     employee_code=code, employee_name=name, department=department,
                     fixed_salary=Decimal(salary), gross=Decimal(salary), net=Decimal(salary))


def test_confirmed_rows_report_new_changed_and_missing_employees(app, people):
    add_employee(app, people.tenant_a, "E1", "Ravi", salary="20000", department="Stores")
    add_employee(app, people.tenant_a, "E2", "Meena", salary="30000", department="Sales")
    add_employee(app, people.tenant_a, "E3", "Gone", salary="10000")
    with app.app_context():
        db.session.add_all([_salary_row(people.tenant_a, "E1", "Ravi", "22000"),
                            _salary_row(people.tenant_a, "E2", "Meena", "30000", "Accounts"),
                            _salary_row(people.tenant_a, "E4", "Newcomer", "15000")])
        db.session.commit()
        changes = employees.sync_from_salary_rows(people.tenant_a, 2024, 5)[0]
        db.session.commit()
        kinds = sorted((c["kind"], c["code"]) for c in changes)
        assert kinds == [("department", "E2"), ("missing", "E3"), ("new", "E4"), ("salary", "E1")]
        master = {e.code: e for e in employees.list_employees(people.tenant_a)}
        assert master["E1"].monthly_salary == Decimal("22000.00")
        assert master["E2"].department == "Accounts"
        assert master["E4"].name == "Newcomer"
        assert master["E3"].active is True  # Reported, never deactivated behind HR's back.


def test_confirmed_rows_of_one_tenant_leave_another_tenants_master_alone(app, people):
    add_employee(app, people.tenant_b, "E1", "Bharat's Ravi", salary="5000")
    with app.app_context():
        db.session.add(_salary_row(people.tenant_a, "E1", "Acme's Ravi", "22000"))
        db.session.commit()
        employees.sync_from_salary_rows(people.tenant_a, 2024, 5)[0]
        db.session.commit()
        theirs = employees.list_employees(people.tenant_b)
        assert [(e.name, e.monthly_salary) for e in theirs] == [("Bharat's Ravi", Decimal("5000.00"))]


def test_operators_without_a_tenant_cannot_open_the_employee_pages(app, people):
    client = login(app.test_client(), "ops@paydash.test")
    assert client.get("/payroll/employees").status_code == 403
