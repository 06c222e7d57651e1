"""Which sheets of a workbook hold the month's salary table, and where their headers are (pure).

Every sheet is searched for a header row; the sheets whose columns meet the minimum and
share the first one's layout are read as one month (staff split per branch or site, some
sheets hidden). Sheets named as specifications or masters, sheets without a salary table
and sheets of another layout are skipped, and the report says which and why.
"""
import re
from dataclasses import dataclass
from decimal import Decimal

from paydash.sheets.columns import recognise_header
from paydash.sheets.headers import HELP_SHEET
from paydash.sheets.plan import DEDUCTION_PARTS
from paydash.sheets.plan import Plan
from paydash.sheets.plan import layout_signature
from paydash.sheets.plan import plan_columns
from paydash.sheets.reader import SheetInfo
from paydash.sheets.reader import Workbook
from paydash.sheets.values import NotANumber
from paydash.sheets.values import is_blank
from paydash.sheets.values import to_decimal

MAX_SHEETS_SEARCHED = 50
HEADER_SEARCH_ROWS = 30
SAMPLE_ROWS = 50
NOT_A_MONTH = re.compile(r"spec|master|setting|instruction|read ?me|lookup|summary|template|"
                         r"format|rates?\b|list\b|help|notes?\b", re.IGNORECASE)


@dataclass
class SheetTable:
    """A sheet's header row, its first data rows and the column plan made from them."""

    sheet: SheetInfo
    row: int
    header_cells: list
    samples: list[list]
    plan: Plan
    score: int

    def describe(self, employees: int) -> dict:
        return {"sheet": self.sheet.name, "hidden": not self.sheet.visible,
                "header_row": self.row, "signature": self.plan.signature,
                "employees": employees, "mapping": self.plan.as_list(), "notes": self.plan.notes}

    def missing(self) -> list[str]:
        """What the table lacks of the minimum: a code or name, and net pay."""
        fields, missing = self.plan.fields, []
        if not fields & {"employee_code", "employee_name"}:
            missing.append("an employee code or name column (e.g. 'Emp Code' or 'Name')")
        if "net" not in fields:
            missing.append("a net pay column (e.g. 'Net Pay', 'Take home' or 'NETT PAYABLE')")
        deductions = fields & {"total_deductions", *DEDUCTION_PARTS}
        # Without gross, fixed salary or deductions the month imports with gross unknown
        # (issue 15, see rows.GROSS_UNKNOWN); basic pay below net is still never the gross.
        if "fixed_salary" in fields and "gross" not in fields and not deductions and "net" in fields:
            below = self._fixed_below_net()
            if below:
                missing.append(below)
        return missing

    def _fixed_below_net(self) -> str | None:
        """Basic pay is never the gross: a 'fixed salary' below net pay is not one."""
        columns = {c.field: c for c in self.plan.columns if c.field}
        fixed, net = columns["fixed_salary"], columns["net"]
        pairs = [(_number(row, fixed.position), _number(row, net.position)) for row in self.samples]
        pairs = [(f, n) for f, n in pairs if f is not None and n is not None]
        below = sum(f < n for f, n in pairs)
        if pairs and below * 2 > len(pairs):
            return (f"a gross column: column {fixed.letter} ('{fixed.header}') is below net pay "
                    f"on {below} of {len(pairs)} rows, so it cannot be the gross (it looks like "
                    "basic pay); choose the gross or total deductions column")
        return None


def choose_tables(workbook: Workbook, report, layouts: dict) -> list[SheetTable]:
    """The tables to import as one month (first the main one), or [] with `report.fatal` set."""
    if workbook.has_external_links:
        report.warnings.append("This workbook links to other files. Paydash used the values "
                               "saved in this file and ignored the links.")
    usable, refused = [], []
    for sheet in workbook.sheets[:MAX_SHEETS_SEARCHED]:
        table = find_table(workbook, sheet, layouts)
        if table is None:
            # Paydash's own template carries a help sheet: known, so not worth a warning.
            if sheet.visible and sheet.name.strip().casefold() != HELP_SHEET.casefold():
                _skip(report, sheet, "no header row naming salary columns")
            continue
        missing = table.missing()
        if missing:
            refused.append((table, missing))
            _skip(report, sheet, "it lacks " + "; ".join(missing))
        elif NOT_A_MONTH.search(sheet.name) and not _wanted(table, layouts):
            _skip(report, sheet, "its name says it is a specification, master or summary, "
                                 "not a month's pay")
        else:
            usable.append(table)
    main = next((t for t in usable if t.sheet.visible), None)
    if main is None:
        # A hidden sheet alone is kept out of sight on purpose (an old month, a draft).
        report.skipped_sheets.clear()
        _refuse(report, workbook, [r for r in refused if r[0].sheet.visible])
        return []
    same = [t for t in usable if t.plan.signature == main.plan.signature]
    if not (layouts.get(main.plan.signature) or {}).get("all_sheets"):
        # Tabs of one layout may be branches of this month or earlier months: HR says which.
        report.sheet_offer = [{"sheet": t.sheet.name, "hidden": not t.sheet.visible}
                              for t in same if t is not main]
        same = [main]
    _explain(report, workbook, main, same, [t for t in usable if t not in same
                                            and t.plan.signature != main.plan.signature])
    return same


def _wanted(table: SheetTable, layouts: dict) -> bool:
    return table.plan.signature in layouts


def _skip(report, sheet: SheetInfo, reason: str) -> None:
    report.skipped_sheets.append({"sheet": sheet.name, "hidden": not sheet.visible,
                                  "reason": reason})


