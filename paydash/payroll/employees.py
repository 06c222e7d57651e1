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

from paydash.clock import utcnow
from paydash.extensions import db
from paydash.extensions import upsert_insert
from paydash.models import Employee
from paydash.models import Money
from paydash.models import SalaryRow
from paydash.payroll import calculator
from paydash.payroll import imported

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
    # Imported here: the employee-master upload is the web's, and the worker need not load
    # openpyxl (about 15 MB) for it.
    from openpyxl import load_workbook  # noqa: PLC0415
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


def sync_from_salary_rows(tenant_id: int, year: int, month: int, limit: int | None = None,
                          with_terms: bool = False) -> tuple[list[dict], int]:
    """Bring the master in line with a month's salary rows: (first `limit` changes, count).

    New codes become employees; a changed fixed salary or department is updated; active
    employees without a row are reported as missing (never deactivated: HR decides). A code
    on several rows counts once, as its first row (in sheet order) says. Set-based: a few
    statements whatever the number of people (what changes is read first, for HR's list,
    then one INSERT ... SELECT and one UPDATE ... FROM write it), so nothing per employee
    passes through Python but the listed changes. The caller commits with the upload's
    commit.

    Months of one tenant confirmed at once commit concurrently: each takes the tenant's
    employee lock first (held until its commit), so the second reads the master the first
    committed, and new codes are inserted with ON CONFLICT as well, so no commit ever
    fails on `uq_employee_code` (each such failure cost the job an attempt).

    `with_terms`: a new employee starts with the TDS % and advance balance its first row
    states (`imported.stated_terms_sql`), for a caller that carries the month's terms next
    (`imported.carry_terms`, which settles them): not inserted, then all updated.
    """
    _lock_tenant_master(tenant_id)
    connection = db.session.connection()
    month_rows = _MonthRows(tenant_id, year, month, connection.dialect.name)
    # Each person's first row, made once: every statement below reads it.
    _FIRST_ROWS.drop(connection, checkfirst=True)
    _FIRST_ROWS.create(connection)
    connection.execute(month_rows.fill)
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"ANALYZE {_FIRST_ROWS.name}"))
    counts = db.session.execute(month_rows.counts()).one()
    log = _ChangeLog(limit)
    log.count = sum(int(n or 0) for n in counts)
    if limit is None or limit > 0:
        for row in db.session.execute(month_rows.changes(limit)):
            _log_row(log, row)
        if limit is None or len(log.items) < limit:
            room = None if limit is None else limit - len(log.items)
            for code, name in db.session.execute(month_rows.missing(room)):
                log.items.append({"kind": "missing", "code": code, "name": name})
        if limit is not None:
            del log.items[limit:]
    now = utcnow()
    db.session.execute(month_rows.update_changed(now))
    db.session.execute(month_rows.insert_new(now, with_terms))
    _FIRST_ROWS.drop(connection)
    logger.info("tenant %s %s-%02d: employee master %s changes", tenant_id, year, month, log.count)
    return log.items, log.count


