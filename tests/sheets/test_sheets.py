"""Reading salary sheets people really have (pure: no app, no database)."""
import random
from decimal import Decimal

import pytest
import sheet_builders as sb
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from paydash.models import SalaryRow
from paydash.sheets.headers import is_total_text
from paydash.sheets.rows import looks_like_total
from paydash.sheets.salary_sheet import SalarySheet
from paydash.sheets.salary_sheet import read_salary_sheet
from paydash.sheets.values import NotANumber
from paydash.sheets.values import to_decimal

# Read from the real table, so a column added to SalaryRow fails this until the reader fills it.
SET_BY_THE_IMPORT = {"id", "tenant_id", "year", "month", "source", "upload_id"}
SALARY_ROW_FIELDS = {c.name for c in SalaryRow.__table__.columns} - SET_BY_THE_IMPORT


def rows_of(data: bytes) -> list[dict]:
    return list(SalarySheet(data).rows())


def expected_total(rows: list[list], column: int) -> Decimal:
    return sum((sb.as_shown(r[column]) for r in rows), Decimal(0))


def test_tenant_template_imports_with_its_own_column_meanings():
    report = read_salary_sheet(sb.template_sheet(6))
    fields = {m["header"]: m["field"] for m in report.mapping}
    assert report.fatal is None and report.error_count == 0
    assert fields["OT"] == "ot_hours" and fields["CHARGES"] == "ot_pay"
    assert fields["LATE"] == "late_minutes" and fields["AMT"] == "late_deduction"
    assert fields["SAL+OT"] == "gross" and fields["NETT PAYABLE"] == "net"
    assert fields["SALARY"] == "fixed_salary" and fields["Employee ID"] == "employee_code"


def test_template_banner_rows_are_skipped_and_header_row_is_found():
    report = read_salary_sheet(sb.template_sheet(3, banner=True))
    assert report.header_row == 4
    assert report.employee_count == 3


def test_template_totals_equal_the_cells_as_excel_shows_them():
    rows = sb.template_rows(40)
    report = read_salary_sheet(sb.template_sheet(40))
    assert report.totals["gross"] == expected_total(rows, 12)
    assert report.totals["net"] == expected_total(rows, 15)


def test_row_fields_are_exactly_salary_row_columns():
    record = rows_of(sb.template_sheet(1))[0]
    assert set(record) == SALARY_ROW_FIELDS


def test_template_row_keeps_hours_minutes_and_extra_columns():
    source = sb.template_rows(1)[0]
    record = rows_of(sb.template_sheet(1))[0]
    assert record["ot_hours"] == sb.as_shown(source[6])
    assert record["late_minutes"] == sb.as_shown(source[9])
    assert record["extra"]["advance_25th"] == str(sb.as_shown(source[13]).quantize(Decimal("0.01")))
    assert record["sheet_row"] == 5


def test_template_total_deductions_are_gross_minus_net():
    record = rows_of(sb.template_sheet(1))[0]
    assert record["total_deductions"] == record["gross"] - record["net"]


def test_classic_sheet_imports_with_pf_esi_and_professional_tax_as_other_deductions():
    rng = random.Random(1)
    source = [sb.classic_row(i, rng) for i in range(1)][0]
    record = rows_of(sb.classic_sheet(1))[0]
    assert record["employee_code"] == "E1000"
    assert record["gross"] == sb.as_shown(source[7])
    assert record["net"] == sb.as_shown(source[13])
    assert record["other_deductions"] == sum(sb.as_shown(v) for v in source[8:11])
    assert record["fixed_salary"] == record["gross"]
    assert record["extra"]["hra"] == str(sb.as_shown(source[4]).quantize(Decimal("0.01")))


def test_header_synonyms_with_currency_dots_and_colons_are_understood():
    data = sb.simple_sheet([["A1", "Asha", 30000, 28000]],
                           headers=("Emp. Code:", "Name", "Gross (₹)", "Net Pay (Rs.)"))
    report = read_salary_sheet(data)
    assert [m["field"] for m in report.mapping] == ["employee_code", "employee_name", "gross", "net"]


