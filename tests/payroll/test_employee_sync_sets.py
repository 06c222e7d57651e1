"""The set-based employee sync leaves the master exactly as the per-person sync did (issue 18).

`per_person_sync` below is the sync as it was at 03f1b43 (one Python step per salary row,
inserts in batches, updates by primary key), kept here as the reference. Two tenants get the
same master and the same month; one is synced the old way, the other the new way; the
masters (every column but the id and `updated_at`) and the listed changes must be equal.
On SQLite and PostgreSQL.
"""
import re
from decimal import Decimal

import sqlalchemy as sa
from conftest import base_config
from conftest import dispose_app
from conftest import make_app
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash import accounts
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.extensions import upsert_insert
from paydash.models import Employee
from paydash.models import SalaryRow
from paydash.payroll import employees
from paydash.payroll import imported

COMPARED = ("code", "name", "department", "designation", "monthly_salary", "ot_multiplier",
            "tds_pct", "advance_balance", "active", "joined_on", "left_on")


# --- The per-person sync as it was (reference) ------------------------------------------------

def per_person_sync(tenant_id, year, month, limit=None):
    existing = {row.code: row for row in db.session.execute(
        sa.select(Employee.id, Employee.code, Employee.name, Employee.department,
                  Employee.monthly_salary, Employee.active).where(Employee.tenant_id == tenant_id))}
    rows = db.session.execute(
        sa.select(SalaryRow.employee_code, SalaryRow.employee_key, SalaryRow.employee_name,
                  SalaryRow.department, SalaryRow.designation, SalaryRow.fixed_salary)
        .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
               SalaryRow.month == month).order_by(SalaryRow.id))
    log = employees._ChangeLog(limit)
    new, updates, seen = [], [], set()
    for row in rows:
        code = (row.employee_code or row.employee_key or "").strip()[:64]
        if not code or code in seen:
            continue
        seen.add(code)
        current = existing.get(code)
        if current is None:
            new.append(_new_employee(tenant_id, code, row))
            log.add({"kind": "new", "code": code, "name": new[-1]["name"],
                     "department": new[-1]["department"], "salary": str(row.fixed_salary)})
        else:
            update = _row_changes(current, row, log)
            if update:
                updates.append(update)
    if new:
        insert = upsert_insert()(Employee)
        excluded = insert.excluded
        db.session.execute(insert.on_conflict_do_update(
            index_elements=["tenant_id", "code"],
            set_={"department": excluded.department,
                  "monthly_salary": sa.case((excluded.monthly_salary != 0, excluded.monthly_salary),
                                            else_=Employee.monthly_salary),
                  "updated_at": excluded.updated_at}), new)
    if updates:
        db.session.execute(sa.update(Employee), updates)
    for code, current in existing.items():
        if current.active and code not in seen:
            log.add({"kind": "missing", "code": code, "name": current.name})
    return log.items, log.count


def _new_employee(tenant_id, code, row):
    return {"tenant_id": tenant_id, "code": code, "name": (row.employee_name or code)[:200],
            "department": row.department or "Unassigned", "designation": row.designation,
            "monthly_salary": row.fixed_salary or Decimal(0), "ot_multiplier": Decimal(1),
            "tds_pct": Decimal(0), "advance_balance": Decimal(0), "active": True,
            "updated_at": utcnow()}


def _row_changes(current, row, log):
    salary, department = current.monthly_salary, current.department
    if row.fixed_salary and Decimal(row.fixed_salary) != Decimal(salary):
        log.add({"kind": "salary", "code": current.code, "name": current.name,
                 "old": str(salary), "new": str(row.fixed_salary)})
        salary = row.fixed_salary
    new_department = row.department or "Unassigned"
    if new_department != department:
        log.add({"kind": "department", "code": current.code, "name": current.name,
                 "old": department, "new": new_department})
        department = new_department
    if (salary, department) == (current.monthly_salary, current.department):
        return None
    return {"id": current.id, "monthly_salary": salary, "department": department,
            "updated_at": utcnow()}