# Each code's first salary row of the month being synced: a temporary table of the sync's
# own transaction (dropped at its end; on PostgreSQL at the commit too, should it fail).
_FIRST_ROWS = sa.Table(
    "employee_sync_first_rows", sa.MetaData(),
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("employee_name", sa.String(200)),
    sa.Column("department", sa.String(120)),
    sa.Column("designation", sa.String(120)),
    sa.Column("fixed_salary", Money),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


class _MonthRows:
    """The statements of one sync: each person's first salary row of the month, against the master.

    A row's code is its employee code, else its key (code or name), trimmed and cut to the
    64 characters the master stores: `(code or key or "").strip()[:64]` in SQL. Imported
    text has no whitespace but single spaces inside (`values.to_text`), so SQL's trim of
    spaces is Python's strip there.
    """

    def __init__(self, tenant_id: int, year: int, month: int, dialect: str):
        self.tenant_id, self.dialect = tenant_id, dialect
        code = sa.func.substr(sa.func.trim(sa.func.coalesce(
            sa.func.nullif(SalaryRow.employee_code, ""), sa.func.nullif(SalaryRow.employee_key, ""),
            "")), 1, 64)
        firsts = (sa.select(code.label("code"), sa.func.min(SalaryRow.id).label("first_id"))
                  .where(SalaryRow.tenant_id == tenant_id, SalaryRow.year == year,
                         SalaryRow.month == month)
                  .group_by(code).having(code != "").subquery("firsts"))
        self.fill = _FIRST_ROWS.insert().from_select(
            [c.name for c in _FIRST_ROWS.columns],
            sa.select(firsts.c.code, SalaryRow.id, SalaryRow.employee_name, SalaryRow.department,
                      SalaryRow.designation, SalaryRow.fixed_salary)
            .join_from(firsts, SalaryRow, SalaryRow.id == firsts.c.first_id))
        self.first = first = _FIRST_ROWS
        self.codes = sa.select(first.c.code)
        self.department = sa.func.coalesce(sa.func.nullif(first.c.department, ""), "Unassigned")
        # A sheet without a fixed-salary column stores 0: that is no news about the salary.
        self.salary_news = sa.and_(first.c.fixed_salary.is_not(None), first.c.fixed_salary != 0,
                                   first.c.fixed_salary != Employee.monthly_salary)
        self.department_news = self.department != Employee.department
        self.known = sa.and_(Employee.tenant_id == tenant_id, Employee.code == first.c.code)

    def _joined(self):
        return self.first.outerjoin(Employee, self.known)

    def counts(self):
        """(new people, salary changes, department changes, missing people)."""
        known = Employee.id.is_not(None)

        def number(condition):
            return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

        missing = (sa.select(sa.func.count()).select_from(Employee)
                   .where(*self._missing()).scalar_subquery())
        return sa.select(number(Employee.id.is_(None)),
                         number(sa.and_(known, self.salary_news)),
                         number(sa.and_(known, self.department_news)),
                         missing).select_from(self._joined())

    def changes(self, limit: int | None):
        """The rows that add or change someone, in sheet order (each is one or two changes)."""
        first = self.first
        stmt = (sa.select(first.c.code, first.c.employee_name, self.department.label("department"),
                          first.c.fixed_salary, Employee.id, Employee.name,
                          Employee.department.label("old_department"), Employee.monthly_salary,
                          self.salary_news.label("salary_news"))
                .select_from(self._joined())
                .where(sa.or_(Employee.id.is_(None), self.salary_news, self.department_news))
                .order_by(first.c.id))
        return stmt if limit is None else stmt.limit(limit)

    def _missing(self):
        # SQLite: NOT IN, not a correlated NOT EXISTS: it then makes the month's codes once
        # instead of once per employee. PostgreSQL: NOT EXISTS, an anti join. Its NOT IN is
        # a hash of the month's codes only while that fits `work_mem` (at the default 4 MB,
        # 200,000 codes were, 300,000 not); past that it compares each employee with the list,
        # and a 500,000-person month's sync had not ended after ten minutes. The codes are
        # never NULL, so the two mean the same.
        if self.dialect == "postgresql":
            outside = ~sa.exists().where(self.first.c.code == Employee.code)
        else:
            outside = Employee.code.not_in(self.codes)
        return (Employee.tenant_id == self.tenant_id, Employee.active.is_(True), outside)

    def missing(self, limit: int | None):
        stmt = sa.select(Employee.code, Employee.name).where(*self._missing()).order_by(Employee.id)
        return stmt if limit is None else stmt.limit(limit)

    def update_changed(self, now: dt.datetime):
        first = self.first
        return (sa.update(Employee)
                .where(self.known, sa.or_(self.salary_news, self.department_news))
                .values(monthly_salary=sa.case((self.salary_news, first.c.fixed_salary),
                                               else_=Employee.monthly_salary),
                        department=self.department, updated_at=now)
                .execution_options(synchronize_session=False))

    def insert_new(self, now: dt.datetime, with_terms: bool = False):
        """New codes; a code another commit added meanwhile is updated instead."""
        first = self.first
        source = first
        terms = {"tds_pct": sa.literal(Decimal(0), Employee.tds_pct.type),
                 "advance_balance": sa.literal(Decimal(0), Employee.advance_balance.type)}
        if with_terms:
            source = first.join(SalaryRow, SalaryRow.id == first.c.id)
            terms = imported.stated_terms_sql(self.dialect)
        columns = {
            "tenant_id": sa.literal(self.tenant_id, sa.Integer()),
            "code": first.c.code,
            "name": sa.func.substr(sa.func.coalesce(sa.func.nullif(first.c.employee_name, ""),
                                                    first.c.code), 1, 200),
            "department": self.department,
            "designation": first.c.designation,
            "monthly_salary": sa.func.coalesce(first.c.fixed_salary, 0),
            "ot_multiplier": sa.literal(Decimal(1), Employee.ot_multiplier.type),
            **terms,
            "active": sa.literal(True, sa.Boolean()),
            "updated_at": sa.literal(now, Employee.updated_at.type),
        }
        new = (sa.select(*columns.values()).select_from(source)
               .where(~sa.exists().where(self.known)))
        insert = upsert_insert()(Employee).from_select(list(columns), new)
        excluded = insert.excluded
        return insert.on_conflict_do_update(
            index_elements=["tenant_id", "code"],
            set_={"department": excluded.department,
                  "monthly_salary": sa.case((excluded.monthly_salary != 0, excluded.monthly_salary),
                                            else_=Employee.monthly_salary),
                  "updated_at": excluded.updated_at})


def _log_row(log: "_ChangeLog", row) -> None:
    """The changes one first row makes, as the per-person sync listed them."""
    if row.id is None:
        log.items.append({"kind": "new", "code": row.code,
                          "name": (row.employee_name or row.code)[:200],
                          "department": row.department, "salary": str(row.fixed_salary)})
        return
    if row.salary_news:
        log.items.append({"kind": "salary", "code": row.code, "name": row.name,
                          "old": str(row.monthly_salary), "new": str(row.fixed_salary)})
    if row.department != row.old_department:
        log.items.append({"kind": "department", "code": row.code, "name": row.name,
                          "old": row.old_department, "new": row.department})


# The first key of the tenant employee locks (the second is the tenant id).
EMPLOYEE_LOCK_CLASS = 7_240_114


def _lock_tenant_master(tenant_id: int) -> None:
    """Serialise employee master syncs of one tenant until this transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite lets one writer in at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(EMPLOYEE_LOCK_CLASS, tenant_id)))


class _ChangeLog:
    """The first `limit` changes in full, and how many there were in all."""

    def __init__(self, limit: int | None):
        self.limit, self.items, self.count = limit, [], 0

    def add(self, change: dict) -> None:
        self.count += 1
        if self.limit is None or len(self.items) < self.limit:
            self.items.append(change)
