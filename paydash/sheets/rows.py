"""Check and convert the data rows of a salary sheet, one at a time (pure).

The converter keeps only what the report needs across rows (totals, departments, who
was seen under which code), never the rows themselves, so memory does not grow with
the number of columns a sheet has.
"""
from array import array
from dataclasses import dataclass
from decimal import Decimal

from paydash.sheets import checks
from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import OTHER_DEDUCTION_PARTS
from paydash.sheets.headers import Column
from paydash.sheets.headers import field_for_header
from paydash.sheets.headers import is_total_text
from paydash.sheets.values import NotANumber
from paydash.sheets.values import grouped
from paydash.sheets.values import is_blank
from paydash.sheets.values import money_text
from paydash.sheets.values import round_paisa
from paydash.sheets.values import shown
from paydash.sheets.values import to_decimal
from paydash.sheets.values import to_exact
from paydash.sheets.values import to_text

ZERO = Decimal(0)
UNASSIGNED = "Unassigned"
NUMBER_FIELDS = [name for name, spec in FIELDS.items() if spec.kind != "text" and not spec.extra]
OPTIONAL_NUMBERS = ("paid_days", "absent_days")   # unknown stays unknown (NULL)
# What a blank (or absent) stored number becomes.
_BLANK_NUMBERS = [(name, None if name in OPTIONAL_NUMBERS else Decimal(0)) for name in NUMBER_FIELDS]
ITEMISED_DEDUCTIONS = ("tds", "advance", "late_deduction", "other_deductions")
DEDUCTION_COLUMNS = {*ITEMISED_DEDUCTIONS, *OTHER_DEDUCTION_PARTS}
MAX_LISTED_ROWS = 20
MAX_CHECK_WARNINGS = 1000
CENT = Decimal("0.01")
HALF_PAISA = Decimal("0.005")
# Sums of the cells as the sheet holds them (unrounded), to explain the paisa rounding.
EXACT_FIELDS = ("gross", "net")
GROSS_UNKNOWN = ("This sheet has no gross pay: no gross column, and no fixed salary or deductions "
                 "to work it out from net pay. The month imports with gross pay unknown: the "
                 "dashboard shows gross as 'not in the sheet' for it, and leaves it out of gross "
                 "totals and comparisons. To show gross, add a gross or total deductions column.")


@dataclass
class RowError:
    """One cell (or row) HR must fix, with where to find it."""

    row: int
    column: str | None
    header: str | None
    value: str | None
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "header": self.header,
                "value": self.value, "message": self.message}


