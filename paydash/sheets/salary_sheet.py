"""Read a salary sheet into rows and a preview report (pure: bytes in, dataclasses out).

`read_salary_sheet(data)` makes one pass and returns a `SheetReport` (nothing kept per
row, so 100,000 rows fit in little memory; a `keep` callback may stage each valid row, as
the import does); `SalarySheet(data).rows()` yields each valid row as a dict keyed by
`SalaryRow` column names.

Values a sheet does not state are derived like this, and only like this:
- other_deductions, without its own column: PF + ESI + professional tax when the sheet has
  those columns, else 0.
- gross, without its own column: net + total deductions when the sheet has a total
  deductions column, else the fixed salary.
- total_deductions, without its own column: gross − net when the sheet has a gross column
  and that difference is not negative (everything between gross and net is a deduction,
  as in the tenant's template); otherwise the sum of the itemised deductions (TDS, advance,
  late deduction, other deductions), since pay added after gross is not a deduction.
- fixed_salary, without its own column: the gross.
"""
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal

from paydash.sheets.exports import HELP_SHEET
from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import QUIET_HEADERS
from paydash.sheets.headers import Column
from paydash.sheets.headers import header_score
from paydash.sheets.headers import map_columns
from paydash.sheets.headers import missing_minimum
from paydash.sheets.headers import normalise_header
from paydash.sheets.reader import SheetInfo
from paydash.sheets.reader import Workbook
from paydash.sheets.reader import WorkbookUnreadable
from paydash.sheets.rows import RowConverter
from paydash.sheets.rows import RowError
from paydash.sheets.values import is_blank
from paydash.sheets.values import money_text

Progress = Callable[[int, int], None]

PROGRESS_EVERY = 2000
MAX_ERRORS = 1000
MAX_SHEETS_SEARCHED = 50
HEADER_SEARCH_ROWS = 30
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
            "totals": {name: money_text(value) for name, value in self.totals.items()},
            "departments": dict(sorted(self.departments.items())),
            "warnings": self.warnings,
            "errors": [error.as_dict() for error in self.errors],
            "error_count": self.error_count,
            "errors_not_shown": self.error_count - len(self.errors),
            "duplicates": self.duplicates, "fatal": self.fatal,
            "check_warnings": self.check_warnings,
            "check_warning_count": self.check_warning_count,
            "rounding": self.rounding, "sheet_totals": self.sheet_totals,
        }


@dataclass
class _Header:
    sheet: SheetInfo
    row: int                # the header's sheet row number
    columns: list[Column]
    score: int

    @property
    def fields(self) -> set[str]:
        return {c.field for c in self.columns if c.field}


def read_salary_sheet(data: bytes, progress: Progress | None = None,
                      keep: Callable[[dict], None] | None = None) -> SheetReport:
    """Validate a workbook's salary sheet in one pass; each valid row goes to `keep`, if given.

    The report is complete only at the end: `keep` sees rows of a sheet that may still
    turn out to have errors, so what it kept counts only when `report.ok`.
    """
    sheet = SalarySheet(data, progress)
    for row in sheet.rows():
        if keep is not None:
            keep(row)
    return sheet.report


