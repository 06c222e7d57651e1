"""A month's payroll worked out in the browser: the sheet, drafts, save, lock and variance.

The server is the authority: saving recomputes every row from HR's inputs with
`paydash.payroll.calculator`, whatever the browser showed. Drafts keep HR's raw cell text keyed by
employee id, so a half-typed month survives a closed tab.
"""
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from paydash import audit
from paydash.charts import aggregation
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.formatting import indian_number
from paydash.models import Employee
from paydash.models import PayrollMonth
from paydash.models import Role
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.models import User
from paydash.payroll import advances
from paydash.payroll import calculator
from paydash.payroll import employees
from paydash.payroll import imported
from paydash.periods import month_label

logger = logging.getLogger(__name__)

PAID = "paid"
SAVED = "saved"
DRAFT = "draft"


class MonthLocked(Exception):
    """The month is marked paid: nothing may change until an admin unlocks it."""


class NotAllowed(PermissionError):
    """The user's role may not do this."""


class MonthInputError(ValueError):
    """Some cells are wrong; `errors` maps employee id (text) to {field: message}.

    `summary` lists the same errors once per employee, with code and name, in sheet order.
    """

    def __init__(self, errors: dict[str, dict[str, str]], message: str | None = None,
                 summary: list[dict] | None = None):
        count = len(errors)
        super().__init__(message or f"{count} employee{'s' if count != 1 else ''} "
                                    f"need{'s' if count == 1 else ''} fixing before saving")
        self.errors = errors
        self.summary = summary or []


@dataclass(frozen=True)
class Line:
    employee: Employee
    inputs: calculator.Inputs
    pay: calculator.Pay


def rules_for_tenant(tenant: Tenant, year: int, month: int) -> calculator.Rules:
    return calculator.rules_for(year, month, days_basis=tenant.days_basis,
                             shift_hours=tenant.shift_hours, break_hours=tenant.break_hours,
                             pf_enabled=tenant.pf_enabled, esi_enabled=tenant.esi_enabled,
                             pt_state=tenant.pt_state)


def terms_of(employee: Employee) -> calculator.Terms:
    return calculator.Terms(monthly_salary=employee.monthly_salary,
                         ot_multiplier=employee.ot_multiplier, tds_pct=employee.tds_pct,
                         advance_balance=employee.advance_balance)


def get_month(tenant_id: int, year: int, month: int) -> PayrollMonth | None:
    return db.session.scalar(sa.select(PayrollMonth).where(
        PayrollMonth.tenant_id == tenant_id, PayrollMonth.year == year,
        PayrollMonth.month == month))


def is_paid(tenant_id: int, year: int, month: int) -> bool:
    """Is this period marked paid (locked against edits, saves and uploads)?"""
    record = get_month(tenant_id, year, month)
    return record is not None and record.status == PAID


def _month_for_update(tenant_id: int, year: int, month: int) -> PayrollMonth:
    record = get_month(tenant_id, year, month)
    if record is None:
        record = PayrollMonth(tenant_id=tenant_id, year=year, month=month, status=DRAFT)
        db.session.add(record)
    if record.status == PAID:
        raise MonthLocked(f"{year}-{month:02d} is marked paid; an admin must unlock it first")
    return record


