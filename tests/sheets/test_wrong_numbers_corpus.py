"""A corpus of messy and wrong salary sheets, built in code: each names the kind of mistake
and what HR must see (issue 14). Add a case for every new kind of mistake met in the wild.
"""
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sheet_builders as sb

from paydash.sheets.exports import blank_template
from paydash.sheets.salary_sheet import SalarySheet
from paydash.sheets.salary_sheet import read_salary_sheet

CLASSIC = ("Emp Code", "Name", "Department", "Basic", "HRA", "Gross", "PF", "ESI", "Prof. Tax",
           "TDS", "Total Deductions", "Net Pay")
ITEMISED = ("Emp Code", "Name", "Basic", "Gross", "PF", "ESI", "Prof. Tax", "TDS", "Net Pay")
SIMPLE = ("Emp Code", "Name", "Department", "Gross", "Net Pay")
GOOD = ["E1", "Asha Rao", "Sales", 8000, 4000, 12000, 960, 90, 200, 0, 1250, 10750]


@dataclass
class Case:
    name: str
    headers: tuple
    rows: list
    errors: tuple = ()          # (sheet row, words in the message) of each row error
    to_check: tuple = ()        # (sheet row, kind) HR must acknowledge
    rows_kept: int | None = None


def row(**changes):
    values = dict(zip(CLASSIC, GOOD))
    values.update(changes)
    return [values[h] for h in CLASSIC]