# --- Fixtures -----------------------------------------------------------------------------------

def master(tenant_id) -> dict:
    rows = db.session.execute(sa.select(*(getattr(Employee, c) for c in COMPARED))
                              .where(Employee.tenant_id == tenant_id)).all()
    return {row.code: tuple(row) for row in rows}


def both_ways(people_master, month_rows, limit):
    """(old master, old changes), (new master, new changes) for one starting point."""
    results = []
    for sync in (per_person_sync, employees.sync_from_salary_rows):
        tenant_id = filled_tenant(people_master, month_rows)
        changes = sync(tenant_id, 2025, 3, limit)
        db.session.commit()
        results.append((master(tenant_id), changes))
    return results


def filled_tenant(people_master, month_rows) -> int:
    """A new tenant with this employee master and these rows for 2025-03; its id."""
    tenant = accounts.create_tenant("T", f"t{accounts_counter()}")
    db.session.flush()
    for values in people_master:
        db.session.add(Employee(tenant_id=tenant.id, **values))
    for number, values in enumerate(month_rows, start=2):
        db.session.add(SalaryRow(tenant_id=tenant.id, year=2025, month=3, sheet_row=number,
                                 **values))
        db.session.flush()   # ids in sheet order, as the import inserts them
    return tenant.id


_count = [0]


def accounts_counter() -> int:
    _count[0] += 1
    return _count[0]


def employee(code, name, salary="20000", department="Stores", **extra):
    return dict(code=code, name=name, monthly_salary=Decimal(salary), department=department,
                **extra)


def salary_row(key, name, salary="20000", department="Stores", code="same", designation=None):
    return dict(employee_key=key, employee_code=key if code == "same" else code,
                employee_name=name, department=department, designation=designation,
                fixed_salary=Decimal(salary), gross=Decimal(salary), net=Decimal(salary))


# --- Tests ------------------------------------------------------------------------------------

def test_every_kind_of_change_leaves_the_master_as_the_per_person_sync_did(app_on_each_database):
    start = [employee("E1", "Ravi", "20000", "Stores"),            # unchanged
             employee("E2", "Meena", "30000", "Sales"),            # salary changes
             employee("E3", "Anil", "25000", "Sales"),             # moves department
             employee("E4", "Asha", "18000", "Stores"),            # name changes in the sheet
             employee("E5", "Gone", "10000"),                      # missing, reported
             employee("E6", "Left", "10000", active=False),        # missing and inactive
             employee("E7", "Both", "15000", "Stores"),            # salary and department
             employee("E8", "Zero", "15000", "Stores")]            # the sheet states no salary
    month = [salary_row("E1", "Ravi", "20000", "Stores"),
             salary_row("E2", "Meena", "32000.50", "Sales"),
             salary_row("E3", "Anil", "25000", "Accounts"),
             salary_row("E4", "Asha Rao", "18000", "Stores"),
             salary_row("E7", "Both", "16000", "Dispatch"),
             salary_row("E8", "Zero", "0", "Stores"),
             salary_row("N1", "Newcomer", "15000", "Stores", designation="Clerk"),
             salary_row("N1#2", "Newcomer again", "99999", "Sales", code="N1"),  # first wins
             salary_row("E2#2", "Meena twice", "1", "Nowhere", code="E2"),  # a known one twice
             salary_row("N2", "No department", "12000", "Unassigned"),
             salary_row("N3", "Zero salary", "0", "Stores"),
             salary_row("Priya Nair", "Priya Nair", "11000", code=None),  # keyed by name
             salary_row("Priya Nair#2", "Priya Nair", "11000", code=None)]
    with app_on_each_database.app_context():
        (old_master, old_changes), (new_master, new_changes) = both_ways(start, month, None)
        assert new_master == old_master
        assert new_changes == old_changes
        assert old_changes[1] == 10   # the reference really did change things
        assert new_master["E2"][4] == Decimal("32000.50") and new_master["E4"][1] == "Asha"
        assert new_master["N1"][1:4] == ("Newcomer", "Stores", "Clerk")