def test_numbers_typed_as_text_are_read_as_numbers():
    data = sb.simple_sheet([["A1", "Asha", "Sales", "45,000.00", "₹ 12,500"],
                            ["A2", "Ravi", "Sales", "Rs. 1,200/-", "1,20,000"]])
    records = rows_of(data)
    assert [r["gross"] for r in records] == [Decimal("45000.00"), Decimal("1200.00")]
    assert [r["net"] for r in records] == [Decimal("12500.00"), Decimal("120000.00")]


def test_text_in_a_number_column_is_a_row_error_with_row_column_and_value():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 30000, 28000]] * 15
                           + [["A9", "Ravi", "Sales", 30000, "twelve thousand"]])
    report = read_salary_sheet(data)
    assert report.error_count == 1
    error = report.errors[0]
    assert (error.row, error.column, error.header, error.value) == (17, "E", "Net Pay", "twelve thousand")
    assert error.message.startswith("Row 17, column 'Net Pay': 'twelve thousand' is not a number")


def test_a_row_with_a_text_error_is_not_counted_as_zero():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 30000, 28000],
                            ["A2", "Ravi", "Sales", 30000, "n/a"]])
    report = read_salary_sheet(data)
    assert report.totals["net"] == Decimal(28000)
    assert not report.ok


def test_empty_net_pay_is_an_error_but_zero_pay_is_valid():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 0, 0], ["A2", "Ravi", "Sales", 30000, None]])
    report = read_salary_sheet(data)
    assert report.employee_count == 1
    assert report.errors[0].row == 3 and "is empty" in report.errors[0].message


def test_blank_rows_are_skipped():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90], [], [None, None, None],
                            ["A2", "Ravi", "Sales", 100, 90]])
    report = read_salary_sheet(data)
    assert report.employee_count == 2 and report.error_count == 0


def test_total_row_is_skipped_with_a_warning():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90], ["A2", "Ravi", "Sales", 100, 90],
                            [None, "TOTAL", None, 200, 180]])
    report = read_salary_sheet(data)
    assert report.employee_count == 2
    assert "Row 4 looks like a TOTAL row and was skipped." in report.warnings


def test_total_row_that_disagrees_with_the_rows_is_warned_about():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90], ["A2", "Ravi", "Sales", 100, 90],
                            ["Grand Total", None, None, 300, 270]])
    report = read_salary_sheet(data)
    assert any("rows add up to 180.00" in w for w in report.warnings)


def test_dozen_decimal_cells_total_to_the_sheets_own_total_to_the_paisa():
    rng = random.Random(5)
    rows = [[f"E{i}", f"Person {i}", "Sales", rng.uniform(10000, 90000), rng.uniform(9000, 80000)]
            for i in range(300)]
    total = sb.total_row(["Emp Code", "Name", "Department", "Gross", "Net Pay"], rows, label_column=1)
    report = read_salary_sheet(sb.simple_sheet(rows + [total]))
    assert report.totals["gross"] == sb.as_shown(total[3])
    assert report.totals["net"] == sb.as_shown(total[4])
    assert not any("add up" in w for w in report.warnings)


def test_each_cell_is_rounded_half_up_as_excel_shows_it():
    assert to_decimal(2.675) == Decimal("2.68")
    assert to_decimal(1234.005) == Decimal("1234.01")
    assert to_decimal(0.125) == Decimal("0.13")


@pytest.mark.parametrize("text", ["twelve", "1.2.3", "12e3", "NaN", "Infinity", "--5"])
def test_text_that_is_not_plainly_a_number_is_refused(text):
    with pytest.raises(NotANumber):
        to_decimal(text)


def test_accountant_dash_and_brackets_are_zero_and_negative():
    assert to_decimal("-") == Decimal(0)
    assert to_decimal("(1,200.50)") == Decimal("-1200.50")


