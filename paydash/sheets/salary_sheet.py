"""Read a salary sheet into rows and a preview report (pure: bytes in, dataclasses out).

Which sheets and header rows are read is `selection`; what each column is, `plan`; where
the table ends, `tables`. Several sheets of one layout are read as one month when HR
asked for it for that layout; their rows share one converter, so ids are checked across
sheets.

`read_salary_sheet(data)` makes one pass and returns a `SheetReport` (nothing kept per
row, so 100,000 rows fit in little memory; a `keep` callback may stage each valid row, as
the import does); `SalarySheet(data).rows()` yields each valid row as a dict keyed by
`SalaryRow` column names.

Values a sheet does not state are derived like this, and only like this:
- other_deductions, without its own column: PF + ESI + professional tax when the sheet has
  those columns, else 0.
- gross, without its own column: net + total deductions when the sheet has a total
  deductions column, else net + the itemised deductions when it has any deduction column,
  else the fixed salary (a sheet whose fixed salary is below net pay is refused: that is
  basic pay, never the gross; see `selection.SheetTable.missing`); with none of these,
  unknown (None, with a warning that says so: `rows.GROSS_UNKNOWN`).
- total_deductions, without its own column: gross − net when the sheet has a gross column
  and that difference is not negative (everything between gross and net is a deduction,
  as in the tenant's template); otherwise the sum of the itemised deductions (TDS, advance,
  late deduction, other deductions), since pay added after gross is not a deduction.
- fixed_salary, without its own column: the gross (0 when the gross is unknown).
"""
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal

from paydash.sheets.reader import Package
from paydash.sheets.reader import Workbook
from paydash.sheets.reader import WorkbookUnreadable
from paydash.sheets.rows import UNASSIGNED
from paydash.sheets.rows import RowConverter
from paydash.sheets.rows import RowError
from paydash.sheets.selection import SheetTable
from paydash.sheets.selection import choose_tables
from paydash.sheets.tables import TableEdge
from paydash.sheets.values import money_text

Progress = Callable[[int, int], None]

PROGRESS_EVERY = 2000
MAX_ERRORS = 1000
TOTAL_FIELDS = ("gross", "net", "fixed_salary", "total_deductions")


@dataclass
class SheetReport:
    """What a pass over a salary sheet found; `as_preview()` is Upload.preview."""

    sheet: str | None = None
    header_row: int | None = None
    data_rows: int = 0
    mapping: list[dict] = dataclass_field(default_factory=list)
    employee_count: int = 0
    totals: dict[str, Decimal] = dataclass_field(
        default_factory=lambda: {name: Decimal(0) for name in TOTAL_FIELDS})
    departments: dict[str, int] = dataclass_field(default_factory=dict)
    warnings: list[str] = dataclass_field(default_factory=list)
    errors: list[RowError] = dataclass_field(default_factory=list)
    error_count: int = 0
    duplicates: list[dict] = dataclass_field(default_factory=list)
    fatal: str | None = None
    # Issue 14: rows HR must acknowledge, and how the totals compare with the sheet's own.
    check_warnings: list[dict] = dataclass_field(default_factory=list)
    check_warning_count: int = 0
    exact_totals: dict[str, Decimal] = dataclass_field(
        default_factory=lambda: {"gross": Decimal(0), "net": Decimal(0)})
    rounding: list[dict] = dataclass_field(default_factory=list)
    sheet_totals: list[dict] = dataclass_field(default_factory=list)
    sheets: list[dict] = dataclass_field(default_factory=list)       # per sheet: mapping, left out
    skipped_sheets: list[dict] = dataclass_field(default_factory=list)
    sheet_offer: list[dict] = dataclass_field(default_factory=list)  # same layout, not read

    @property
    def ok(self) -> bool:
        """No fatal problem and no row errors (duplicates are HR's call, not errors)."""
        return self.fatal is None and self.error_count == 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    def as_preview(self) -> dict:
        """The JSON-ready preview (money as exact 2-place strings)."""
        return {
            "sheet": self.sheet, "header_row": self.header_row, "data_rows": self.data_rows,
            "mapping": self.mapping, "employee_count": self.employee_count,
            "totals": {name: None if value is None else money_text(value)
                       for name, value in self.totals.items()},
            "departments": dict(sorted(self.departments.items())),
            "warnings": self.warnings,
            "errors": [error.as_dict() for error in self.errors],
            "error_count": self.error_count,
            "errors_not_shown": self.error_count - len(self.errors),
            "duplicates": self.duplicates, "fatal": self.fatal,
            "check_warnings": self.check_warnings,
            "check_warning_count": self.check_warning_count,
            "rounding": self.rounding, "sheet_totals": self.sheet_totals,
            "sheets": self.sheets, "skipped_sheets": self.skipped_sheets,
            "sheet_offer": self.sheet_offer,
            "left_out_count": sum(sheet.get("left_out_count", 0) for sheet in self.sheets),
        }

