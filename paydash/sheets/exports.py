"""Workbooks Paydash hands to people: the blank template and an upload's error report.

Every value that came from a user or a sheet goes through `safe_cell`, so that no
spreadsheet opening an export runs it as a formula (CWE-1236).
"""
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment
from openpyxl.styles import Font
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from paydash.sheets.headers import HELP_SHEET

# A cell starting with one of these is read as a formula (or a DDE call) by some spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32767
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

MONEY_FORMAT = "#,##0.00"
NUMBER_FORMAT = "#,##0.##"
HEADER_FILL = PatternFill("solid", fgColor="2456D6")
HEADER_FONT = Font(bold=True, color="FFFFFF")

# The tenant's own layout (DESIGN.md "Sheets people really have"): header, width, format.
TEMPLATE_COLUMNS = (
    ("Employee ID", 13, "@"),
    ("NAME", 26, "@"),
    ("SALARY", 12, MONEY_FORMAT),
    ("ABSENT", 9, NUMBER_FORMAT),
    ("DAYS", 8, NUMBER_FORMAT),
    ("SL W/O OT", 12, MONEY_FORMAT),
    ("OT", 8, NUMBER_FORMAT),
    ("HOUR RS", 10, MONEY_FORMAT),
    ("CHARGES", 11, MONEY_FORMAT),
    ("LATE", 8, NUMBER_FORMAT),
    ("CHARGE", 10, MONEY_FORMAT),
    ("AMT", 10, MONEY_FORMAT),
    ("SAL+OT", 12, MONEY_FORMAT),
    ("25TH ADV", 11, MONEY_FORMAT),
    ("OLD ADV", 11, MONEY_FORMAT),
    ("NETT PAYABLE", 14, MONEY_FORMAT),
    ("Department", 18, "@"),
    ("Total old ADV", 14, MONEY_FORMAT),
    ("Balnce Adv", 12, MONEY_FORMAT),
    ("INCENTIVE", 11, MONEY_FORMAT),
    ("TDS", 10, MONEY_FORMAT),
    ("SAL-TDS", 12, MONEY_FORMAT),
    ("ADVANCE", 11, MONEY_FORMAT),
)
TEMPLATE_HEADERS = tuple(header for header, _width, _fmt in TEMPLATE_COLUMNS)

HOW_TO_FILL = (
    "How to fill this template",
    "",
    "1. One row per employee on the 'Salary' sheet, starting in row 2. Keep the header row as it is.",
    "2. Employee ID and NAME: at least one of them on every row. Two people must not share an ID;"
    " if they do, Paydash shows both rows and asks you.",
    "3. SALARY is the fixed monthly salary; SAL+OT is the gross pay; NETT PAYABLE is the net pay."
    " NETT PAYABLE and SALARY or SAL+OT are required.",
    "4. OT is overtime in hours and CHARGES its pay; LATE is late minutes and AMT its deduction.",
    "5. Type numbers without text: 45000 or 45,000.00 are fine, 'forty five thousand' is not."
    " Zero pay is allowed.",
    "6. Department may be left empty: those rows are shown under 'Unassigned'.",
    "7. Extra columns you add are ignored (Paydash tells you which), so you can keep your own notes.",
    "8. Save as .xlsx (Excel Workbook) without a password, then upload it on the Uploads page"
    " and pick the month it is for.",
    "9. Uploading a month again replaces that month: employees missing from the new file disappear.",
)

ERROR_REPORT_COLUMNS = (("Row", 8), ("Column", 9), ("Header", 24), ("Value", 28), ("Message", 80))


def safe_cell(value):
    """A value safe to write into a spreadsheet cell: text that a spreadsheet would run is quoted.

    Numbers, dates and None pass through. Text starting with `=`, `+`, `-`, `@`, tab or
    carriage return gets a leading apostrophe, so it stays text in Excel, LibreOffice and
    Google Sheets, even when a user edits the cell. Characters XML cannot hold are dropped
    and text is cut to Excel's cell limit, so a hostile value never breaks the export.
    """
    if not isinstance(value, str):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return text[:EXCEL_CELL_LIMIT]


