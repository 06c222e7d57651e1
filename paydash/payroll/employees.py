"""The employee master: HR's edits, .xlsx import, and updates from confirmed salary rows."""
import calendar
import datetime as dt
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import load_workbook

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.extensions import upsert_insert
from paydash.models import Employee
from paydash.models import SalaryRow
from paydash.payroll import calculator

logger = logging.getLogger(__name__)

# (attribute, label, kind, header synonyms for the .xlsx import)
FIELDS = (
    ("code", "Employee code", "code", ("code", "employee code", "employee id", "emp code", "emp id")),
    ("name", "Name", "name", ("name", "employee name", "emp name")),
    ("department", "Department", "text", ("department", "dept")),
    ("designation", "Designation", "text", ("designation", "desig", "job title")),
    ("monthly_salary", "Monthly salary", "money", ("monthly salary", "salary", "fixed salary")),
    ("ot_multiplier", "OT multiplier", "multiplier", ("ot multiplier", "ot rate multiplier")),
    ("tds_pct", "TDS %", "percent", ("tds %", "tds pct", "tds percent", "tds")),
    ("advance_balance", "Advance balance", "money", ("advance balance", "balance adv", "advance")),
    ("active", "Active", "bool", ("active", "status")),
    ("joined_on", "Joining date", "date", ("joining date", "joined on", "date of joining", "doj")),
    ("left_on", "Leaving date", "date", ("leaving date", "left on", "date of leaving", "dol")),
)
LIMITS = {"money": calculator.MAX_MONEY, "multiplier": Decimal("10"), "percent": Decimal("100")}
DEFAULTS = {"department": "Unassigned", "monthly_salary": Decimal(0), "ot_multiplier": Decimal(1),
            "tds_pct": Decimal(0), "advance_balance": Decimal(0), "active": True}
TRUE_WORDS = {"yes", "y", "true", "1", "active"}
FALSE_WORDS = {"no", "n", "false", "0", "inactive", "left"}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


