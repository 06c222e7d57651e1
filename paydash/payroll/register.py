"""The month's salary register as .xlsx, in the tenant template's own columns.

Uploading the register reproduces the month's salary rows: every stored figure has a
column the sheet reader maps back to it (see paydash/sheets/headers.py), totals are plain
numbers (a formula written by openpyxl has no cached value for a reader to use), and
text from users goes through `exports.safe_cell`. Columns beyond the template
(Designation, Total Deductions, and PF/ESI/Prof. Tax when the tenant uses them) keep
the round trip exact.
"""
import io
import logging
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.styles import Border
from openpyxl.styles import Font
from openpyxl.styles import Side
from openpyxl.utils import get_column_letter

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.payroll import monthly
from paydash.periods import month_label
from paydash.sheets import exports

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
EXTRA_COLUMNS = (("Designation", 18, "@"), ("Total Deductions", 14, exports.MONEY_FORMAT))
STATUTORY_COLUMNS = (("PF", 10, exports.MONEY_FORMAT), ("ESI", 10, exports.MONEY_FORMAT),
                     ("Prof. Tax", 10, exports.MONEY_FORMAT))
TEXT_HEADERS = {"Employee ID", "NAME", "Department", "Designation"}
TITLE_ROWS = 2  # title, blank; the header is on row 3


def _extra(row: SalaryRow, key: str) -> Decimal:
    value = (row.extra or {}).get(key)
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except ArithmeticError:
        return ZERO


# Columns worked out from the gross: blank, and without a total, when a row's gross is unknown.
GROSS_HEADERS = ("SAL+OT", "SAL-TDS", "SL W/O OT")


def _rates(tenant: Tenant, year: int, month: int):
    rules = monthly.rules_for_tenant(tenant, year, month)
    basis = Decimal(rules.days_in_month) if rules.days_basis == "calendar" else Decimal(rules.days_basis)
    return basis * (rules.shift_hours - rules.break_hours)


def _values(row: SalaryRow, hours_basis: Decimal, statutory: bool) -> dict:
    # Issue 15: a month imported without gross leaves the gross columns blank, never 0.
    gross_known = row.gross is not None
    salary_wo_ot = (_extra(row, "salary_without_ot")
                    or (row.gross - row.ot_pay + row.late_deduction - row.incentive
                        if gross_known else None))
    hour_rate = (row.fixed_salary / hours_basis).quantize(Decimal("0.01"))
    minute_rate = (row.fixed_salary / hours_basis / 60).quantize(Decimal("0.0001"))
    balance_before = _extra(row, "advance_balance_before")
    values = {
        "Employee ID": row.employee_code or row.employee_key, "NAME": row.employee_name,
        "SALARY": row.fixed_salary, "ABSENT": row.absent_days, "DAYS": row.paid_days,
        "SL W/O OT": salary_wo_ot, "OT": row.ot_hours, "HOUR RS": hour_rate,
        "CHARGES": row.ot_pay, "LATE": row.late_minutes, "CHARGE": minute_rate,
        "AMT": row.late_deduction, "SAL+OT": row.gross, "25TH ADV": None,
        "OLD ADV": row.advance, "NETT PAYABLE": row.net, "Department": row.department,
        "Total old ADV": balance_before or None,
        "Balnce Adv": (balance_before - row.advance) if balance_before else None,
        "INCENTIVE": row.incentive, "TDS": row.tds, "SAL-TDS": row.gross - row.tds if gross_known else None,
        "ADVANCE": row.advance, "Designation": row.designation,
        "Total Deductions": row.total_deductions,
    }
    if statutory:
        values.update({"PF": _extra(row, "pf"), "ESI": _extra(row, "esi"),
                       "Prof. Tax": _extra(row, "professional_tax")})
    return values


def salary_register(tenant: Tenant, year: int, month: int) -> bytes:
    """The period's salary rows as a formatted register with a TOTAL row (.xlsx bytes)."""
    rows = list(db.session.scalars(sa.select(SalaryRow).where(
        SalaryRow.tenant_id == tenant.id, SalaryRow.year == year, SalaryRow.month == month)
        .order_by(SalaryRow.department, SalaryRow.employee_name, SalaryRow.employee_key)))
    statutory = tenant.pf_enabled or tenant.esi_enabled or bool(tenant.pt_state) or any(
        _extra(r, "pf") or _extra(r, "esi") or _extra(r, "professional_tax") for r in rows)
    columns = exports.TEMPLATE_COLUMNS + EXTRA_COLUMNS + (STATUTORY_COLUMNS if statutory else ())
    headers = [header for header, _w, _f in columns]
    hours_basis = _rates(tenant, year, month)

    wb = Workbook()
    ws = wb.active
    ws.title = "Salary"
    exports.append_safe(ws, [f"{tenant.name} — salary register, {month_label(year, month)}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(headers)
    totals = {h: ZERO for h, _w, fmt in columns if h not in TEXT_HEADERS and fmt != "@"}
    for row in rows:
        values = _values(row, hours_basis, statutory)
        exports.append_safe(ws, [values.get(h) for h in headers])
        for header in totals:
            if header in GROSS_HEADERS and row.gross is None:
                totals[header] = None  # A total of the known grosses only would mislead.
            elif totals[header] is not None:
                totals[header] += values.get(header) or ZERO
    for header in ("HOUR RS", "CHARGE"):
        totals[header] = None  # A sum of rates means nothing.
    exports.append_safe(ws, ["TOTAL", f"{len(rows)} employees"]
                        + [totals.get(h) for h in headers[2:]])
    _format(ws, columns, data_rows=len(rows))
    logger.info("tenant %s %s-%02d: register with %s rows", tenant.id, year, month, len(rows))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _format(ws, columns, data_rows: int) -> None:
    header_row = TITLE_ROWS + 1
    total_row = header_row + data_rows + 1
    for index, (header, width, number_format) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = width
        if header == "CHARGE":
            number_format = "#,##0.0000"
        for row in range(header_row + 1, total_row + 1):
            ws.cell(row=row, column=index).number_format = number_format
    for cell in ws[header_row]:
        cell.fill = exports.HEADER_FILL
        cell.font = exports.HEADER_FONT
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[header_row].height = 30
    line = Side(style="thin")
    for cell in ws[total_row]:
        cell.font = Font(bold=True)
        cell.border = Border(top=line, bottom=Side(style="double"))
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    ws.print_title_rows = f"{header_row}:{header_row}"
