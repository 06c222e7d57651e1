"""Advance balances follow the months that are paid.

Marking a month paid takes each employee's advance deduction off their advance balance
(never below 0); unlocking it puts back exactly what was taken, which the month keeps in
`PayrollMonth.advances_recovered`. Both run inside the caller's transaction, which also
flips the month's status with a conditional update, so a month is never deducted twice.
"""
import logging
from decimal import Decimal

import sqlalchemy as sa

from paydash.extensions import db
from paydash.models import Employee
from paydash.models import SalaryRow

logger = logging.getLogger(__name__)


def _advances_by_code(tenant_id: int, year: int, month: int) -> dict[str, Decimal]:
    rows = db.session.execute(sa.select(SalaryRow.employee_key, SalaryRow.advance).where(
        SalaryRow.tenant_id == tenant_id, SalaryRow.year == year, SalaryRow.month == month,
        SalaryRow.source == "frontend", SalaryRow.advance > 0))
    return {key: Decimal(advance) for key, advance in rows}


def recover(tenant_id: int, year: int, month: int) -> dict[str, str]:
    """Reduce balances by the month's advance deductions; returns {employee id: amount taken}."""
    advances = _advances_by_code(tenant_id, year, month)
    if not advances:
        return {}
    people = db.session.scalars(sa.select(Employee).where(
        Employee.tenant_id == tenant_id, Employee.code.in_(advances)))
    taken = {}
    for employee in people:
        amount = min(advances[employee.code], max(employee.advance_balance, Decimal(0)))
        if amount > 0:
            employee.advance_balance = employee.advance_balance - amount
            taken[str(employee.id)] = f"{amount:.2f}"
    logger.info("tenant %s %s-%02d paid: advances recovered from %s employees",
                tenant_id, year, month, len(taken))
    return taken


def restore(tenant_id: int, taken: dict[str, str] | None) -> None:
    """Give back what `recover` took (employees since deleted are skipped)."""
    if not taken:
        return
    ids = [int(key) for key in taken]
    for employee in db.session.scalars(sa.select(Employee).where(
            Employee.tenant_id == tenant_id, Employee.id.in_(ids))):
        employee.advance_balance = employee.advance_balance + Decimal(taken[str(employee.id)])