def test_the_visible_sheet_with_the_data_is_used_and_hidden_sheets_are_ignored():
    decoy = [["Emp Code", "Name", "Gross", "Net Pay"], ["X1", "Ghost", 1, 1]]
    summary = [["Payroll summary"], ["Department", "Gross"], ["Sales", 100]]
    data = sb.workbook([("Old", decoy), ("Summary", summary),
                        ("Salary", [["Emp Code", "Name", "Gross", "Net Pay"], ["A1", "Asha", 100, 90]])],
                       hidden=("Old",))
    report = read_salary_sheet(data)
    assert report.sheet == "Salary"
    assert report.totals["net"] == Decimal(90)
    assert any("Hidden sheets were ignored: 'Old'" in w for w in report.warnings)


def test_formulas_with_cached_values_use_the_cached_values():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, "=D2-10"]])
    data = sb.with_cached_values(data, {"E2": 90.0})
    report = read_salary_sheet(data)
    assert report.fatal is None
    assert report.totals["net"] == Decimal(90)


def test_formulas_without_cached_values_are_fatal_with_open_and_save_advice():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, "=D2-10"], ["A2", "Ravi", "Sales", 100, "=D3-10"]])
    report = read_salary_sheet(data)
    assert "open it in excel, save it" in report.fatal.lower()
    assert "2 formula(s)" in report.fatal and "E2" in report.fatal
    assert report.error_count == 0


def test_missing_net_pay_column_is_fatal_and_named():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100]], headers=("Emp Code", "Name", "Department", "Gross"))
    report = read_salary_sheet(data)
    assert "lacks a net pay column" in report.fatal
    assert "gross or fixed salary" not in report.fatal


def test_net_pay_alone_imports_with_gross_unknown_and_says_so():
    # Issue 15: no gross, fixed salary or deductions is no longer a refusal.
    data = sb.simple_sheet([["A1", "Asha", 90]], headers=("Emp Code", "Name", "Net Pay"))
    report = read_salary_sheet(data)
    assert report.fatal is None and report.employee_count == 1
    assert report.totals["gross"] is None and report.totals["net"] == 90
    assert any("no gross pay" in w for w in report.warnings)


def test_a_sheet_without_any_header_is_fatal():
    data = sb.workbook([("Sheet1", [["hello", "world"], [1, 2]])])
    assert "No header row was found" in read_salary_sheet(data).fatal


def test_unknown_columns_are_ignored_with_a_warning():
    data = sb.simple_sheet([["A1", "Asha", 100, 90, "ok"]],
                           headers=("Emp Code", "Name", "Gross", "Net Pay", "Remarks"))
    report = read_salary_sheet(data)
    assert report.ok
    assert "Column 'Remarks' (E) is not used by Paydash and was ignored." in report.warnings
    entry = report.mapping[-1]
    assert (entry["column"], entry["header"], entry["field"], entry["label"]) == ("E", "Remarks", None, None)
    assert entry["reason"] == "the header names nothing Paydash stores"


def test_no_department_goes_under_unassigned():
    data = sb.simple_sheet([["A1", "Asha", None, 100, 90], ["A2", "Ravi", "Sales", 100, 90]])
    report = read_salary_sheet(data)
    assert report.departments == {"Sales": 1, "Unassigned": 1}


def test_one_code_used_by_two_people_is_reported_not_merged():
    data = sb.simple_sheet([["RK", "Ravi Kumar", "Sales", 100, 90], ["AB", "Asha B", "Sales", 1, 1],
                            ["RK", "Rekha Kapoor", "Stores", 100, 90]])
    report = read_salary_sheet(data)
    assert report.duplicates == [{"code": "RK", "same_name": False,
                                  "rows": [{"row": 2, "name": "Ravi Kumar"}, {"row": 4, "name": "Rekha Kapoor"}]}]
    assert report.employee_count == 3