class SalarySheet:
    """One pass over the salary sheet of a workbook; `report` is complete once `rows()` ends."""

    def __init__(self, data: bytes, progress: Progress | None = None):
        self.data = data
        self.progress = progress
        self.report = SheetReport()

    def rows(self) -> Iterator[dict]:
        """Each valid row as a dict of SalaryRow columns plus `sheet_row`."""
        try:
            workbook = Workbook(self.data)
            header = self._choose_sheet(workbook)
            if header is not None:
                yield from self._data_rows(workbook, header)
        except WorkbookUnreadable as exc:
            self.report.fatal = exc.message

    def _data_rows(self, workbook: Workbook, header: _Header) -> Iterator[dict]:
        converter = RowConverter(header.columns, self.report)
        self._describe_mapping(header)
        stream = workbook.rows(header.sheet)
        done = 0
        for number, cells in stream:
            if number <= header.row:
                continue
            record = converter.convert(cells, number)
            if record is not None:
                yield record
            done += 1
            if self.progress and done % PROGRESS_EVERY == 0:
                self.progress(done, max(done, stream.estimate_rows() - header.row))
        if stream.uncached:
            self._uncached_formulas(header, stream.uncached, stream.first_uncached)
            return
        converter.finish()
        report = self.report
        if report.employee_count == 0 and report.error_count == 0:
            # Confirming an empty sheet would empty the month: that is never what HR means.
            report.fatal = (f"Sheet '{header.sheet.name}' has a header row (row {header.row}) but "
                            "no employee rows under it. Paste the salary rows under the header, "
                            "save, and upload again.")
        if self.progress:
            self.progress(done, done)

    def _uncached_formulas(self, header: _Header, count: int, first: str | None) -> None:
        """Fatal; the row errors go, since the empty cells they describe are its symptom."""
        report = self.report
        report.fatal = (
            f"Sheet '{header.sheet.name}' has {count:,} formula(s) whose results were never "
            f"calculated (the first is in cell {first}). This happens when a program, not "
            "Excel, wrote the file. Open it in Excel, save it, and upload it again.")
        report.errors.clear()
        report.error_count = 0

    def _choose_sheet(self, workbook: Workbook) -> _Header | None:
        """The first visible sheet with the minimum columns (or a fatal message)."""
        report = self.report
        if workbook.hidden:
            names = ", ".join(f"'{sheet.name}'" for sheet in workbook.hidden[:10])
            report.warnings.append(f"Hidden sheets were ignored: {names}.")
        if workbook.has_external_links:
            report.warnings.append("This workbook links to other files. Paydash used the values "
                                   "saved in this file and ignored the links.")
        best = None
        for sheet in workbook.visible[:MAX_SHEETS_SEARCHED]:
            header = _find_header(workbook, sheet)
            if header and not missing_minimum(header.fields):
                self._use(header, workbook.visible)
                return header
            if header and (best is None or header.score > best.score):
                best = header
        report.fatal = _no_sheet_message(best, workbook.visible, workbook.hidden)
        return None

    def _use(self, header: _Header, visible: list[SheetInfo]) -> None:
        report = self.report
        report.sheet = header.sheet.name
        report.header_row = header.row
        others = [sheet.name for sheet in visible if sheet is not header.sheet
                  and sheet.name.strip().casefold() != HELP_SHEET.casefold()]
        if others:
            names = ", ".join(f"'{name}'" for name in others[:10])
            report.warnings.append(f"Only sheet '{header.sheet.name}' was read; other sheets "
                                   f"were not imported: {names}.")

    def _describe_mapping(self, header: _Header) -> None:
        report, ignored = self.report, []
        for column in header.columns:
            spec = FIELDS.get(column.field) if column.field else None
            entry = {"column": column.letter, "header": column.header,
                     "field": ("extra" if spec.extra else spec.name) if spec else None,
                     "label": spec.label if spec else None}
            if spec and spec.extra:
                entry["key"] = spec.name
            report.mapping.append(entry)
            if column.duplicate_of:
                report.warnings.append(
                    f"Column '{column.header}' ({column.letter}) means the same as column "
                    f"{column.duplicate_of}, which was used; this one was ignored.")
            elif spec is None and normalise_header(column.header) not in QUIET_HEADERS:
                ignored.append(column)
        for column in ignored[:10]:
            report.warnings.append(f"Column '{column.header}' ({column.letter}) is not used by "
                                   "Paydash and was ignored.")
        if len(ignored) > 10:
            report.warnings.append(f"{len(ignored) - 10} more columns are not used by Paydash "
                                   "and were ignored.")


def _find_header(workbook: Workbook, sheet: SheetInfo) -> _Header | None:
    """The row among the first non-empty rows that names the most fields."""
    best, seen = None, 0
    for number, cells in workbook.rows(sheet):
        if all(is_blank(cell) for cell in cells):
            continue
        score = header_score(cells)
        if score >= 2 and (best is None or score > best[1]):
            best = (number, score, cells)
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        return None
    number, score, cells = best
    return _Header(sheet, number, map_columns(cells), score)


def _no_sheet_message(best: _Header | None, visible: list[SheetInfo],
                      hidden: list[SheetInfo]) -> str:
    unhide = ""
    if hidden:
        names = ", ".join(f"'{sheet.name}'" for sheet in hidden[:10])
        unhide = (f" Hidden sheets ({names}) are not read: if the salary rows are there, unhide "
                  "that sheet (right-click a sheet tab › Unhide), save, and upload again.")
    if not visible:
        return ("This workbook has no visible sheet. Unhide the salary sheet in Excel "
                "(right-click a sheet tab › Unhide), save, and upload it again.")
    if best is None:
        return ("No header row was found: Paydash looks for a row naming columns such as "
                "'Emp Code', 'Name', 'Gross' and 'Net Pay' in the first rows of each visible "
                "sheet. Add such a header row above the data, or download the template." + unhide)
    missing = "; ".join(missing_minimum(best.fields))
    return (f"Sheet '{best.sheet.name}' (header in row {best.row}) lacks {missing}. "
            "Add or rename the column, or download the template." + unhide)
