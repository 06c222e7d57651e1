"""A corpus of salary sheets in the shapes real people make, none written for Paydash.

Every sheet is built here with headers and layouts of our own invention; each case states
how many employees it holds and its gross and net totals, worked out from the rows that
build it (never read back from Paydash), plus what the preview must say about it.
"""
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

import pytest
import sheet_builders as sb

from paydash.sheets.salary_sheet import SalarySheet

D = Decimal


def people(n: int, start: int = 0):
    return [sb.person(start + i) for i in range(n)]


@dataclass
class Case:
    name: str
    sheets: list
    employees: int
    gross: Decimal | None
    net: Decimal
    hidden: tuple = ()
    layouts: dict | None = None
    mapped: dict = field(default_factory=dict)     # column letter -> field the preview must show
    left_out: int = 0
    says: tuple = ()                                # words the preview's warnings must hold


def total(rows, index):
    return sum((D(str(row[index])) for row in rows), D(0))


# 1. Net pay under many names, with abbreviations, currency signs and extra words.
def take_home_case():
    rows = [[code, name, "Sales", 30000 + i * 1000, 27500.5 + i * 900] for i, (code, name)
            in enumerate(people(4))]
    headers = ["Staff ID", "Emp. Name", "Dept.", "Tot. Earnings", "Take-Home Pay (₹)"]
    return Case("take-home pay", [("Oct", [["Shree Ganesh Traders"], [], headers, *rows])], 4,
                total(rows, 3), total(rows, 4),
                mapped={"A": "employee_code", "B": "employee_name", "C": "department",
                        "D": "gross", "E": "net"})


def in_hand_case():
    rows = [[i + 1, code, name, 22000 + i * 10, 1800, 22000 + i * 10 - 1800]
            for i, (code, name) in enumerate(people(5, 10))]
    headers = ["S.No.", "Token No.", "Name of Staff", "Gross Amt", "Total Ded.", "In Hand Amt."]
    return Case("in-hand amount", [("Staff", [headers, *rows])], 5, total(rows, 3), total(rows, 5),
                mapped={"B": "employee_code", "C": "employee_name", "E": "total_deductions",
                        "F": "net"})


def credited_case():
    rows = [[code, name, 41000, 38250.75] for code, name in people(3, 20)]
    headers = ["Employee Code", "Employee", "Gross Wages (Rs.)", "Amount credited to bank"]
    return Case("amount credited", [("Bank", [headers, *rows])], 3, total(rows, 2), total(rows, 3),
                mapped={"D": "net"})


# 2. Two candidates for net pay, and two for gross.
def two_nets_case():
    rows = []
    for i, (code, name) in enumerate(people(4, 30)):
        before, deductions = 25000 + i * 1500, 1200 + i * 100
        rows.append([code, name, before, deductions, before - deductions])
    headers = ["Emp Code", "Name", "Net Salary", "Deductions", "Payable"]
    return Case("net before and after deductions", [("Sal", [headers, *rows])], 4,
                total(rows, 2), total(rows, 4),
                mapped={"C": "gross", "E": "net"}, says=("could each be net pay",))


def two_grosses_case():
    rows = []
    for i, (code, name) in enumerate(people(4, 40)):
        rate, days = 30000 + i * 2000, [30, 28, 26, 30][i]
        earned = round(rate * days / 30, 2)
        rows.append([code, name, rate, days, earned, earned - 200])
    headers = ["Emp Code", "Name", "Gross Salary (Monthly)", "Paid Days", "Gross Earned", "Net Pay"]
    return Case("scheduled and earned gross", [("Sal", [headers, *rows])], 4,
                total(rows, 4), total(rows, 5),
                mapped={"C": "fixed_salary", "D": "paid_days", "E": "gross"},
                says=("could each be gross pay",))


# 3. No gross column: worked out from net and the deductions, never the basic pay.
def no_gross_case():
    rows = []
    for i, (code, name) in enumerate(people(3, 50)):
        basic, hra, pf, esi = 12000 + i * 1000, 4800, 1440, 150
        rows.append([code, name, basic, hra, pf, esi, basic + hra - pf - esi])
    headers = ["Emp Code", "Name", "Basic", "HRA", "PF", "ESI", "Net Pay"]
    gross = sum((D(r[2]) + D(r[3]) for r in rows), D(0))
    return Case("no gross, with deductions", [("Sal", [headers, *rows])], 3, gross, total(rows, 6),
                mapped={"C": "basic"})