CASES = [
    Case("clean classic row", CLASSIC, [row()], rows_kept=1),
    # Text in a money column, stored or kept: always a row error naming row and column.
    Case("words in a kept column (Basic)", CLASSIC, [row(Basic="ten thousand")],
         errors=((2, ("Row 2", "'Basic'", "'ten thousand' is not a number", "digits")),)),
    Case("words in a kept deduction (PF)", CLASSIC, [row(PF="nil?")],
         errors=((2, ("'PF'", "not a number")),)),
    Case("words in a stored column (Gross)", CLASSIC, [row(Gross="twelve thousand")],
         errors=((2, ("'Gross'", "not a number")),)),
    Case("a date typed in HRA", CLASSIC, [row(HRA="12/04/2024")], errors=((2, ("'HRA'",)),)),
    Case("money typed the usual ways is fine", CLASSIC,
         [row(Basic="₹ 8,000", HRA="Rs. 4,000/-", PF="-", **{"Prof. Tax": " 200 "})], rows_kept=1),
    # Pay that cannot be right: errors. Pay that is probably a slip: acknowledged warnings.
    Case("negative net", CLASSIC, [row(**{"Net Pay": -10800, "Total Deductions": 1200})],
         errors=((2, ("'Net Pay'", "below zero")),)),
    Case("negative gross", SIMPLE, [["E1", "Asha", "S", -500, 0]], errors=((2, ("'Gross'",)),)),
    Case("net far above gross", CLASSIC, [row(**{"Net Pay": 99999})],
         to_check=((2, "net_above_gross"),), rows_kept=1),
    Case("gross − total deductions ≠ net", CLASSIC, [row(**{"Net Pay": 10000})],
         to_check=((2, "deductions"),), rows_kept=1),
    Case("a rupee of rounding is not a mismatch", CLASSIC, [row(**{"Net Pay": 10750.8})],
         rows_kept=1),
    Case("itemised deductions that do not reach net", ITEMISED,
         [["E1", "Asha", 8000, 12000, 960, 90, 200, 0, 9000]], to_check=((2, "deductions"),)),
    Case("itemised deductions that add up", ITEMISED,
         [["E1", "Asha", 8000, 12000, 960, 90, 200, 0, 10750]], rows_kept=1),
    Case("a negative deduction may be a refund", CLASSIC, [row(TDS=-100, **{"Total Deductions": 1150,
                                                                             "Net Pay": 10850})],
         to_check=((2, "negative"),), rows_kept=1),
    Case("zero pay is valid", SIMPLE, [["E1", "Asha", "S", 0, 0]], rows_kept=1),
    Case("only the bad row of several", CLASSIC,
         [row(), row(**{"Emp Code": "E2", "Net Pay": 50000}), row(**{"Emp Code": "E3"})],
         to_check=((3, "net_above_gross"),), rows_kept=3),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_wrong_sheet_gets_the_right_outcome(case):
    sheet = SalarySheet(sb.simple_sheet([list(r) for r in case.rows], headers=case.headers))
    kept = list(sheet.rows())
    report = sheet.report
    assert report.fatal is None
    assert [e.row for e in report.errors] == [r for r, _ in case.errors]
    for error, (_row, words) in zip(report.errors, case.errors):
        for word in words:
            assert word in error.message
    assert [(w["row"], w["kind"]) for w in report.check_warnings] == list(case.to_check)
    assert report.check_warning_count == len(case.to_check)
    if case.rows_kept is not None:
        assert len(kept) == case.rows_kept


def test_a_flagged_row_says_by_how_much():
    report = read_salary_sheet(sb.simple_sheet([row(**{"Net Pay": 99999})], headers=CLASSIC))
    warning = report.as_preview()["check_warnings"][0]
    assert warning["amount"] == "87999.00" and warning["code"] == "E1"
    assert "99,999.00" in warning["message"] and "12,000.00" in warning["message"]


def test_kept_money_columns_hold_only_numbers():
    rows = list(SalarySheet(sb.simple_sheet([row(Basic="8,000.456")], headers=CLASSIC)).rows())
    assert rows[0]["extra"]["basic"] == "8000.46"
    assert all(Decimal(v) == Decimal(v) for v in rows[0]["extra"].values())


# --- Totals and rounding ---------------------------------------------------------------------


GENERAL_CELLS = [1234.5678901234, 2222.2249999999, 3333.3333333333]


def general_sheet(total: float | None) -> bytes:
    rows = [[f"E{i}", f"P{i}", "S", net + 100, net] for i, net in enumerate(GENERAL_CELLS)]
    if total is not None:
        rows.append(["", "TOTAL", "", None, total])
    return sb.simple_sheet(rows, headers=SIMPLE)


def test_general_format_cells_get_a_rounding_note_with_the_difference():
    preview = read_salary_sheet(general_sheet(None)).as_preview()
    note = next(n for n in preview["rounding"] if n["field"] == "net")
    # Each to the paisa: 1234.57 + 2222.22 + 3333.33 = 6790.12; the cells add to 6790.1262...
    assert preview["totals"]["net"] == "6790.12"
    assert note["stored"] == "6790.12" and note["cells_shown"] == "6790.13"
    assert note["difference"] == "-0.01"


def test_the_sheets_own_total_row_is_compared_and_matches():
    preview = read_salary_sheet(general_sheet(sum(GENERAL_CELLS))).as_preview()
    net = next(t for t in preview["sheet_totals"] if t["field"] == "net")
    assert net["status"] == "match" and net["row"] == 5


def test_a_total_row_that_disagrees_is_a_mismatch_with_the_difference():
    preview = read_salary_sheet(general_sheet(sum(GENERAL_CELLS) + 500)).as_preview()
    net = next(t for t in preview["sheet_totals"] if t["field"] == "net")
    assert net["status"] == "mismatch" and net["difference"] == "-500.01"
    assert any("TOTAL row" in w for w in preview["warnings"])


def test_the_filled_in_template_does_not_warn_about_its_own_help_sheet():
    import io  # noqa: PLC0415

    import openpyxl  # noqa: PLC0415
    book = openpyxl.load_workbook(io.BytesIO(blank_template()))
    sheet = book["Salary"]
    for i, values in enumerate(sb.template_rows(3)):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=2 + i, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    report = read_salary_sheet(buffer.getvalue())
    assert report.ok and report.employee_count == 3
    assert not any("How to fill" in w for w in report.warnings)