def test_exact_duplicate_rows_are_reported_too():
    data = sb.simple_sheet([["RK", "Ravi Kumar", "Sales", 100, 90], ["RK", "Ravi Kumar", "Sales", 100, 90]])
    assert read_salary_sheet(data).duplicates[0]["same_name"] is True


def test_duplicates_get_separate_employee_keys():
    data = sb.simple_sheet([["RK", "Ravi Kumar", "Sales", 100, 90], ["RK", "Rekha Kapoor", "Sales", 100, 90]])
    assert [r["employee_key"] for r in rows_of(data)] == ["RK", "RK#2"]


def test_codes_differing_only_in_case_are_one_code():
    # The duplicate check folds case; the report quotes the first row's code as typed.
    data = sb.simple_sheet([["rk7", "Ravi Kumar", "Sales", 100, 90], ["AB", "Asha B", "Sales", 1, 1],
                            ["RK7", "Rekha Kapoor", "Stores", 100, 90], ["Rk7", "Ravi K", "Stores", 5, 4]])
    report = read_salary_sheet(data)
    assert report.duplicates == [{"code": "rk7", "same_name": False, "rows": [
        {"row": 2, "name": "Ravi Kumar"}, {"row": 4, "name": "Rekha Kapoor"}, {"row": 5, "name": "Ravi K"}]}]
    assert [r["employee_key"] for r in rows_of(data)] == ["rk7", "AB", "RK7#2", "Rk7#3"]


def test_people_known_by_name_only_are_checked_for_duplicates_by_name():
    data = sb.simple_sheet([["Asha Rao", 100, 90], ["Ravi", 50, 40], ["ASHA RAO", 100, 90], ["ravi", 1, 1]],
                           headers=("Name", "Salary", "Net Pay"))
    report = read_salary_sheet(data)
    assert report.duplicates == [
        {"code": "Asha Rao", "same_name": True, "rows": [{"row": 2, "name": "Asha Rao"},
                                                         {"row": 4, "name": "ASHA RAO"}]},
        {"code": "Ravi", "same_name": True, "rows": [{"row": 3, "name": "Ravi"}, {"row": 5, "name": "ravi"}]}]
    assert [r["employee_key"] for r in rows_of(data)] == ["Asha Rao", "Ravi", "ASHA RAO#2", "ravi#2"]


def test_a_code_and_a_name_that_read_alike_are_different_people():
    # A person keyed by name never collides with one keyed by a code of the same text.
    data = sb.simple_sheet([["ASHA", "Ravi", "Sales", 100, 90], [None, "Asha", "Sales", 100, 90]])
    report = read_salary_sheet(data)
    assert report.duplicates == []
    assert [r["employee_key"] for r in rows_of(data)] == ["ASHA", "Asha"]


def test_codes_typed_as_numbers_lose_the_decimal_point():
    data = sb.simple_sheet([[1001, "Asha", "Sales", 100, 90]])
    assert rows_of(data)[0]["employee_code"] == "1001"


def test_sheet_may_identify_people_by_name_only():
    data = sb.simple_sheet([["Asha", 100, 90]], headers=("Name", "Salary", "Net Pay"))
    record = rows_of(data)[0]
    assert record["employee_code"] is None and record["employee_key"] == "Asha"
    assert record["gross"] == Decimal(100)


def test_error_list_is_capped_with_a_count_of_the_rest():
    data = sb.simple_sheet([[f"A{i}", "X", "S", 1, "bad"] for i in range(1100)])
    preview = read_salary_sheet(data).as_preview()
    assert len(preview["errors"]) == 1000
    assert preview["error_count"] == 1100 and preview["errors_not_shown"] == 100


def test_preview_money_is_exact_two_place_strings():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90.5]])
    preview = read_salary_sheet(data).as_preview()
    assert preview["totals"] == {"gross": "100.00", "net": "90.50", "fixed_salary": "100.00",
                                 "total_deductions": "9.50"}