class EmployeeError(ValueError):
    """An employee change that cannot be made; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": n, "message": text}


def parse_employee(raw: Mapping) -> tuple[dict, dict[str, str]]:
    """Form or sheet values as typed Employee attributes, and a message per bad field."""
    values, errors = {}, {}
    for name, label, kind, _synonyms in FIELDS:
        try:
            value = _parse_value(kind, raw.get(name))
        except ValueError as exc:
            errors[name] = f"{label}: {exc}"
            continue
        if value is None and kind in ("code", "name"):
            errors[name] = f"{label} is required"
            continue
        values[name] = DEFAULTS.get(name) if value is None else value
    joined, left = values.get("joined_on"), values.get("left_on")
    if joined and left and left < joined:
        errors["left_on"] = "Leaving date is before the joining date"
    return values, errors


def _parse_value(kind: str, raw):
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        return None
    if kind in ("code", "name", "text"):
        text = str(raw).strip()
        text = text[:-2] if kind == "code" and text.endswith(".0") and text[:-2].isdigit() else text
        return text[:64 if kind == "code" else 200]
    if kind == "bool":
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"'{raw}' should be yes or no")
    if kind == "date":
        return _parse_date(raw)
    try:
        value = calculator.parse_number(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a number") from None
    if value < 0:
        raise ValueError("cannot be negative")
    if value > LIMITS[kind]:
        raise ValueError(f"cannot be more than {LIMITS[kind]:,}")
    return value.quantize(Decimal("0.01"))


def _parse_date(raw) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(str(raw).strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{raw}' is not a date (use 2024-04-01 or 01/04/2024)")


# --- Reads ---------------------------------------------------------------------------------


def list_employees(tenant_id: int, active_only: bool = False) -> list[Employee]:
    stmt = sa.select(Employee).where(Employee.tenant_id == tenant_id)
    if active_only:
        stmt = stmt.where(Employee.active.is_(True))
    return list(db.session.scalars(stmt.order_by(Employee.department, Employee.name, Employee.code)))


def count_active(tenant_id: int) -> int:
    """How many active employees the tenant has (one COUNT, no rows loaded)."""
    return db.session.scalar(sa.select(sa.func.count(Employee.id)).where(
        Employee.tenant_id == tenant_id, Employee.active.is_(True))) or 0


def employed_in_month(tenant_id: int, year: int, month: int) -> list[Employee]:
    """Active employees whose joining and leaving dates overlap the month."""
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    stmt = (sa.select(Employee)
            .where(Employee.tenant_id == tenant_id, Employee.active.is_(True),
                   sa.or_(Employee.joined_on.is_(None), Employee.joined_on <= last),
                   sa.or_(Employee.left_on.is_(None), Employee.left_on >= first))
            .order_by(Employee.department, Employee.name, Employee.code))
    return list(db.session.scalars(stmt))


def _by_code(tenant_id: int) -> dict[str, Employee]:
    return {e.code: e for e in list_employees(tenant_id)}


# --- Writes ---------------------------------------------------------------------------------


def save_employee(tenant_id: int, raw: Mapping, employee: Employee | None = None) -> Employee:
    """Create or update one employee from form values and commit; raises EmployeeError."""
    values, errors = parse_employee(raw)
    if not errors:
        clash = db.session.scalar(sa.select(Employee).where(
            Employee.tenant_id == tenant_id, Employee.code == values["code"]))
        if clash is not None and clash is not employee:
            errors["code"] = f"Employee code {values['code']} is already used by {clash.name}"
    if errors:
        raise EmployeeError(errors)
    if employee is None:
        employee = Employee(tenant_id=tenant_id)
        db.session.add(employee)
    for name, value in values.items():
        setattr(employee, name, value)
    db.session.commit()
    logger.info("tenant %s: employee %s saved", tenant_id, employee.code)
    return employee


def import_workbook(tenant_id: int, data: bytes) -> ImportResult:
    """Create or update employees from an .xlsx; nothing is saved while any row has an error."""
    result = ImportResult()
    try:
        rows = _read_rows(data)
    except EmployeeError as exc:
        result.errors.append({"row": None, "message": str(exc)})
        return result
    parsed, seen = [], {}
    for row_number, raw in rows:
        values, errors = parse_employee(raw)
        code = values.get("code")
        if code and code in seen:
            errors["code"] = f"Employee code {code} is also on row {seen[code]}"
        for message in errors.values():
            result.errors.append({"row": row_number, "message": message})
        if code:
            seen.setdefault(code, row_number)
        parsed.append(values)
    if result.errors:
        return result
    existing = _by_code(tenant_id)
    for values in parsed:
        employee = existing.get(values["code"])
        if employee is None:
            employee = Employee(tenant_id=tenant_id)
            db.session.add(employee)
            result.created += 1
        else:
            result.updated += 1
        for name, value in values.items():
            setattr(employee, name, value)
    db.session.commit()
    logger.info("tenant %s: employee import created %s, updated %s",
                tenant_id, result.created, result.updated)
    return result


def _read_rows(data: bytes) -> list[tuple[int, dict]]:
    """Rows of the first sheet under its header row, as {attribute: cell value}."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise EmployeeError({"file": "This is not an .xlsx workbook Paydash can read. "
                                     "Save it as Excel Workbook (.xlsx) and try again."}) from None
    try:
        lines = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not lines:
        raise EmployeeError({"file": "The first sheet is empty."})
    columns = _map_header(lines[0])
    missing = [label for name, label, *_ in FIELDS if name in ("code", "name") and name not in columns.values()]
    if missing:
        raise EmployeeError({"file": "Row 1 must be the header row with columns "
                                     + " and ".join(missing) + "."})
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if all(cell is None or str(cell).strip() == "" for cell in line):
            continue
        rows.append((number, {name: line[i] for i, name in columns.items() if i < len(line)}))
    return rows


def _map_header(header) -> dict[int, str]:
    synonyms = {text: name for name, _l, _k, texts in FIELDS for text in texts}
    columns = {}
    for index, cell in enumerate(header):
        text = " ".join(str(cell or "").lower().replace(".", " ").replace(":", " ").split())
        name = synonyms.get(text)
        if name and name not in columns.values():
            columns[index] = name
    return columns