def test_the_listed_changes_stop_at_the_limit_and_the_count_does_not(app_on_each_database):
    start = [employee(f"E{i}", f"P{i}", "20000") for i in range(6)]
    month = [salary_row(f"E{i}", f"P{i}", "21000" if i % 2 else "20000",
                        "Sales" if i % 3 == 0 else "Stores") for i in range(1, 5)]
    month += [salary_row(f"N{i}", f"New {i}", "10000") for i in range(4)]
    with app_on_each_database.app_context():
        for limit in (0, 1, 3, 7, 500):
            (old_master, old_changes), (new_master, new_changes) = both_ways(start, month, limit)
            assert new_master == old_master
            assert new_changes == old_changes, limit


CODES = st.sampled_from(["E1", "E2", "E3", "E4", "e1", "E1 ", "Long" * 20, "Ravi Kumar"])
MONEY = st.sampled_from(["0", "0.00", "15000", "15000.00", "15000.5", "20000", "1.01"])
DEPARTMENTS = st.sampled_from(["Stores", "Sales", "Unassigned", "Stores "])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(start=st.lists(st.tuples(CODES, MONEY, DEPARTMENTS, st.booleans()), max_size=5,
                      unique_by=lambda t: t[0].strip()),
       month=st.lists(st.tuples(CODES, st.booleans(), st.text("ab ", max_size=4), MONEY,
                                DEPARTMENTS), max_size=8),
       limit=st.sampled_from([None, 0, 2, 500]))
def test_random_masters_and_months_give_the_same_master_and_changes(app_on_each_database, start, month, limit):
    people = [employee(code.strip()[:64], f"Name {code}", salary, department, active=active)
              for code, salary, department, active in start]
    rows, keys = [], set()
    for code, with_code, name, salary, department in month:
        key = code[:70]
        while key in keys:   # the import's "#2", "#3"... for a code used again
            key = f"{code[:70]}#{len(keys) + 1}"
        keys.add(key)
        rows.append(salary_row(key, (name.strip() or code)[:200], salary, department,
                               code=code[:64] if with_code else None))
    with app_on_each_database.app_context():
        (old_master, old_changes), (new_master, new_changes) = both_ways(people, rows, limit)
        assert new_master == old_master
        assert new_changes == old_changes


# --- Terms carried into the master (TDS %, advance balance) -------------------------------------

def per_row_carry_terms(tenant_id, year, month):
    """imported.carry_terms as it was at 03f1b43: an UPDATE for every row with terms."""
    ids = dict(db.session.execute(sa.select(Employee.code, Employee.id).where(
        Employee.tenant_id == tenant_id)).all())
    updates = []
    rows = db.session.execute(
        sa.select(SalaryRow.employee_code, SalaryRow.gross, SalaryRow.tds, SalaryRow.extra)
        .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
               SalaryRow.month == month, SalaryRow.source == "excel"))
    for row in rows:
        employee_id = ids.get((row.employee_code or "").strip()[:64])
        if employee_id is None:
            continue
        update = {"id": employee_id, **imported.terms_from_row(row.gross, row.tds, row.extra)}
        if len(update) > 1:
            updates.append(update)
    if updates:
        db.session.execute(sa.update(Employee), updates)
    return len(updates)