class RowConverter:
    """Turns sheet rows into SalaryRow dicts and adds what it sees to a SheetReport."""

    def __init__(self, columns: list[Column], report):
        self.report = report
        by_field = {c.field: c for c in columns if c.field}
        self.present = set(by_field)
        # Issue 15: net pay alone says nothing of the gross; it is stored as unknown (NULL).
        self.gross_unknown = gross_is_unknown(self.present)
        if self.gross_unknown:
            report.totals["gross"] = None
            report.warnings.append(GROSS_UNKNOWN)
        self.code = by_field.get("employee_code")
        self.name = by_field.get("employee_name")
        self.department = by_field.get("department")
        self.designation = by_field.get("designation")
        self.net = by_field.get("net")
        self.numbers = [by_field[n] for n in NUMBER_FIELDS if n in by_field]
        self.extras = [c for c in by_field.values() if FIELDS[c.field].extra]
        self.headers = {c.field: c.header for c in columns if c.field}
        self.exact_columns = [by_field[n] for n in EXACT_FIELDS if n in by_field]
        # (column, field, position, limit) for the stored numbers and the kept ones.
        self.number_plan = [(c, c.field, c.position, FIELDS[c.field].limit) for c in self.numbers]
        self.extra_plan = [(c, c.field, c.position, FIELDS[c.field].limit) for c in self.extras]
        self.numbers_by_field = {c.field: c for c in self.numbers + self.extras}
        self.row_checks = checks.RowChecks(self.present, self.headers)
        # "Plain" values: not negative and within every column's limit (see _numbers).
        self.cells = CellMemo(plain_limit=min(
            (limit for *_, limit in self.number_plan + self.extra_plan), default=None))
        # Who was seen under which key, for the duplicate check: the one structure that grows
        # with the sheet (a fifth of validation's memory at 100,000 rows), so it is kept
        # compact. The key is the folded code (or "name:" + folded name), the code's own text
        # where folding leaves it as it is; the value indexes each key's first row, name
        # and key text in an array and two lists, not a tuple per person.
        self.seen: dict[str, int] = {}
        self._first_rows = array("q")
        self._first_names: list[str] = []
        self._first_bases: list[str] = []
        self.groups: dict[str, list[dict]] = {}
        self.total_rows: list[tuple[int, dict]] = []
        self.notes_after_total: list[int] = []
        self.repeated_headers: list[int] = []
        self.shortened = 0

    def convert(self, cells: list, sheet_row: int) -> dict | None:
        """The row as a dict ready to store, or None (blank, total, note or in error)."""
        if not cells or is_blank(cells[0]) and all(is_blank(cell) for cell in cells):
            return None
        code = self._text(cells, self.code)
        name = self._text(cells, self.name)
        if self._is_total(cells, code, name):
            self.total_rows.append((sheet_row, self._numbers_quietly(cells)))
            return None
        if self.net and field_for_header(_cell(cells, self.net)) == "net":
            self.repeated_headers.append(sheet_row)
            return None
        if self.total_rows and not (code and name) and is_blank(_cell(cells, self.net)):
            # Notes under the TOTAL row ("Prepared by ..."): not people.
            self.notes_after_total.append(sheet_row)
            return None
        record, ok, not_negative = self._numbers(cells, sheet_row, self.number_plan)
        extra, extra_ok, extra_not_negative = self._numbers(cells, sheet_row, self.extra_plan)
        self.report.data_rows += 1
        ok = self._identity(sheet_row, code, name, record) and ok and extra_ok
        if not ok:
            return None
        self._complete(record, extra, cells, code, name, sheet_row)
        if not self._check(record, extra, sheet_row, not_negative and extra_not_negative):
            return None
        self._count(record, sheet_row, cells)
        record["sheet_row"] = sheet_row
        return record

    # --- Cells --------------------------------------------------------------------------

    @staticmethod
    def _text(cells: list, column: Column | None) -> str:
        return to_text(_cell(cells, column)) if column else ""

    def _is_total(self, cells: list, code: str, name: str) -> bool:
        if code or name:
            return looks_like_total(code) or looks_like_total(name)
        first = next((cell for cell in cells if not is_blank(cell)), "")
        return is_total_text(first)

    def _numbers(self, cells: list, sheet_row: int, plan: list[tuple]) -> tuple[dict, bool, bool]:
        """Every money or quantity column, stored or kept, as a Decimal (blank: None); whether
        all are valid; whether none is below zero.

        Each distinct cell value goes through `to_decimal` once (`CellMemo`): a sheet repeats
        most of its values, and a remembered value is the very Decimal `to_decimal` gave. A
        remembered plain value (not negative, within every limit) needs no range check.

        Issue 18: the row checks look for negative amounts among the sheet's own number
        columns only, and at that point those hold what this returns (a blank becomes 0 or
        stays None; `_derive` fills only columns the sheet lacks). So a row where this found
        no value below zero needs no such look (`RowChecks.check(not_negative=True)`); plain
        values are never below zero, the others are compared here.
        """
        record, ok, not_negative = {}, True, True
        plain, memo, size = self.cells.plain_memo, self.cells.rounded_memo, len(cells)
        last, last_number = self.cells.last_cell, self.cells.last_rounded
        for column, field, position, limit in plan:
            value = cells[position] if position < size else ""
            cls = value.__class__
            # CellMemo.rounded, inline: this loop runs for every number cell of the sheet.
            if cls is float or cls is int or cls is str:
                number = plain.get(value)
                if number is not None:
                    record[field] = number
                    continue
                number = memo.get(value)
            else:
                number = None
            if number is None:
                if value is last:
                    # The very cell the table's edge parsed (`CellMemo.decimal`), once the
                    # memo is full: the same object of an immutable class, the same Decimal.
                    number = last_number
                elif is_blank(value):
                    record[field] = None
                    continue
                else:
                    try:
                        number = to_decimal(value)
                    except NotANumber as exc:
                        text = shown(exc.shown)
                        self._error(sheet_row, column, text,
                                    f"Row {sheet_row}, column '{column.header}': '{text}' is not "
                                    "a number. Type the amount as digits, e.g. 12500.")
                        ok = False
                        continue
                self.cells.remember_rounded(value, number)
            if number < 0:
                not_negative = False
            if abs(number) > limit:
                self._error(sheet_row, column, shown(value),
                            f"Row {sheet_row}, column '{column.header}': {grouped(number)} is "
                            "too large to be right. Check the cell.")
                ok = False
                continue
            record[field] = number
        return record, ok, not_negative

    def _numbers_quietly(self, cells: list) -> dict:
        values = {}
        for column in self.numbers:
            try:
                values[column.field] = to_exact(_cell(cells, column))
            except NotANumber:
                pass
        return values

    def _identity(self, sheet_row: int, code: str, name: str, record: dict) -> bool:
        if not code and not name:
            self._error(sheet_row, None, None,
                        f"Row {sheet_row} has pay figures but no employee code or name. "
                        "Fill them in, or delete the row.")
            return False
        if len(code) > FIELDS["employee_code"].limit:
            self._error(sheet_row, self.code, shown(code),
                        f"Row {sheet_row}, column '{self.code.header}': the employee code is "
                        f"longer than {FIELDS['employee_code'].limit} characters.")
            return False
        if self.net and "net" in record and record["net"] is None:
            self._error(sheet_row, self.net, "",
                        f"Row {sheet_row}, column '{self.net.header}' is empty. Enter the net "
                        "pay (0 when nothing is paid).")
            return False
        return True

    def _error(self, sheet_row, column: Column | None, value, message: str) -> None:
        self.report.add_error(RowError(sheet_row, column.letter if column else None,
                                       column.header if column else None, value, message))

    # --- A valid row ----------------------------------------------------------------------

    def _complete(self, record: dict, extra: dict, cells: list, code: str, name: str,
                  sheet_row: int) -> None:
        for field, blank in _BLANK_NUMBERS:
            if record.get(field) is None:
                record[field] = blank
        # `extra` keeps its blank (None) cells: `_derive` and the row checks only use values
        # that are Decimals, so a None there is the same as no key; the stored dict drops them.
        self._derive(record, extra)
        texts = self.cells.money_text
        record["employee_code"] = code or None
        record["employee_name"] = self._fit(name, self.name, sheet_row)
        department = self._fit(self._text(cells, self.department), self.department, sheet_row)
        record["department"] = department or UNASSIGNED
        designation = self._fit(self._text(cells, self.designation), self.designation, sheet_row)
        record["designation"] = designation or None
        # Kept columns are numbers like the stored ones: exact 2-place text in JSON.
        record["extra"] = {key: texts(v) for key, v in extra.items() if v is not None} or None

    def _fit(self, text: str, column: Column | None, sheet_row: int) -> str:
        """Text cut to what its column stores, with a warning (HR's data is never cut silently)."""
        if column is None:
            return text
        limit = FIELDS[column.field].limit
        if len(text) <= limit:
            return text
        self.shortened += 1
        if self.shortened <= MAX_LISTED_ROWS:
            self.report.warnings.append(
                f"Row {sheet_row}, column '{column.header}': the text is {len(text):,} characters "
                f"long; Paydash keeps the first {limit}. Shorten it in the sheet if that cuts "
                "something that matters.")
        return text[:limit]

    def _check(self, record: dict, extra: dict, sheet_row: int,
               not_negative: bool = False) -> bool:
        """Errors fail the row; warnings are listed for HR to acknowledge before Confirm."""
        report, ok = self.report, True
        for finding in self.row_checks.check(record, extra, sheet_row, not_negative=not_negative):
            column = self.numbers_by_field.get(finding.field)
            if finding.severity == checks.ERROR:
                self._error(sheet_row, column, _amount(finding.amount), finding.message)
                ok = False
                continue
            report.check_warning_count += 1
            if len(report.check_warnings) < MAX_CHECK_WARNINGS:
                report.check_warnings.append({
                    "row": sheet_row, "code": record.get("employee_code"),
                    "name": record.get("employee_name"), "kind": finding.kind,
                    "column": column.letter if column else None,
                    "amount": _amount(finding.amount), "message": finding.message})
        return ok

    def _derive(self, record: dict, extra: dict) -> None:
        """Fill what the sheet does not state (the rules are in paydash/sheets.py)."""
        present = self.present
        if "other_deductions" not in present:
            parts = [extra[k] for k in OTHER_DEDUCTION_PARTS if isinstance(extra.get(k), Decimal)]
            record["other_deductions"] = sum(parts, ZERO)
        if "gross" not in present:
            if "total_deductions" in present:
                record["gross"] = record["net"] + record["total_deductions"]
            elif present & DEDUCTION_COLUMNS:
                # Never the fixed salary (often basic pay) when the deductions say more.
                record["gross"] = record["net"] + sum((record[k] for k in ITEMISED_DEDUCTIONS), ZERO)
            elif self.gross_unknown:
                record["gross"] = None
            else:
                record["gross"] = record["fixed_salary"]
        if "total_deductions" not in present:
            if "gross" in present and record["gross"] - record["net"] >= 0:
                record["total_deductions"] = record["gross"] - record["net"]
            else:
                record["total_deductions"] = sum((record[k] for k in ITEMISED_DEDUCTIONS), ZERO)
        if "fixed_salary" not in present and record["gross"] is not None:
            record["fixed_salary"] = record["gross"]

    def _count(self, record: dict, sheet_row: int, cells: list) -> None:
        report = self.report
        report.employee_count += 1
        totals = report.totals
        for name in totals:
            if totals[name] is not None:
                totals[name] += record[name]
        for column in self.exact_columns:
            # Already parsed once without error, so this cannot raise.
            report.exact_totals[column.field] += self.cells.exact(_cell(cells, column)) or ZERO
        department = record["department"]
        report.departments[department] = report.departments.get(department, 0) + 1
        record["employee_key"] = self._key(record, sheet_row)

    def _key(self, record: dict, sheet_row: int) -> str:
        """The code (or name), with "#2", "#3"... for the second and later rows using it."""
        code, name = record["employee_code"], record["employee_name"]
        base = code or name[:70]
        if code:
            folded = code.upper()
            if folded == code:
                folded = code   # one string, not two equal ones, kept for the whole sheet
        else:
            folded = "name:" + name.casefold()
        first = self.seen.get(folded)
        if first is None:
            self.seen[folded] = len(self._first_names)
            self._first_rows.append(sheet_row)
            self._first_names.append(name)
            self._first_bases.append(base)
            return base
        group = self.groups.get(folded)
        if group is None:
            group = self.groups[folded] = [{"row": self._first_rows[first],
                                            "name": self._first_names[first]}]
        group.append({"row": sheet_row, "name": name})
        return f"{base}#{len(group)}"

    # --- After the last row -------------------------------------------------------------

    def finish(self) -> None:
        """Add the duplicates and the warnings that need the whole sheet."""
        report = self.report
        for folded, rows in self.groups.items():
            names = {row["name"].casefold() for row in rows}
            report.duplicates.append({"code": self._first_bases[self.seen[folded]], "rows": rows,
                                      "same_name": len(names) == 1})
        if self.total_rows:
            rows = _listed(r for r, _ in self.total_rows)
            report.warnings.append(f"{rows} looks like a TOTAL row and was skipped."
                                   if len(self.total_rows) == 1 else
                                   f"{rows} look like TOTAL rows and were skipped.")
        if len(self.total_rows) == 1 and report.error_count == 0:
            self._check_total(*self.total_rows[0])
        self._explain_rounding()
        if self.shortened > MAX_LISTED_ROWS:
            report.warnings.append(f"{self.shortened - MAX_LISTED_ROWS} more cells were longer "
                                   "than Paydash stores and were shortened.")
        if self.repeated_headers:
            report.warnings.append(f"{_listed(self.repeated_headers)} repeat the header and "
                                   "were skipped.")
        if self.notes_after_total:
            report.warnings.append(f"{_listed(self.notes_after_total)} below the TOTAL row have "
                                   "no pay figures and were taken as notes.")

    def _check_total(self, sheet_row: int, stated: dict) -> None:
        """Compare the sheet's own TOTAL row with what will be stored: match or mismatch.

        It matches when it equals the stored total or the unrounded sum of the cells (as
        Excel's SUM shows it) to the paisa; a bigger gap means rows are missing or doubled.
        """
        report = self.report
        for name in ("gross", "net"):
            value = stated.get(name)
            if value is None:
                continue
            stored = report.totals[name]
            if stored is None:
                continue
            exact = report.exact_totals.get(name) if name in self.headers else None
            if exact is not None:
                matches = min(abs(value - stored), abs(value - exact)) < CENT
            else:
                # Derived totals: each cell was rounded half a paisa at most.
                matches = abs(value - stored) <= HALF_PAISA * max(1, report.employee_count)
            report.sheet_totals.append({
                "field": name, "label": FIELDS[name].label, "row": sheet_row,
                "sheet": money_text(value), "stored": money_text(stored),
                "difference": money_text(stored - value),
                "status": "match" if matches else "mismatch"})
            if not matches:
                report.warnings.append(_total_warning(FIELDS[name].label.lower(), sheet_row,
                                                      value, stored))

    def _explain_rounding(self) -> None:
        """Where paying each amount to the paisa differs from the sum of the raw cells."""
        report = self.report
        for column in self.exact_columns:
            name = column.field
            exact, stored = report.exact_totals[name], report.totals[name]
            if exact == stored:
                continue
            report.rounding.append({
                "field": name, "label": FIELDS[name].label, "header": column.header,
                "stored": money_text(stored), "cells": str(exact.normalize()),
                "cells_shown": money_text(exact), "difference": money_text(stored - exact)})