def read_salary_sheet(data: "bytes | Package", progress: Progress | None = None,
                      keep: Callable[[dict], None] | None = None,
                      layouts: dict | None = None) -> SheetReport:
    """Validate a workbook's salary sheet(s) in one pass; each valid row goes to `keep`, if given.

    The report is complete only at the end: `keep` sees rows of a sheet that may still
    turn out to have errors, so what it kept counts only when `report.ok`. `layouts` maps
    a layout signature to the column choices HR made for it (see `layout.choose_tables`).
    """
    sheet = SalarySheet(data, progress, layouts)
    for row in sheet.rows():
        if keep is not None:
            keep(row)
    return sheet.report


class SalarySheet:
    """One pass over the salary sheet(s) of a workbook; `report` is complete once `rows()` ends."""

    def __init__(self, data: "bytes | Package", progress: Progress | None = None,
                 layouts: dict | None = None):
        self.data = data
        self.progress = progress
        self.layouts = layouts or {}
        self.report = SheetReport()
        self.done = 0

    def rows(self) -> Iterator[dict]:
        """Each valid row as a dict of SalaryRow columns plus `sheet_row`."""
        try:
            workbook = Workbook(self.data)
            tables = choose_tables(workbook, self.report, self.layouts)
            if not tables:
                return
            converter = RowConverter(tables[0].plan.columns, self.report)
            by_sheet = len(tables) > 1 and "department" not in tables[0].plan.fields
            for table in tables:
                errors_before = len(self.report.errors)
                yield from self._data_rows(workbook, table, converter, by_sheet)
                if self.report.fatal:
                    return
                if len(tables) > 1:
                    _name_sheet(self.report.errors[errors_before:], table.sheet.name)
            self._finish(converter, tables)
        except WorkbookUnreadable as exc:
            self.report.fatal = exc.message

    def _data_rows(self, workbook: Workbook, table: SheetTable, converter: RowConverter,
                   by_sheet: bool) -> Iterator[dict]:
        edge = TableEdge(table.sheet.name, table.plan.columns, table.samples, table.row,
                         memo=converter.cells)
        report, before = self.report, self.report.employee_count
        stream = workbook.rows(table.sheet)
        for number, cells in stream:
            if number <= table.row or not edge.belongs(number, cells):
                continue
            record = converter.convert(cells, number)
            if record is not None:
                if by_sheet and record["department"] == UNASSIGNED:
                    self._move_department(record, table.sheet.name)
                yield record
            self.done += 1
            if self.progress and self.done % PROGRESS_EVERY == 0:
                self.progress(self.done, max(self.done, stream.estimate_rows() - table.row))
        if stream.uncached:
            self._uncached_formulas(table, stream.uncached, stream.first_uncached)
            return
        entry = table.describe(report.employee_count - before)
        entry["left_out"] = [item.as_dict() for item in edge.left_out]
        entry["left_out_count"] = edge.count
        report.sheets.append(entry)
        if edge.count:
            report.warnings.append(
                f"{edge.count} row(s) of sheet '{table.sheet.name}' are not employees and were "
                "left out (listed with the reasons under 'Rows left out').")

    def _move_department(self, record: dict, sheet_name: str) -> None:
        """Several sheets, no department column: the sheet's name is the department."""
        departments = self.report.departments
        departments[UNASSIGNED] -= 1
        if not departments[UNASSIGNED]:
            del departments[UNASSIGNED]
        record["department"] = sheet_name[:120]
        departments[record["department"]] = departments.get(record["department"], 0) + 1

    def _finish(self, converter: RowConverter, tables: list[SheetTable]) -> None:
        converter.finish()
        report = self.report
        if report.employee_count == 0 and report.error_count == 0:
            # Confirming an empty sheet would empty the month: that is never what HR means.
            first = tables[0]
            report.fatal = (f"Sheet '{first.sheet.name}' has a header row (row {first.row}) but "
                            "no employee rows under it. Paste the salary rows under the header, "
                            "save, and upload again.")
        if self.progress:
            self.progress(self.done, self.done)

    def _uncached_formulas(self, table: SheetTable, count: int, first: str | None) -> None:
        """Fatal; the row errors go, since the empty cells they describe are its symptom."""
        report = self.report
        report.fatal = (
            f"Sheet '{table.sheet.name}' has {count:,} formula(s) whose results were never "
            f"calculated (the first is in cell {first}). This happens when a program, not "
            "Excel, wrote the file. Open it in Excel, save it, and upload it again.")
        report.errors.clear()
        report.error_count = 0


def _name_sheet(errors: list[RowError], sheet_name: str) -> None:
    """Several sheets share row numbers: each error says which sheet its row is on."""
    for error in errors:
        error.message = f"Sheet '{sheet_name}': {error.message}"