# 5. Where the table ends.
def junk_below_case():
    rows = [[code, name, "Works", 20000 + i * 500, 19000 + i * 500] for i, (code, name)
            in enumerate(people(6, 60))]
    headers = ["Emp Code", "Employee Name", "Department", "Gross", "Net Pay"]
    junk = [[], [],
            ["Gross", *[r[3] for r in rows]],                 # the table turned on its side
            ["Net Pay", *[r[4] for r in rows]],
            [], ["", "Highest net", "", "", max(r[4] for r in rows)],   # an analysis block
            ["", "Lookup", "E1061", "", 19500],
            ["Prepared by accounts"]]
    return Case("junk under the table", [("Oct", [headers, *rows, *junk])], 6, total(rows, 3),
                total(rows, 4), left_out=5)


def harmless_notes_case():
    rows = [[code, name, 15000 + i * 100, 14000 + i * 100] for i, (code, name)
            in enumerate(people(5, 70))]
    headers = ["Code", "Name", "Gross", "Net Pay"]
    sums = ["", "", total(rows, 2), total(rows, 3)]            # a sums row with no label
    return Case("harmless notes", [("Oct", [headers, *rows, sums, [], ["", "October"],
                                            ["", "Meena Iyer"]])], 5,
                total(rows, 2), total(rows, 3), left_out=3)


# 6. A month over several sheets of one layout, one hidden, with a spec and a master sheet.
def branches(all_sheets: bool):
    headers = ["Emp Code", "Name", "Gross", "Net Pay"]
    pune = [[code, name, 18000, 17000] for code, name in people(3, 80)]
    nashik = [[code, name, 21000, 19950] for code, name in people(2, 90)]
    goa = [[code, name, 25000, 23500.5] for code, name in people(2, 100)]
    spec = [["Field", "Meaning"], ["Gross", "earned pay"], ["Net Pay", "paid to bank"]]
    master = [["Emp Code", "Name", "Joining date"], *[[c, n, "2020-01-01"] for c, n in people(7, 80)]]
    sheets = [("Pune", [headers, *pune]), ("Nashik", [["Nashik branch"], headers, *nashik]),
              ("Goa", [headers, *goa]), ("Column specs", spec), ("Employee Master", master)]
    rows = pune + nashik + goa if all_sheets else pune
    layouts = None
    if all_sheets:
        from paydash.sheets.plan import layout_signature  # noqa: PLC0415
        layouts = {layout_signature(headers): {"mapping": {}, "all_sheets": True,
                                               "chosen_by": "yours"}}
    return Case("branches, all" if all_sheets else "branches, first only", sheets, len(rows),
                total(rows, 2), total(rows, 3), hidden=("Goa",), layouts=layouts,
                says=("share one layout",) if all_sheets else ("same layout",))


# 3b. Net pay and nothing to tell the gross from: imported with gross unknown, said so.
def net_only_case():
    rows = [[i + 1, code, name, "Stores" if i % 2 else "Yard", 14250.5 + i * 700]
            for i, (code, name) in enumerate(people(5, 60))]
    headers = ["Sr", "Worker No.", "Worker", "Section", "Amount Paid (Rs)"]
    return Case("net only, gross unknown", [("Nov", [["Wages paid"], headers, *rows])], 5, None,
                total(rows, 4), mapped={"B": "employee_code", "E": "net"},
                says=("no gross pay", "gross as 'not in the sheet'"))


# 1b. A name column whose header says nothing, recognised by what it holds.
def names_by_content_case():
    rows = [[code, name, 30000, 28000] for code, name in people(5, 110)]
    headers = ["Emp Code", "Person", "Gross", "Net Pay"]
    return Case("names by content", [("Oct", [headers, *rows])], 5, total(rows, 2), total(rows, 3),
                mapped={"B": "employee_name"})


CASES = [take_home_case(), in_hand_case(), credited_case(), two_nets_case(), two_grosses_case(),
         no_gross_case(), net_only_case(), junk_below_case(), harmless_notes_case(), branches(False),
         branches(True), names_by_content_case()]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_sheet_imports_with_its_count_and_totals(case):
    data = sb.workbook(case.sheets, hidden=case.hidden)
    sheet = SalarySheet(data, layouts=case.layouts)
    rows = list(sheet.rows())
    report = sheet.report
    assert report.fatal is None and report.error_count == 0, (report.fatal, report.errors[:3])
    assert report.employee_count == len(rows) == case.employees
    assert sum((r["net"] for r in rows), D(0)) == case.net
    preview = report.as_preview()
    if case.gross is None:
        assert [r["gross"] for r in rows] == [None] * case.employees
        assert preview["totals"]["gross"] is None
    else:
        assert sum((r["gross"] for r in rows), D(0)) == case.gross
    assert preview["totals"]["net"] == f"{case.net:.2f}"
    names = {e["column"]: e["name"] for e in preview["mapping"]}
    assert {letter: names.get(letter) for letter in case.mapped} == case.mapped
    assert all(e["reason"] for e in preview["mapping"])
    assert preview["left_out_count"] == case.left_out, preview["sheets"][0]["left_out"]
    for words in case.says:
        assert any(words in w for w in report.warnings), report.warnings