def previous_period(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def previous_nets(tenant_id: int, year: int, month: int) -> dict[str, Decimal]:
    """Net pay by employee code in the month before, whatever its source."""
    py, pm = previous_period(year, month)
    rows = db.session.execute(sa.select(SalaryRow.employee_key, SalaryRow.net).where(
        SalaryRow.tenant_id == tenant_id, SalaryRow.year == py, SalaryRow.month == pm))
    return {key: Decimal(net) for key, net in rows}


def is_variance(net: Decimal, previous: Decimal, pct: Decimal) -> bool:
    """True when net moved by more than `pct` percent of last month's (any rise from 0)."""
    net_p, prev_p, pct_h = int(net * 100), int(previous * 100), int(Decimal(pct) * 100)
    if prev_p == 0:
        return net_p != 0
    return abs(net_p - prev_p) * 10000 > pct_h * abs(prev_p)


def variance(tenant: Tenant, year: int, month: int, lines: list[Line]) -> list[dict]:
    """Employees whose net changed by more than the tenant's variance % since last month."""
    before = previous_nets(tenant.id, year, month)
    flags = []
    for line in lines:
        previous = before.get(line.employee.code)
        if previous is not None and is_variance(line.pay.net, previous, tenant.variance_pct):
            change = None if previous == 0 else (line.pay.net - previous) * 100 / previous
            flags.append({"employee_id": line.employee.id, "code": line.employee.code,
                          "name": line.employee.name, "previous": str(previous),
                          "net": str(line.pay.net),
                          "change_pct": None if change is None else str(round(change, 1))})
    return flags


def compute_month(tenant: Tenant, year: int, month: int,
                  raw_inputs: Mapping) -> tuple[list[Line], dict[str, dict[str, str]]]:
    """Every employee's pay from HR's cells (keyed by employee id), and errors per row."""
    return _compute(tenant, year, month, raw_inputs,
                    employees.employed_in_month(tenant.id, year, month))


def _compute(tenant: Tenant, year: int, month: int, raw_inputs: Mapping,
             staff: list[Employee]) -> tuple[list[Line], dict[str, dict[str, str]]]:
    rules = rules_for_tenant(tenant, year, month)
    lines, errors = [], {}
    for employee in staff:
        raw = raw_inputs.get(str(employee.id)) or {}
        inputs, row_errors = calculator.parse_inputs(raw, rules.days_in_month)
        if row_errors:
            errors[str(employee.id)] = row_errors
            continue
        lines.append(Line(employee, inputs, calculator.compute(rules, terms_of(employee), inputs)))
    return lines, errors


def month_view(tenant: Tenant, year: int, month: int) -> dict:
    """What the month's page needs: rules, employees, HR's draft and last month's nets."""
    rules = rules_for_tenant(tenant, year, month)
    record = get_month(tenant.id, year, month)
    draft = (record.draft or {}) if record else {}
    before = previous_nets(tenant.id, year, month)
    staff = employees.employed_in_month(tenant.id, year, month)
    people = [{"id": e.id, "code": e.code, "name": e.name, "department": e.department,
               "monthly_salary": str(e.monthly_salary), "ot_multiplier": str(e.ot_multiplier),
               "tds_pct": str(e.tds_pct), "advance_balance": str(e.advance_balance),
               "previous_net": str(before[e.code]) if e.code in before else None}
              for e in staff]
    if record is None:
        draft = {"inputs": _carried_inputs(tenant.id, year, month, staff)}
    return {
        "imported": imported.imported_month(
            tenant, year, month, before,
            lambda net, previous: is_variance(net, previous, tenant.variance_pct)),
        "year": year, "month": month, "status": record.status if record else DRAFT,
        "unsaved_changes": has_unsaved_changes(record),
        "rules": calculator.rules_as_json(rules),
        "variance_pct": str(tenant.variance_pct),
        "employees": people,
        "draft": draft.get("inputs") or {},
        "draft_saved_at": draft.get("saved_at"),
    }


def _carried_inputs(tenant_id: int, year: int, month: int, staff: list[Employee]) -> dict:
    """A new month after an imported one starts with the advance recovery the sheet made."""
    py, pm = previous_period(year, month)
    recovered = imported.recoveries(tenant_id, py, pm)
    return {str(e.id): {"advance": str(recovered[e.code])} for e in staff
            if e.code in recovered and e.advance_balance > 0}


def error_summary(staff: list[Employee], errors: Mapping) -> list[dict]:
    """Every employee with an error, in sheet order, with code, name and the messages."""
    return [{"employee_id": e.id, "code": e.code, "name": e.name,
             "messages": list(errors[str(e.id)].values())}
            for e in staff if str(e.id) in errors]


def has_unsaved_changes(record: PayrollMonth | None) -> bool:
    """True when HR's draft was changed after the month was last saved."""
    if record is None or record.saved_at is None or not record.draft:
        return False
    return record.draft.get("saved_at") != _stamp(record.saved_at)


def _stamp(moment) -> str:
    return moment.isoformat() + "Z"


def save_draft(tenant_id: int, year: int, month: int, raw_inputs: Mapping,
               user_id: int | None) -> str:
    """Keep HR's cells as typed (no checks: a draft may be half done); returns its time."""
    record = _month_for_update(tenant_id, year, month)
    saved_at = _stamp(utcnow())
    record.draft = {"inputs": _clean_draft(raw_inputs), "saved_at": saved_at, "by": user_id}
    db.session.commit()
    return saved_at


def _clean_draft(raw_inputs: Mapping) -> dict:
    # Only known fields, as short text: a draft is stored, never trusted.
    names = [name for name, _label, _kind in calculator.INPUT_FIELDS]
    clean = {}
    for key, row in (raw_inputs or {}).items():
        key = str(key)
        if not (key.isascii() and key.isdigit()) or not isinstance(row, Mapping):
            continue
        cells = {n: str(row[n])[:40] for n in names if row.get(n) not in (None, "")}
        if cells:
            clean[key] = cells
    return clean


def save_month(tenant: Tenant, year: int, month: int, raw_inputs: Mapping, user_id: int | None,
               ip: str | None = None):
    """Replace the month's salary rows with the recomputed month, then request the chart sync.

    The rows, the month's status and the sync job are committed together; the job is
    enqueued after the commit. Raises MonthLocked or MonthInputError; returns the Job.
    """
    record = _month_for_update(tenant.id, year, month)
    staff = employees.employed_in_month(tenant.id, year, month)
    lines, errors = _compute(tenant, year, month, raw_inputs, staff)
    if errors:
        db.session.rollback()
        raise MonthInputError(errors, summary=error_summary(staff, errors))
    if not lines:
        db.session.rollback()
        raise MonthInputError({}, "There are no active employees for this month. "
                                  "Add employees first.")
    db.session.execute(sa.delete(SalaryRow).where(
        SalaryRow.tenant_id == tenant.id, SalaryRow.year == year, SalaryRow.month == month))
    db.session.add_all(salary_row(tenant.id, year, month, line) for line in lines)
    now = utcnow()
    record.status, record.saved_at, record.saved_by_id = SAVED, now, user_id
    record.draft = {"inputs": _clean_draft(raw_inputs), "saved_at": _stamp(now), "by": user_id}
    audit.record("payroll.saved", user_id=user_id, tenant_id=tenant.id,
                 target=f"Saved {month_label(year, month)} payroll month",
                 detail={"Employees": len(lines),
                         "Net pay": indian_number(sum((ln.pay.net for ln in lines), Decimal(0)), 2),
                         "Replaced": "every salary row of the month"}, ip=ip)
    job = aggregation.request_sync(tenant.id, year, month, "frontend", user_id)
    logger.info("tenant %s %s-%02d: saved %s rows from the browser; job %s",
                tenant.id, year, month, len(lines), job.id)
    return job


def salary_row(tenant_id: int, year: int, month: int, line: Line) -> SalaryRow:
    e, i, p = line.employee, line.inputs, line.pay
    extra = {"pf": str(p.pf), "esi": str(p.esi), "professional_tax": str(p.pt),
             "salary_without_ot": str(p.salary_for_paid_days),
             "advance_balance_before": str(e.advance_balance)}
    for name in ("present_days", "paid_holidays", "tds_override"):
        if getattr(i, name) is not None:
            extra[name] = str(getattr(i, name))
    return SalaryRow(tenant_id=tenant_id, year=year, month=month, employee_key=e.code,
                     employee_code=e.code, employee_name=e.name, department=e.department,
                     designation=e.designation, fixed_salary=e.monthly_salary,
                     paid_days=p.paid_days, absent_days=p.unpaid_days,
                     ot_hours=i.ot_hours or Decimal(0), ot_pay=p.ot_pay,
                     late_minutes=i.late_minutes or Decimal(0), late_deduction=p.late_deduction,
                     incentive=p.incentive, gross=p.gross, tds=p.tds, advance=p.advance,
                     other_deductions=p.statutory_total, total_deductions=p.total_deductions,
                     net=p.net, extra=extra, source="frontend")


def _claim(record: PayrollMonth, before: str, after: str, **values) -> bool:
    """Move the month from `before` to `after` unless another request already did."""
    # A conditional update, not a read then a write: of two clicks on "Mark paid" only
    # one changes the row, so advance balances are touched once.
    changed = db.session.execute(
        sa.update(PayrollMonth).where(PayrollMonth.id == record.id, PayrollMonth.status == before)
        .values(status=after, **values).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(record)
    return changed == 1


def mark_paid(tenant_id: int, year: int, month: int, user_id: int | None,
              ip: str | None = None) -> PayrollMonth:
    """Lock a saved month and take its advance deductions off the balances, in one commit."""
    record = get_month(tenant_id, year, month)
    if record is None or record.status == DRAFT:
        raise MonthInputError({}, "Save the month before marking it paid.")
    if record.status == SAVED and has_unsaved_changes(record):
        raise MonthInputError({}, "Cells were changed after the last save. Save the month "
                                  "again before marking it paid.")
    if not _claim(record, SAVED, PAID, paid_at=utcnow(), paid_by_id=user_id):
        return record
    record.advances_recovered = advances.recover(tenant_id, year, month)
    audit.record("payroll.paid", user_id=user_id, tenant_id=tenant_id,
                 target=f"Marked {month_label(year, month)} paid",
                 detail={"Advance recovered from": f"{len(record.advances_recovered or {})} "
                                                   "employees"}, ip=ip)
    db.session.commit()
    return record


def unlock(tenant_id: int, year: int, month: int, user: User, reason: str = "",
           ip: str | None = None) -> PayrollMonth:
    """Unlock a paid month (tenant admins only), written to the audit log."""
    if user.role != Role.TENANT_ADMIN.value or user.tenant_id != tenant_id:
        raise NotAllowed("Only your organisation's admin can unlock a paid month.")
    record = get_month(tenant_id, year, month)
    if record is None or record.status != PAID:
        raise MonthInputError({}, "This month is not locked.")
    paid_at, paid_by_id = record.paid_at, record.paid_by_id
    if not _claim(record, PAID, SAVED, paid_at=None, paid_by_id=None):
        raise MonthInputError({}, "This month is not locked.")
    advances.restore(tenant_id, record.advances_recovered)
    audit.record("payroll.unlock", user_id=user.id, tenant_id=tenant_id,
                 target=f"Unlocked {month_label(year, month)}",
                 detail={"Reason": reason[:500] or None,
                         "Was marked paid": paid_at.strftime("%d %b %Y %H:%M UTC")
                         if paid_at else None, "Marked paid by user": paid_by_id,
                         "Advance given back to": f"{len(record.advances_recovered or {})} "
                                                  "employees"}, ip=ip)
    record.advances_recovered = None
    db.session.commit()
    logger.info("tenant %s %s-%02d unlocked by user %s", tenant_id, year, month, user.id)
    return record


def list_months(tenant_id: int) -> list[PayrollMonth]:
    return list(db.session.scalars(sa.select(PayrollMonth).where(
        PayrollMonth.tenant_id == tenant_id).order_by(PayrollMonth.year.desc(),
                                                      PayrollMonth.month.desc())))