def test_progress_is_reported_while_reading():
    seen = []
    read_salary_sheet(sb.simple_sheet([[f"A{i}", "X", "S", 1, 1] for i in range(4500)]),
                      progress=lambda done, total: seen.append((done, total)))
    assert seen[0][0] == 2000 and seen[-1] == (4500, 4500)


@pytest.mark.parametrize("amount", [1e15, 1e300, "9" * 400])
def test_huge_amounts_are_row_errors_not_database_overflows(amount):
    data = sb.simple_sheet([["A1", "Asha", "Sales", amount, 90]])
    report = read_salary_sheet(data)
    assert "too large" in report.errors[0].message


def test_a_file_that_is_not_a_workbook_is_fatal_not_a_crash():
    report = read_salary_sheet(b"PK\x03\x04 this is not really a zip")
    assert "could not be read as an Excel workbook" in report.fatal


def test_a_dtd_in_the_sheet_is_refused_and_no_entity_is_expanded():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90]])
    data = sb.rewrite_part(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(
        "<worksheet", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><worksheet', 1))
    report = read_salary_sheet(data)
    assert "hidden instructions" in report.fatal
    assert "root:" not in str(report.as_preview())


def test_data_starting_far_from_a1_reports_real_sheet_rows_and_columns():
    rows = [[None] * 3 + r for r in
            [["Emp Code", "Name", "Gross", "Net Pay"], ["A1", "Asha", 100, 90], ["A2", "Ravi", 100, "x"]]]
    data = sb.workbook([("S", [[], [], [], [], ["Banner"]] + rows)])
    report = read_salary_sheet(data)
    assert report.header_row == 6
    assert (report.errors[0].row, report.errors[0].column) == (8, "G")


def test_external_links_are_ignored_with_a_warning():
    data = sb.add_part(sb.simple_sheet([["A1", "Asha", "Sales", 100, 90]]),
                       "xl/externalLinks/externalLink1.xml", b"<externalLink/>")
    report = read_salary_sheet(data)
    assert report.ok
    assert any("links to other files" in w for w in report.warnings)


def test_a_row_with_pay_but_no_code_or_name_is_a_row_error():
    data = sb.simple_sheet([["A1", "Asha", "Sales", 100, 90], [None, None, "Sales", 100, 90]])
    report = read_salary_sheet(data)
    assert report.errors[0].message.startswith("Row 3 has pay figures but no employee code or name")


def test_names_longer_than_stored_are_shortened_with_a_warning():
    data = sb.simple_sheet([["A1", "N" * 300, "Sales", 100, 90]])
    report = read_salary_sheet(data)
    assert len(rows_of(data)[0]["employee_name"]) == 200
    assert any(w.startswith("Row 2, column 'Name': the text is 300 characters long") for w in report.warnings)


def test_keep_is_given_exactly_the_rows_a_pass_yields():
    data = sb.template_sheet(40, total=True)
    kept = []
    report = read_salary_sheet(data, keep=kept.append)
    assert report.employee_count == 40 and kept == rows_of(data)


TOTALISH = ["TOTAL", "Grand Total:", "totals", "Sub-Total", "Net total (₹)", "SUM", "ſum",
            "Total Rs.", "Summer", "Sumit Rao", "E-1001", "Rs. total", "Tot al", "subtotal",
            "GRAND  TOTAL", "sum:", "(Total)", "Net Pay", "Total\u00a0Amount", "TOTAL/-"]


@given(st.one_of(st.sampled_from(TOTALISH), st.text(max_size=20),
                 st.lists(st.sampled_from(["sum", "total", "grand", " ", ".", "rs", "-", "ſ", "/",
                                           "(", "s", "₹", "net", "\u00a0", "x"]), max_size=6)
                 .map("".join)))
@settings(max_examples=500, deadline=None)
def test_the_quick_total_check_agrees_with_the_full_one(text):
    assert looks_like_total(text) == is_total_text(text)