def test_every_row_left_out_is_listed_with_its_reason():
    report = SalarySheet(sb.workbook(junk_below_case().sheets))
    list(report.rows())
    left = report.report.as_preview()["sheets"][0]["left_out"]
    reasons = {item["row"]: item["reason"] for item in left}
    assert "repeats the header's words ('Gross')" in reasons[10]
    assert "repeats the header's words ('Net Pay')" in reasons[11]
    assert all(item["text"] for item in left)
    assert not any(r["employee_name"] in ("Gross", "Net Pay") for r in
                   SalarySheet(sb.workbook(junk_below_case().sheets)).rows())


def test_a_sums_row_without_a_label_is_left_out_not_an_error():
    report = SalarySheet(sb.workbook(harmless_notes_case().sheets))
    list(report.rows())
    reasons = [item["reason"] for item in report.report.sheets[0]["left_out"]]
    assert any("adds up the rows above" in r for r in reasons)
    assert any("a note" in r for r in reasons)


def test_basic_pay_is_never_taken_as_the_gross():
    rows = [[code, name, 12000, 16500] for code, name in people(4)]
    data = sb.workbook([("Oct", [["Emp Code", "Name", "Salary", "Net Pay"], *rows])])
    report = SalarySheet(data)
    assert list(report.rows()) == []
    assert "is below net pay on 4 of 4 rows" in report.report.fatal


def test_the_refused_sheet_still_shows_how_each_column_was_read():
    rows = [[code, name, 30000, 28000] for code, name in people(3)]
    data = sb.workbook([("Oct", [["Emp Code", "Name", "Gross", "Disbursed"], *rows])])
    sheet = SalarySheet(data)
    list(sheet.rows())
    preview = sheet.report.as_preview()
    assert "lacks a net pay column" in preview["fatal"]
    assert [e["header"] for e in preview["sheets"][0]["mapping"]] == ["Emp Code", "Name", "Gross",
                                                                     "Disbursed"]
    assert preview["sheets"][0]["signature"]


def test_hr_choice_maps_a_column_the_header_does_not_name():
    rows = [[code, name, 30000, 28000] for code, name in people(3)]
    headers = ["Emp Code", "Name", "Gross", "Disbursed"]
    from paydash.sheets.plan import layout_signature  # noqa: PLC0415
    layouts = {layout_signature(headers): {"mapping": {"D": "net"}, "chosen_by": "yours"}}
    sheet = SalarySheet(sb.workbook([("Oct", [headers, *rows])]), layouts=layouts)
    assert sum(r["net"] for r in sheet.rows()) == D(84000)
    entry = sheet.report.mapping[3]
    assert (entry["name"], entry["confidence"], entry["reason"]) == ("net", "yours", "you chose this")


def test_several_sheets_take_the_sheet_name_as_department_and_say_what_was_skipped():
    case = branches(True)
    sheet = SalarySheet(sb.workbook(case.sheets, hidden=case.hidden), layouts=case.layouts)
    rows = list(sheet.rows())
    assert {r["department"] for r in rows} == {"Pune", "Nashik", "Goa"}
    assert sheet.report.departments == {"Goa": 2, "Nashik": 2, "Pune": 3}
    skipped = {s["sheet"]: s["reason"] for s in sheet.report.skipped_sheets}
    assert "specification, master" in skipped["Column specs"] or "no header" in skipped["Column specs"]
    assert "lacks a net pay column" in skipped["Employee Master"]
    assert [s["sheet"] for s in sheet.report.sheets] == ["Pune", "Nashik", "Goa"]
    assert [s["employees"] for s in sheet.report.sheets] == [3, 2, 2]


def test_a_header_in_unknown_words_is_still_found_so_hr_can_map_it():
    rows = [[f"Q{i}", name, 1000 * i, 900 * i] for i, (_, name) in enumerate(people(4), start=1)]
    data = sb.workbook([("Oct", [["Our pay run"], ["Ref No", "Who", "Pay A", "Pay B"], *rows])])
    sheet = SalarySheet(data)
    list(sheet.rows())
    report = sheet.report
    assert report.header_row == 2 and "lacks a net pay column" in report.fatal
    assert [e["header"] for e in report.sheets[0]["mapping"]] == ["Ref No", "Who", "Pay A", "Pay B"]
    assert report.sheets[0]["mapping"][1]["name"] == "employee_name"   # recognised by its cells