def test_terms_carried_leave_the_master_as_the_per_row_update_did(app_on_each_database):
    start = [employee("E1", "Same", tds_pct=Decimal("1.00"), advance_balance=Decimal("500")),
             employee("E2", "Changes", tds_pct=Decimal("0"), advance_balance=Decimal("0")),
             employee("E3", "Twice", tds_pct=Decimal("2.00"), advance_balance=Decimal("100")),
             employee("E4", "No terms", tds_pct=Decimal("3.00"), advance_balance=Decimal("7")),
             employee("E5", "Not in the month", tds_pct=Decimal("4.00"))]

    def row(key, gross, tds, balance=None, code="same"):
        values = salary_row(key, key, gross, code=code)
        values.update(gross=Decimal(gross), tds=Decimal(tds),
                      extra=None if balance is None else {"advance_balance": balance, "pf": "1.00"})
        return values

    month = [row("E1", "10000", "100", "500.00"),          # what the master already has
             row("E2", "30000", "333.33", "1,000.00".replace(",", "")),
             row("E3", "20000", "400", "300.00"),
             row("E3#2", "20000", "0", "100.00", code="E3"),   # the later row wins
             row("E4", "0", "0"),                           # no gross, no balance: nothing
             row("N1", "15000", "150", "-5.00"),            # not in the master; negative balance
             row("E2#2", "25000", "-1", None, code="E2")]   # negative TDS: no TDS % from it
    with app_on_each_database.app_context():
        results = []
        for carry in (per_row_carry_terms, imported.carry_terms):
            tenant_id = filled_tenant(start, month)
            count = carry(tenant_id, 2025, 3)
            db.session.commit()
            results.append((master(tenant_id), count))
        (old_master, old_count), (new_master, new_count) = results
        assert new_master == old_master and new_count == old_count == 4
        assert new_master["E3"][6:8] == (Decimal("0.00"), Decimal("100.00"))
        assert new_master["E2"][6:8] == (Decimal("1.11"), Decimal("1000.00"))


def test_on_postgresql_people_missing_from_a_big_month_are_found_by_a_join(tmp_path, pg_url):
    """Issue 18: PostgreSQL's NOT IN hashes the month's codes only while they fit `work_mem`
    (at the default 4 MB, 200,000 were hashed and 300,000 not); past that it compares each
    employee with the whole list: syncing a 500,000-person month had not ended after ten
    minutes. Here `work_mem` is made tiny, so 12,000 codes are past it: no statement of the
    sync may then scan a list per employee (a SubPlan not hashed), and the sync still
    counts who is missing."""
    app = make_app(base_config(tmp_path, pg_url, HUEY_IMMEDIATE=True))
    try:
        with app.app_context():
            tenant_id = accounts.create_tenant("Big", "big").id
            # E0-E1999 only in the master (missing), E2000-E9999 in both, E10000-E11999 new.
            db.session.execute(sa.insert(Employee), [
                dict(employee(f"E{n}", f"P{n}"), tenant_id=tenant_id) for n in range(10000)])
            db.session.execute(sa.insert(SalaryRow), [
                dict(salary_row(f"E{n}", f"P{n}"), tenant_id=tenant_id, year=2025, month=3,
                     sheet_row=n) for n in range(2000, 12000)])
            connection = db.session.connection()
            connection.execute(sa.text("ANALYZE employee"))
            connection.execute(sa.text("SET LOCAL work_mem = '64kB'"))
            month_rows = employees._MonthRows(tenant_id, 2025, 3, "postgresql")
            employees._FIRST_ROWS.create(connection)
            connection.execute(month_rows.fill)
            connection.execute(sa.text(f"ANALYZE {employees._FIRST_ROWS.name}"))
            for statement in (month_rows.counts(), month_rows.missing(None)):
                sql = statement.compile(dialect=connection.dialect,
                                        compile_kwargs={"literal_binds": True})
                plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {sql}").scalars())
                assert not re.search(r"(?<!hashed )SubPlan \d+\)", plan), plan
            employees._FIRST_ROWS.drop(connection)
            changes, count = employees.sync_from_salary_rows(tenant_id, 2025, 3, limit=None)
            kinds = [change["kind"] for change in changes]
            assert (count, kinds.count("new"), kinds.count("missing")) == (4000, 2000, 2000)
            db.session.rollback()
    finally:
        dispose_app(app)