def append_safe(ws, values: Iterable) -> None:
    """Append one row to a worksheet with every value through `safe_cell`."""
    ws.append([safe_cell(value) for value in values])


def blank_template() -> bytes:
    """The blank salary sheet template in the tenant's column layout, as .xlsx bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Salary"
    ws.append(TEMPLATE_HEADERS)
    for index, (_header, width, number_format) in enumerate(TEMPLATE_COLUMNS, start=1):
        column = ws.column_dimensions[get_column_letter(index)]
        column.width = width
        # A column style, not styled empty cells: the sheet stays one row long until filled.
        column.number_format = number_format
    _style_header(ws)
    ws.freeze_panes = "C2"
    _add_how_to_fill(wb)
    return _to_bytes(wb)


def error_report(preview: dict | None, filename: str = "") -> bytes:
    """An upload's listed errors (row, column, header, value, message) as .xlsx bytes."""
    preview = preview or {}
    wb = Workbook()
    ws = wb.active
    ws.title = "Errors"
    ws.append([header for header, _width in ERROR_REPORT_COLUMNS])
    if preview.get("fatal"):
        append_safe(ws, [None, None, None, None, preview["fatal"]])
    for error in preview.get("errors") or ():
        append_safe(ws, [error.get("row"), error.get("column"), error.get("header"),
                         _as_text(error.get("value")), error.get("message")])
    for index, (_header, width) in enumerate(ERROR_REPORT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    _style_header(ws)
    ws.freeze_panes = "A2"
    _add_duplicates(wb, preview.get("duplicates") or ())
    _add_about(wb, filename, preview)
    return _to_bytes(wb)


def _as_text(value):
    # The offending value is shown as the sheet had it; numbers stay numbers.
    return value if isinstance(value, (int, float)) or value is None else str(value)


def _add_duplicates(wb: Workbook, duplicates: Iterable[dict]) -> None:
    duplicates = list(duplicates)
    if not duplicates:
        return
    ws = wb.create_sheet("Duplicate IDs")
    ws.append(["Employee ID", "Row", "Name"])
    for duplicate in duplicates:
        for row in duplicate.get("rows") or ():
            append_safe(ws, [duplicate.get("code"), row.get("row"), row.get("name")])
    for letter, width in (("A", 16), ("B", 8), ("C", 30)):
        ws.column_dimensions[letter].width = width
    _style_header(ws)
    ws.freeze_panes = "A2"


def _add_about(wb: Workbook, filename: str, preview: dict) -> None:
    ws = wb.create_sheet("About")
    append_safe(ws, ["File", filename])
    append_safe(ws, ["Sheet", preview.get("sheet")])
    shown = len(preview.get("errors") or ())
    # The preview keeps the first errors only; the count is of them all.
    append_safe(ws, ["Errors", preview.get("error_count") or shown])
    if preview.get("errors_not_shown"):
        append_safe(ws, ["Not listed", f"{preview['errors_not_shown']:,} more errors are not listed "
                                       f"here; fix these {shown:,} and upload again to see them."])
    append_safe(ws, ["What to do", "Fix each row listed on the 'Errors' sheet in your file, "
                                   "save it as .xlsx and upload it again for the same month."])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 90
    for row in ws.iter_rows(max_col=1):
        row[0].font = Font(bold=True)


def _add_how_to_fill(wb: Workbook) -> None:
    ws = wb.create_sheet(HELP_SHEET)
    for line in HOW_TO_FILL:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 110
    for row in ws.iter_rows(min_row=2, max_col=1):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")


def _style_header(ws) -> None:
    for cell in ws[1]:
        cell.fill = HEADER_FILL
        cell.font = HEADER_FONT
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 30


def _to_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