class CellMemo:
    """`to_decimal`, `to_exact` and `money_text` of cell values already seen, remembered.

    Only for cells whose class is exactly float, int or str: their results depend on the
    value alone, and values of these classes that compare equal give the same result
    (1 and 1.0 both give Decimal(1)). True == 1 and Decimal(1) == 1 too, so bools and
    Decimals are never looked up. `money_text` is remembered by the Decimal, but for zero
    (Decimal("-0") == Decimal(0), and they print differently). At most LIMIT values
    each, so a sheet of all-different amounts costs a bounded few MB.
    """

    LIMIT = 20_000

    def __init__(self, plain_limit: Decimal | None = None):
        # The last cell `decimal` parsed, with its `to_decimal` and `to_exact`: what a full
        # memo no longer remembers, kept for the next look at that very cell (see `decimal`).
        self.last_cell: object = _NOTHING
        self.last_rounded: Decimal | None = None
        self.last_exact: Decimal | None = None
        self._rounded: dict = {}
        self.rounded_memo = self._rounded
        # The remembered values that are 0 or more and at most `plain_limit`.
        self.plain_memo: dict = {}
        self._plain_limit = plain_limit
        self._exact: dict = {}
        self._texts: dict = {}

    def rounded(self, value) -> Decimal | None:
        """`to_decimal(value)` if this value was converted before, else None."""
        cls = value.__class__
        if cls is float or cls is int or cls is str:
            return self._rounded.get(value)
        return None

    def decimal(self, value) -> Decimal | None:
        """`to_decimal(value)` (raises NotANumber), remembered, for a reader other than
        `RowConverter._numbers`: the table's edge, which parses a row's net pay cell just
        before the converter parses the same cell and `_count` adds up its exact value.

        A value of float, int or str class is also kept as `last_cell` with its `to_decimal`
        and `to_exact`, so that those two find them by identity (`is`) even once the memo
        is full (a sheet of unrounded amounts fills it after a few thousand rows). The same
        object of these immutable classes always gives the same results, whichever row
        it came from, so this is exact; other classes are never kept.
        """
        cls = value.__class__
        if cls is float or cls is int or cls is str:
            number = self._rounded.get(value)
            if number is not None:
                return number
        exact = to_exact(value)
        number = round_paisa(exact)
        if number is not None and (cls is float or cls is int or cls is str):
            self.remember_rounded(value, number)
            self.last_cell, self.last_rounded, self.last_exact = value, number, exact
        return number

    def remember_rounded(self, value, number: Decimal) -> None:
        cls = value.__class__
        if (cls is float or cls is int or cls is str) and len(self._rounded) < self.LIMIT:
            self._rounded[value] = number
            limit = self._plain_limit
            if limit is not None and number is not None and 0 <= number <= limit:
                self.plain_memo[value] = number

    def exact(self, value) -> Decimal | None:
        if value is self.last_cell:
            return self.last_exact       # to_exact of this very object (see `decimal`)
        cls = value.__class__
        if not (cls is float or cls is int or cls is str):
            return to_exact(value)
        number = self._exact.get(value)
        if number is None:
            number = to_exact(value)
            if number is not None and len(self._exact) < self.LIMIT:
                self._exact[value] = number
        return number

    def money_text(self, value: Decimal) -> str:
        if not value:
            # Zeros are equal whatever their sign, so they are not looked up by value; but
            # a zero's 2-place text depends on its sign alone (quantizing keeps the sign and
            # never overflows a zero coefficient), so "0.00" or "-0.00" is known at once.
            return _ZERO_TEXTS[value.is_signed()]
        text = self._texts.get(value)
        if text is None:
            text = money_text(value)
            if len(self._texts) < self.LIMIT:
                self._texts[value] = text
        return text