def _explain(report, workbook: Workbook, main: SheetTable, same: list, other: list) -> None:
    report.sheet = main.sheet.name
    report.header_row = main.row
    report.mapping = main.plan.as_list()
    report.warnings.extend(main.plan.notes)
    if len(same) > 1:
        names = ", ".join(f"'{t.sheet.name}'" + (" (hidden)" if not t.sheet.visible else "")
                          for t in same)
        report.warnings.append(f"Sheets {names} share one layout and were read as one month.")
    for table in other:
        _skip(report, table.sheet, f"its columns differ from sheet '{main.sheet.name}'; "
                                   "only one layout is read per month")
    offered = [o["sheet"] for o in report.sheet_offer]
    if offered:
        names = ", ".join(f"'{name}'" for name in offered[:10])
        report.warnings.append(f"Only sheet '{main.sheet.name}' was read. Sheets {names} have the "
                               "same layout: if they hold more staff of this month (a branch or "
                               "site each), choose 'Read all these sheets as one month'.")
    read = {t.sheet.name for t in same}
    hidden = [s.name for s in workbook.hidden if s.name not in read]
    if hidden:
        names = ", ".join(f"'{name}'" for name in hidden[:10])
        report.warnings.append(f"Hidden sheets were ignored: {names}.")
    for skipped in report.skipped_sheets:
        report.warnings.append(f"Sheet '{skipped['sheet']}' was not imported: {skipped['reason']}.")
    _ignored_columns(report, main)


def _ignored_columns(report, table: SheetTable) -> None:
    ignored = [e for e in table.plan.entries if not e.column.field and e.confidence is None
               and e.reason != "a serial number or signature column"]
    for entry in ignored[:10]:
        report.warnings.append(f"Column '{entry.column.header}' ({entry.column.letter}) is not "
                               "used by Paydash and was ignored.")
    if len(ignored) > 10:
        report.warnings.append(f"{len(ignored) - 10} more columns are not used by Paydash "
                               "and were ignored.")


def _refuse(report, workbook: Workbook, refused: list) -> None:
    unhide = ""
    if workbook.hidden:
        names = ", ".join(f"'{sheet.name}'" for sheet in workbook.hidden[:10])
        unhide = (f" Hidden sheets ({names}) are not read on their own: if the salary rows are "
                  "there, unhide that sheet (right-click a sheet tab › Unhide), save, and upload "
                  "again.")
    if not workbook.visible:
        report.fatal = ("This workbook has no visible sheet. Unhide the salary sheet in Excel "
                        "(right-click a sheet tab › Unhide), save, and upload it again.")
        return
    if not refused:
        report.fatal = ("No header row was found: Paydash looks for a row naming columns such "
                        "as 'Emp Code', 'Name', 'Gross' and 'Net Pay' in the first rows of each "
                        "visible sheet. Add such a header row above the data, or download the "
                        "template." + unhide)
        return
    best, missing = max(refused, key=lambda item: item[0].score)
    report.sheet, report.header_row = best.sheet.name, best.row
    report.mapping = best.plan.as_list()
    entry = best.describe(0)
    entry["refused"] = True
    report.sheets.append(entry)
    report.fatal = (f"Sheet '{best.sheet.name}' (header in row {best.row}) lacks "
                    f"{'; '.join(missing)}. If the sheet has that column under another name, "
                    "choose it in the table 'How each column was understood' and check again; "
                    "otherwise add the column, or download the template." + unhide)


def find_table(workbook: Workbook, sheet: SheetInfo, layouts: dict) -> SheetTable | None:
    """The row among the first non-empty rows that names the most fields, and its plan."""
    seen, best, buffered = 0, None, []
    for number, cells in workbook.rows(sheet):
        if all(is_blank(cell) for cell in cells):
            continue
        seen += 1
        if seen <= HEADER_SEARCH_ROWS:
            score = header_score(cells)
            if score >= 2 and (best is None or score > best[1]):
                best = (number, score, cells)
        buffered.append((number, cells))
        if seen >= HEADER_SEARCH_ROWS + SAMPLE_ROWS:
            break
    if best is None:
        best = _plain_header(buffered)
    if best is None:
        return None
    number, score, cells = best
    samples = [row for n, row in buffered if n > number][:SAMPLE_ROWS]
    chosen = layouts.get(layout_signature(cells)) or {}
    plan = plan_columns(cells, samples, chosen.get("mapping"), chosen.get("chosen_by", "yours"))
    return SheetTable(sheet, number, cells, samples, plan, score)


def _plain_header(buffered: list) -> tuple | None:
    """A header in words Paydash does not know: a row of 3+ texts over rows holding numbers.

    Found so HR can map its columns by hand instead of hearing only "no header row".
    """
    for index, (number, cells) in enumerate(buffered[:HEADER_SEARCH_ROWS]):
        texts = [c for c in cells if not is_blank(c)]
        if len(texts) < 3 or not all(isinstance(c, str) for c in texts):
            continue
        below = [row for _, row in buffered[index + 1:index + 4]]
        if below and all(_person_like(row) for row in below):
            return number, header_score(cells), cells
    return None


def _person_like(row: list) -> bool:
    """A row holding some text (a name or code) and some numbers (pay)."""
    filled = [i for i, cell in enumerate(row) if not is_blank(cell)]
    numbers = sum(1 for i in filled if _number(row, i) is not None)
    return 1 <= numbers < len(filled)


def header_score(cells: list) -> int:
    """How many different fields the text cells of a row name."""
    fields = set()
    for cell in cells:
        if isinstance(cell, str) and cell.strip() and len(cell) <= 80:
            field = recognise_header(cell).field
            if field:
                fields.add(field)
    return len(fields)


def _number(row: list, position: int) -> Decimal | None:
    try:
        return to_decimal(row[position] if position < len(row) else "")
    except NotANumber:
        return None