def test_errors_of_several_sheets_say_which_sheet_their_row_is_on():
    case = branches(True)
    nashik = case.sheets[1][1]
    nashik[2] = [nashik[2][0], nashik[2][1], nashik[2][2], "nineteen thousand"]
    sheet = SalarySheet(sb.workbook(case.sheets, hidden=case.hidden), layouts=case.layouts)
    list(sheet.rows())
    assert [e.message[:24] for e in sheet.report.errors] == ["Sheet 'Nashik': Row 3, c"]


def test_a_second_block_of_staff_after_a_blank_row_is_read_even_with_empty_cells():
    headers = ["Emp Code", "Name", "Department", "Designation", "Gross", "TDS", "Net Pay"]
    office = [[c, n, "Office", "Clerk", 20000, 200, 19800] for c, n in people(10)]
    workers = [[c, n, None, None, 15000, None, 15000] for c, n in people(3, 10)]
    # The sparse rows of the table itself say how sparse a person's row may be.
    office.append(["E1099", "Nitin Rao", None, None, 16000, None, 16000])
    data = sb.workbook([("Oct", [headers, *office, [], ["Workers"], *workers])])
    sheet = SalarySheet(data)
    rows = list(sheet.rows())
    assert len(rows) == 14 and sum(r["net"] for r in rows) == D(10 * 19800 + 16000 + 3 * 15000)
    assert [item["text"] for item in sheet.report.sheets[0]["left_out"]] == ["Workers"]


def test_a_row_numbering_the_columns_under_the_header_is_not_a_person():
    rows = [[c, n, 100, 90] for c, n in people(2)]
    data = sb.workbook([("S", [["Emp Code", "Name", "Gross", "Net Pay"], [1, 2, 3, 4], *rows])])
    sheet = SalarySheet(data)
    assert [r["employee_code"] for r in sheet.rows()] == ["E1000", "E1001"]
    assert "numbers the columns" in sheet.report.sheets[0]["left_out"][0]["reason"]


def test_a_superscript_digit_under_the_header_is_a_cell_not_a_column_number():
    # Found by the edge test's hypothesis run: "²" passes str.isdigit but not int().
    rows = [[c, n, 100, 90] for c, n in people(2)]
    data = sb.workbook([("S", [["Emp Code", "Name", "Gross", "Net Pay"], ["²", "Asha", 100, 90],
                               *rows])])
    sheet = SalarySheet(data)
    assert [r["employee_code"] for r in sheet.rows()] == ["²", "E1000", "E1001"]
    assert sheet.report.fatal is None


def test_a_column_without_a_header_can_be_mapped_by_hand():
    rows = [[c, n, 100, 90] for c, n in people(3)]
    headers = ["Emp Code", "Name", "Gross"]           # the net pay column has no header at all
    sheet = SalarySheet(sb.workbook([("S", [headers, *rows])]))
    list(sheet.rows())
    assert sheet.report.sheets[0]["mapping"][3]["header"] == "(column D)"
    from paydash.sheets.plan import layout_signature  # noqa: PLC0415
    layouts = {layout_signature(headers): {"mapping": {"D": "net"}, "chosen_by": "yours"}}
    sheet = SalarySheet(sb.workbook([("S", [headers, *rows])]), layouts=layouts)
    assert sum(r["net"] for r in sheet.rows()) == D(270)


def test_a_header_word_away_from_the_code_and_name_columns_is_named_as_the_header_repeated():
    """A row with no code or name whose first text repeats a header (a sub-header in the
    department column, the sheet's first column not being the code) is left out for that
    reason, not taken for a note."""
    rows = [["E1", "Asha", "Sales", 30000, 28000], ["", "", "Net Pay", "", ""],
            ["E2", "Ravi", "Stores", 31000, 29000]]
    report = SalarySheet(sb.simple_sheet(rows))
    assert [r["employee_code"] for r in report.rows()] == ["E1", "E2"]
    left = report.report.as_preview()["sheets"][0]["left_out"]
    assert [(item["row"], item["reason"]) for item in left] == [
        (3, "repeats the header's words ('Net Pay')")]
    shifted = SalarySheet(sb.simple_sheet([["", *row] for row in rows],
                                          headers=("Sl", "Emp Code", "Name", "Department", "Gross", "Net Pay")))
    assert [r["employee_code"] for r in shifted.rows()] == ["E1", "E2"]
    assert [item["reason"] for item in shifted.report.as_preview()["sheets"][0]["left_out"]] == [
        "repeats the header's words ('Net Pay')"]