def sync_from_salary_rows(tenant_id: int, year: int, month: int,
                          limit: int | None = None) -> tuple[list[dict], int]:
    """Bring the master in line with a month's salary rows: (first `limit` changes, count).

    New codes become employees; a changed fixed salary or department is updated; active
    employees without a row are reported as missing (never deactivated: HR decides). Works
    on plain rows and bulk statements, not ORM objects, so a 100,000-employee month stays
    within the worker's memory budget. The caller commits with the upload's commit.

    Months of one tenant confirmed at once commit concurrently: each takes the tenant's
    employee lock first (held until its commit), so the second reads the master the first
    committed, and new codes are inserted with ON CONFLICT as well, so no commit ever
    fails on `uq_employee_code` (each such failure cost the job an attempt).
    """
    _lock_tenant_master(tenant_id)
    existing = {row.code: row for row in db.session.execute(
        sa.select(Employee.id, Employee.code, Employee.name, Employee.department,
                  Employee.monthly_salary, Employee.active).where(Employee.tenant_id == tenant_id))}
    rows = db.session.execute(
        sa.select(SalaryRow.employee_code, SalaryRow.employee_key, SalaryRow.employee_name,
                  SalaryRow.department, SalaryRow.designation, SalaryRow.fixed_salary)
        .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
               SalaryRow.month == month)
        .execution_options(yield_per=2000))
    log = _ChangeLog(limit)
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
            if len(new) >= 1000:  # Insert as we go: a big first month stays small in memory.
                _insert_new(new)
                new = []
        else:
            update = _row_changes(current, row, log)
            if update:
                updates.append(update)
    if new:
        _insert_new(new)
    if updates:
        db.session.execute(sa.update(Employee), updates)
    for code, current in existing.items():
        if current.active and code not in seen:
            log.add({"kind": "missing", "code": code, "name": current.name})
    logger.info("tenant %s %s-%02d: employee master %s changes", tenant_id, year, month, log.count)
    return log.items, log.count


# The first key of the tenant employee locks (the second is the tenant id).
EMPLOYEE_LOCK_CLASS = 7_240_114


def _lock_tenant_master(tenant_id: int) -> None:
    """Serialise employee master syncs of one tenant until this transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite lets one writer in at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(EMPLOYEE_LOCK_CLASS, tenant_id)))


def _insert_new(rows: list[dict]) -> None:
    """Insert new employees; a code another commit added meanwhile is updated instead."""
    insert = upsert_insert()(Employee)
    excluded = insert.excluded
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["tenant_id", "code"],
        set_={"department": excluded.department,
              # A sheet without a fixed-salary column stores 0: that is no news about the salary.
              "monthly_salary": sa.case((excluded.monthly_salary != 0, excluded.monthly_salary),
                                        else_=Employee.monthly_salary),
              "updated_at": excluded.updated_at}), rows)


class _ChangeLog:
    """The first `limit` changes in full, and how many there were in all."""

    def __init__(self, limit: int | None):
        self.limit, self.items, self.count = limit, [], 0

    def add(self, change: dict) -> None:
        self.count += 1
        if self.limit is None or len(self.items) < self.limit:
            self.items.append(change)


def _new_employee(tenant_id: int, code: str, row) -> dict:
    return {"tenant_id": tenant_id, "code": code, "name": (row.employee_name or code)[:200],
            "department": row.department or "Unassigned", "designation": row.designation,
            "monthly_salary": row.fixed_salary or Decimal(0), "ot_multiplier": Decimal(1),
            "tds_pct": Decimal(0), "advance_balance": Decimal(0), "active": True,
            "updated_at": utcnow()}


def _row_changes(current, row, log: _ChangeLog) -> dict | None:
    """The update for one known employee (by primary key), logging each change; None if none."""
    salary, department = current.monthly_salary, current.department
    # A sheet without a fixed-salary column stores 0: that is no news about the salary.
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


