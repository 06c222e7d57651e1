"""Excel 97-2003 (.xls) and OpenDocument (.ods) sheets import like .xlsx; the reader's guards hold (pure).

The .xls files are written with xlwt, the .ods files as raw OpenDocument XML, so each test
says exactly what the file holds.
"""
from decimal import Decimal

import pytest
from hostile_files import HEADERS
from hostile_files import ROWS
from hostile_files import billion_laughs
from hostile_files import ods_bytes
from hostile_files import package
from hostile_files import salary_sheet
from hostile_files import xls_bytes

from paydash.sheets import reader
from paydash.sheets.filecheck import FileRejected
from paydash.sheets.filecheck import check_upload
from paydash.sheets.salary_sheet import read_salary_sheet

LIMIT = 10 * 1024 * 1024
def net_total() -> Decimal:
    return sum((Decimal(repr(row[4])) for row in ROWS), Decimal(0)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("build", [xls_bytes, ods_bytes], ids=["xls", "ods"])
def test_an_old_excel_or_opendocument_sheet_passes_the_upload_check_and_imports(build):
    data = build([HEADERS, *ROWS])
    check_upload(data, "salary", LIMIT)
    report = read_salary_sheet(data)
    assert report.fatal is None and report.error_count == 0, report.as_preview()
    assert report.employee_count == 3
    assert report.totals["net"] == net_total()
    assert report.departments == {"Sales": 1, "Accounts": 1, "Unassigned": 1}


def test_an_xls_with_a_banner_row_and_a_hidden_sheet_reads_the_visible_salary_sheet():
    data = xls_bytes([HEADERS, *ROWS], banner="Acme Traders - salary October", hidden_first=True)
    report = read_salary_sheet(data)
    assert report.fatal is None and report.employee_count == 3
    assert report.sheet == "Salary" and report.header_row == 3
    assert any("Hidden sheets were ignored: 'Notes'" in w for w in report.warnings)


def test_text_where_a_number_belongs_in_an_ods_is_a_row_error_not_a_zero():
    data = ods_bytes([HEADERS, ["E001", "Ravi", "thirty thousand", 32000, 30000, "Sales"]])
    report = read_salary_sheet(data)
    assert report.error_count == 1
    assert "thirty thousand" in report.errors[0].as_dict()["message"]


def test_a_password_protected_ods_is_refused_at_upload():
    data = ods_bytes([HEADERS, *ROWS], manifest_extra="<manifest:encryption-data/>")
    with pytest.raises(FileRejected) as caught:
        check_upload(data, "salary.ods", LIMIT)
    assert caught.value.code == "encrypted"


def test_an_xls_with_macros_is_refused_at_upload():
    data = xls_bytes([HEADERS, *ROWS]) + "_VBA_PROJECT_CUR".encode("utf-16-le")
    with pytest.raises(FileRejected) as caught:
        check_upload(data, "salary.xls", LIMIT)
    assert caught.value.code == "macro"


@pytest.mark.parametrize("data", [
    billion_laughs(),
    ods_bytes([HEADERS, *ROWS], content_head='<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'),
], ids=["xlsx", "ods"])
def test_a_dtd_is_refused_by_the_reader_before_calamine_sees_the_file(data, monkeypatch):
    def no_child(*_args):
        raise AssertionError("calamine was started on a file with a DTD")

    monkeypatch.setattr(reader, "_Child", no_child)
    report = read_salary_sheet(data)
    # In HR's words (issue 14): no "DTD" jargon, but the reason is named.
    assert report.fatal and "hidden instructions" in report.fatal


def test_an_error_cell_in_a_money_column_is_a_row_error_not_a_blank():
    sheet = salary_sheet().replace(b'<c r="E2"><v>30000.25</v></c>', b'<c r="E2" t="e"><v>#DIV/0!</v></c>')
    report = read_salary_sheet(package([("Salary", sheet)]))
    assert report.error_count == 1, report.as_preview()
    error = report.errors[0].as_dict()
    assert error["row"] == 2 and "#DIV/0!" in error["message"]


def test_a_nul_character_in_the_sheet_ends_in_a_message_not_in_the_database():
    sheet = salary_sheet().replace(b"Ravi Kumar", b"Ravi\x00Kumar")
    report = read_salary_sheet(package([("Salary", sheet)]))
    assert report.fatal and "could not be read" in report.fatal


def test_the_worker_never_holds_the_sheet_the_child_reads_it_and_goes_away():
    workbook = reader.Workbook(xls_bytes([HEADERS, *ROWS]))
    rows = list(workbook.rows(workbook.visible[0]))
    child = workbook._child.process
    assert [number for number, _cells in rows] == [1, 2, 3, 4]
    assert rows[1][1][:2] == ["E001", "Ravi Kumar"]
    del workbook
    assert child.wait(10) == 0