_NOTHING = object()     # never a cell
# money_text of zero and of minus zero, for CellMemo.money_text (index: is_signed()).
_ZERO_TEXTS = (money_text(Decimal("0")), money_text(Decimal("-0")))


def gross_is_unknown(present: set[str]) -> bool:
    """No gross, no fixed salary and no deductions: nothing to tell the gross from."""
    return not present & {"gross", "fixed_salary", "total_deductions", *DEDUCTION_COLUMNS}


def looks_like_total(text: str) -> bool:
    """`is_total_text` for a cell's text, without normalising the text of nearly every row.

    Normalising only turns characters into spaces and drops spaces next to + - /, so
    text whose normal form starts with "total" or "sum" has that word in its case-folded
    form too; most names and codes have neither and skip the normalising altogether.
    """
    folded = text.casefold()
    if "total" not in folded and "sum" not in folded:
        return False
    return is_total_text(text)


def _cell(cells: list, column: Column):
    position = column.position
    return cells[position] if position < len(cells) else ""


def _listed(rows) -> str:
    rows = list(rows)
    shown_rows = ", ".join(str(r) for r in rows[:MAX_LISTED_ROWS])
    more = f" and {len(rows) - MAX_LISTED_ROWS} more" if len(rows) > MAX_LISTED_ROWS else ""
    return ("Row " if len(rows) == 1 else "Rows ") + shown_rows + more


def _total_warning(label: str, row: int, stated: Decimal, added: Decimal) -> str:
    return (f"The TOTAL row (row {row}) says {label} {grouped(stated)}, but the rows add up to "
            f"{grouped(added)}. Check that the total covers every row.")


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)
