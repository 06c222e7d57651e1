"""Workbooks Paydash writes: the blank template and the error report, safe to open (CWE-1236)."""
import io

import pytest
from openpyxl import load_workbook

from paydash.sheets import exports
from paydash.sheets.exports import safe_cell

DANGEROUS = ["=1+1", "+SUM(A1:A9)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1",
             "=HYPERLINK(\"http://evil.test\",\"click\")", "=cmd|' /C calc'!A0"]


def open_xlsx(data: bytes, **kwargs):
    return load_workbook(io.BytesIO(data), **kwargs)


def test_template_has_the_tenant_layout_headers_in_row_one():
    ws = open_xlsx(exports.blank_template())["Salary"]
    headers = [cell.value for cell in ws[1]]
    assert headers == list(exports.TEMPLATE_HEADERS)
    assert headers[0] == "Employee ID" and headers[15] == "NETT PAYABLE" and headers[-1] == "ADVANCE"


def test_template_freezes_the_header_and_names_and_has_formats_and_widths():
    ws = open_xlsx(exports.blank_template())["Salary"]
    assert ws.freeze_panes == "C2"
    assert ws[1][0].font.bold
    assert ws.column_dimensions["B"].width == 26
    assert ws.column_dimensions["C"].number_format == "#,##0.00"


def test_template_is_blank_below_the_header():
    ws = open_xlsx(exports.blank_template())["Salary"]
    assert ws.max_row == 1


def test_template_explains_how_to_fill_it_on_a_second_sheet():
    wb = open_xlsx(exports.blank_template())
    assert wb.sheetnames == ["Salary", "How to fill"]
    text = " ".join(str(row[0]) for row in wb["How to fill"].iter_rows(values_only=True) if row[0])
    assert "NETT PAYABLE" in text and ".xlsx" in text


@pytest.mark.parametrize("value", DANGEROUS)
def test_safe_cell_quotes_text_that_a_spreadsheet_would_run(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Ravi Kumar", "45,000.00", "SAL-TDS", "a=b", " =1", ""])
def test_safe_cell_leaves_ordinary_text_alone(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [None, 0, -500, 12.5, True])
def test_safe_cell_leaves_non_text_values_alone(value):
    assert safe_cell(value) is value


def test_safe_cell_drops_characters_a_workbook_cannot_hold():
    assert safe_cell("Ra\x00vi\x07") == "Ravi"


def test_safe_cell_cuts_text_to_the_excel_cell_limit():
    assert len(safe_cell("x" * 40000)) == 32767


def preview_with(errors, **extra):
    preview = {"sheet": "Salary Oct", "errors": errors, "duplicates": [], "fatal": None}
    preview.update(extra)
    return preview


def test_error_report_round_trips_every_error_with_row_column_header_value_message():
    errors = [
        {"row": 17, "column": "F", "header": "Net Pay", "value": "twelve thousand",
         "message": "Row 17, column 'Net Pay': 'twelve thousand' is not a number"},
        {"row": 18, "column": "C", "header": "SALARY", "value": 12.5, "message": "negative"},
    ]
    ws = open_xlsx(exports.error_report(preview_with(errors), "oct.xlsx"))["Errors"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Column", "Header", "Value", "Message")
    assert rows[1] == (17, "F", "Net Pay", "twelve thousand",
                       "Row 17, column 'Net Pay': 'twelve thousand' is not a number")
    assert rows[2] == (18, "C", "SALARY", 12.5, "negative")


def test_error_report_writes_hostile_values_as_text_not_formulas():
    errors = [{"row": 2, "column": "A", "header": "=HEADER()", "value": value, "message": value}
              for value in DANGEROUS]
    ws = open_xlsx(exports.error_report(preview_with(errors)))["Errors"]
    written = [cell for row in ws.iter_rows(min_row=2, min_col=3) for cell in row]
    assert all(cell.data_type == "s" for cell in written)
    assert all(cell.value.startswith("'") for cell in written)


def test_error_report_lists_a_fatal_problem_and_duplicate_ids():
    preview = preview_with([], fatal="No header row found: open and save in Excel",
                           duplicates=[{"code": "RK", "rows": [{"row": 5, "name": "Ravi Kumar"},
                                                               {"row": 9, "name": "=Rekha"}]}])
    wb = open_xlsx(exports.error_report(preview))
    assert list(wb["Errors"].iter_rows(min_row=2, values_only=True)) == [
        (None, None, None, None, "No header row found: open and save in Excel")]
    assert list(wb["Duplicate IDs"].iter_rows(min_row=2, values_only=True)) == [
        ("RK", 5, "Ravi Kumar"), ("RK", 9, "'=Rekha")]


def test_error_report_counts_every_error_when_only_the_first_are_listed():
    errors = [{"row": n, "column": "F", "header": "Net Pay", "value": "x", "message": "bad"}
              for n in range(2, 12)]
    preview = dict(preview_with(errors), error_count=1_100, errors_not_shown=1_090)
    about = {row[0]: row[1] for row in
             open_xlsx(exports.error_report(preview))["About"].iter_rows(values_only=True)}
    assert about["Errors"] == 1_100
    assert "1,090 more errors are not listed" in about["Not listed"]
