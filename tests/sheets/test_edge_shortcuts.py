"""Issue 18: the shortcuts in `TableEdge.belongs` and `RowConverter.convert` change no outcome.

The reference is the code as it was before them, from git (9ca0455's tables.py, rows.py,
values.py and salary_sheet.py, loaded with `earlier_code.module_at`): the same rows go
through both, and the records (down to each Decimal's exponent), the rows left out and
why, every error and warning in its order, the totals, counts and keys must be the same.
Each shortcut also has a test of its own, next to what it claims.
"""
import datetime as dt
import pathlib
from decimal import Decimal

import pytest
import sheet_builders as sb
from earlier_code import module_at
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_corpus import CASES
from test_fast_conversion import CELLS
from test_fast_conversion import assert_converts_alike
from test_fast_conversion import converter_columns
from test_fast_conversion import exactly

from paydash.sheets import columns
from paydash.sheets import values
from paydash.sheets.columns import ABBREVIATIONS
from paydash.sheets.columns import KEY_PHRASES
from paydash.sheets.headers import FIELDS
from paydash.sheets.headers import QUIET_HEADERS
from paydash.sheets.headers import SYNONYMS
from paydash.sheets.headers import Column
from paydash.sheets.rows import NUMBER_FIELDS
from paydash.sheets.rows import CellMemo
from paydash.sheets.rows import RowConverter
from paydash.sheets.salary_sheet import SalarySheet
from paydash.sheets.salary_sheet import SheetReport
from paydash.sheets.tables import TableEdge

BEFORE = "9ca0455"
tables_before = module_at(BEFORE, "paydash/sheets/tables.py", "tables_before_i18")
rows_before = module_at(BEFORE, "paydash/sheets/rows.py", "rows_before_i18")
values_before = module_at(BEFORE, "paydash/sheets/values.py", "values_before_i18")
EXTRAS = [name for name, spec in FIELDS.items() if spec.extra]
HEADER_TEXTS = sorted({text for texts in SYNONYMS.values() for text in texts})


# --- Rows through the edge and the converter, as SalarySheet._data_rows feeds them ----------

def through(tables_module, rows_module, columns: list[Column], rows: list, share: bool):
    """What one table's rows give: records, rows left out, and the report's preview."""
    report = SheetReport()
    converter = rows_module.RowConverter(columns, report)
    samples = [cells for _, cells in rows[:50]]
    shared = {"memo": converter.cells} if share else {}
    edge = tables_module.TableEdge("Sheet1", columns, samples, 1, **shared)
    records = []
    for number, cells in rows:
        if edge.belongs(number, list(cells)):
            record = converter.convert(list(cells), number)
            if record is not None:
                records.append((list(record), exactly(record)))    # keys in their order too
    converter.finish()
    return (records, [item.as_dict() for item in edge.left_out], edge.count,
            exactly(edge.net_sum), report.as_preview(), report.check_warning_count,
            exactly(report.exact_totals), exactly(report.totals))


IDENTITY = st.one_of(
    st.sampled_from(["E1", "E2", "e1", "EMP 7", "1001", "", "  ", "Asha", "Ravi Kumar",
                     "Total", "Grand Total", "Sum", "Prepared by", "Emp Code", "NAME",
                     "Name of the employee", "Net Pay", "Employee ID", "Nett Payable", "ID"]),
    st.integers(1, 3), st.sampled_from([1001, 1001.0, 12.5, None]),
    st.sampled_from(HEADER_TEXTS), st.text(max_size=8))
# Net pay cells that repeat (remembered) and that do not (parsed where the edge reads them).
NET = st.one_of(CELLS, st.floats(0, 1e6).map(lambda f: round(f, 9)),
                st.sampled_from([0, 1, 25000, 25000.5, "25,000", "", None, "Net Pay", -5]))


@st.composite
def tables(draw):
    fields = draw(st.permutations(NUMBER_FIELDS + EXTRAS).map(lambda f: f[:draw(st.integers(1, 8))]))
    if "net" not in fields:
        fields = ["net", *fields]
    identity = draw(st.sampled_from([["employee_code", "employee_name"], ["employee_name"],
                                     ["employee_code"], ["employee_name", "employee_code"]]))
    names = [*identity, "department", *fields]
    columns = [Column(i, i, name.upper(), name) for i, name in enumerate(names)]
    net_at = names.index("net")
    rows, number = [], 1
    for _ in range(draw(st.integers(1, 25))):
        number += draw(st.sampled_from([1, 1, 1, 1, 2, 3]))
        kind = draw(st.sampled_from(["person"] * 6 + ["blank", "note", "total", "header",
                                                      "numbers", "unnamed", "junk"]))
        if kind == "person":
            cells = [draw(IDENTITY) for _ in identity] + [draw(st.sampled_from(["Sales", ""]))]
            cells += [draw(CELLS) for _ in fields]
            cells[net_at] = draw(NET)
        elif kind == "blank":
            cells = draw(st.sampled_from([[], [""], ["", None, "  "]]))
        elif kind == "note":
            cells = draw(st.sampled_from([["Prepared by"], ["", "", "Checked by HR"],
                                          ["October 2024"]]))
        elif kind == "total":
            cells = [draw(st.sampled_from(["TOTAL", "Grand Total", "Sum:", ""]))] + [
                "" for _ in identity[1:]] + [""] + [draw(CELLS) for _ in fields]
        elif kind == "header":
            cells = [draw(st.sampled_from(HEADER_TEXTS)) for _ in names]
        elif kind == "numbers":
            start = draw(st.sampled_from([0, 1, 2]))
            cells = [start + i for i in range(len(names))]
        elif kind == "unnamed":
            cells = ["" for _ in identity] + [""] + [draw(CELLS) for _ in fields]
        else:
            cells = draw(st.lists(st.one_of(CELLS, IDENTITY), max_size=len(names) + 2))
        rows.append((number, cells[:draw(st.integers(0, len(cells)))] if kind == "junk" else cells))
    return columns, rows


@settings(max_examples=400, deadline=None)
@given(table=tables())
@example(table=([Column(0, 0, "EMPLOYEE_CODE", "employee_code"), Column(1, 1, "NET", "net")],
                  [(2, ["²", 0])]))
def test_edge_and_converter_give_what_they_gave_before_the_shortcuts(table):
    columns, rows = table
    rows = rows + [(number + rows[-1][0], cells) for number, cells in rows]   # seen twice
    new = through(_tables_now(), _rows_now(), columns, rows, share=True)
    try:
        old = through(tables_before, rows_before, columns, rows, share=False)
    except ValueError as exc:
        # 9ca0455 raised on a cell such as "²" under the header (a digit to str.isdigit, not
        # to int), fixed since and tested on its own in test_corpus. Only that error passes.
        if "invalid literal for int()" not in str(exc) or not _odd_digits(rows):
            raise
        return
    assert new == old


def _odd_digits(rows) -> bool:
    """A cell whose text str.isdigit takes and int() does not (such as "²")."""
    for _number, cells in rows:
        for cell in cells:
            text = values.to_text(cell).strip("() ")
            if text.isdigit() and not text.isdecimal():
                return True
    return False


def test_a_full_memo_still_gives_the_edges_net_to_the_converter_exactly():
    """Past CellMemo.LIMIT distinct values only `last_cell` carries the net pay over."""
    columns = [Column(0, 0, "CODE", "employee_code"), Column(1, 1, "NET", "net"),
               Column(2, 2, "GROSS", "gross")]
    rows = [(n, [f"E{n}", 1000 + n / 7, 2000 + n / 7]) for n in range(2, 40)]
    rows.append((40, ["E40", "12a", 5.125]))
    rows.append((41, ["E41", -3.3333, 5.125]))
    full = CellMemo.LIMIT
    try:
        CellMemo.LIMIT = 3
        new = through(_tables_now(), _rows_now(), columns, rows, share=True)
    finally:
        CellMemo.LIMIT = full
    old = through(tables_before, rows_before, columns, rows, share=False)
    assert new == old


def _tables_now():
    from paydash.sheets import tables
    return tables


def _rows_now():
    from paydash.sheets import rows
    return rows


# --- Whole workbooks: the sheets the corpus and the fuzz run keep -------------------------

def _salary_sheet_before():
    module = module_at(BEFORE, "paydash/sheets/salary_sheet.py", "salary_sheet_before_i18")
    module.TableEdge = tables_before.TableEdge
    module.RowConverter = rows_before.RowConverter
    return module


salary_sheet_before = _salary_sheet_before()
SEEDS = sorted((pathlib.Path(__file__).parent / "fuzz_seeds").glob("*.xlsx"))


def _workbooks():
    for case in CASES:
        yield pytest.param(sb.workbook(case.sheets, hidden=case.hidden), case.layouts, id=case.name)
    for path in SEEDS:
        yield pytest.param(path.read_bytes(), None, id=path.name)
    yield pytest.param(sb.template_sheet(60, total=True), None, id="template-with-total")
    yield pytest.param(sb.classic_sheet(60), None, id="classic")


@pytest.mark.parametrize(("data", "layouts"), _workbooks())
def test_whole_workbooks_read_as_before(data, layouts):
    new = SalarySheet(data, layouts=layouts)
    old = salary_sheet_before.SalarySheet(data, layouts=layouts)
    assert [(list(r), exactly(r)) for r in new.rows()] == [(list(r), exactly(r)) for r in old.rows()]
    assert new.report.as_preview() == old.report.as_preview()
    assert new.report.check_warning_count == old.report.check_warning_count


# --- values.round_paisa, CellMemo.decimal and the zero texts ----------------------------

@settings(max_examples=500, deadline=None)
@given(value=st.one_of(CELLS, st.decimals(allow_nan=False, places=None)))
@example(value=Decimal("1e-30000"))
@example(value=Decimal("12345678901234567890123456789.125"))
def test_to_decimal_is_as_before_and_memo_decimal_is_to_decimal(value):
    def outcome(parse, *args):
        try:
            return exactly(parse(*args))
        except (values.NotANumber, values_before.NotANumber) as exc:
            return ("NotANumber", exc.shown)
    before = outcome(values_before.to_decimal, value)
    assert outcome(values.to_decimal, value) == before
    memo = CellMemo(plain_limit=Decimal(100))
    assert outcome(memo.decimal, value) == before
    assert outcome(memo.decimal, value) == before        # remembered
    if memo.last_cell is value:
        assert exactly(memo.exact(value)) == exactly(values.to_exact(value))
    else:   # kept only when parsed to a number, and only for these classes
        assert value.__class__ not in (float, int, str) or not isinstance(before, tuple) \
            or before[0] != "Decimal"


@settings(max_examples=200, deadline=None)
@given(sign=st.integers(0, 1), exponent=st.integers(-10**6, 10**6))
@example(sign=1, exponent=0)
@example(sign=0, exponent=999_999_999)
@example(sign=1, exponent=-999_999_999)
def test_a_zeros_text_is_told_by_its_sign(sign, exponent):
    zero = Decimal((sign, (0,), exponent))
    assert CellMemo().money_text(zero) == values.money_text(zero)


def test_a_cell_of_another_class_is_never_kept_as_the_last_one():
    memo = CellMemo()
    for value in (Decimal("2.50"), dt.date(2024, 4, 1), True):
        try:
            memo.decimal(value)
        except values.NotANumber:
            pass
        assert memo.last_cell is not value


def test_a_standalone_edge_has_its_own_memo():
    columns = [Column(0, 0, "NAME", "employee_name"), Column(1, 1, "NET", "net")]
    edge = TableEdge("S", columns, [["Asha", 10]], 1)
    assert edge.belongs(2, ["Asha", 12.5]) and edge.net_sum == Decimal("12.5")
    assert isinstance(edge.memo, CellMemo) and RowConverter(columns, SheetReport()).cells is not edge.memo


# --- columns.exact_field's look at a text's first four characters ---------------------------

columns_before = module_at(BEFORE, "paydash/sheets/columns.py", "columns_before_i18")
KNOWN = sorted({*(t for texts in SYNONYMS.values() for t in texts),
                *(t for texts in KEY_PHRASES.values() for t in texts), *ABBREVIATIONS,
                *QUIET_HEADERS, *sb.TEMPLATE_HEADERS, *sb.CLASSIC_HEADERS})
WRITTEN = [str, str.upper, str.title, str.capitalize, lambda t: t.replace(" ", ""),
           lambda t: t + " (₹)", lambda t: t + ".", lambda t: "Rs. " + t, lambda t: " " + t,
           lambda t: t + " 2024", lambda t: t.replace(" ", "_"), lambda t: t + "s",
           # Letters that case-fold to two ("Groß" is "gross", "ﬁxed" is "fixed").
           lambda t: t.replace("ss", "ß").replace("fi", "ﬁ").title()]


@pytest.mark.parametrize("written", WRITTEN)
def test_every_known_header_is_found_as_before(written):
    for known in KNOWN:
        text = written(known)
        assert columns.exact_field(text) == columns_before.exact_field(text), text


def test_the_known_headers_are_found_at_all():
    assert sum(1 for known in KNOWN if columns.exact_field(known)) > 200


@settings(max_examples=3000, deadline=None)
@given(text=st.one_of(
    st.text(max_size=70),
    st.text(alphabet="aAeEnNtTsSiI0123456789 _.-/()₹ßİﬁK\u212a\u00a0", max_size=12),
    st.builds(lambda known, tail: known + tail, st.sampled_from(KNOWN),
              st.text(alphabet="abcdeghilmnorst0129 _.", max_size=6)),
    st.builds(lambda head, known: head + known, st.text(alphabet="aEx9 _", max_size=3),
              st.sampled_from(KNOWN)),
    st.integers(), st.floats(), st.none()))
@example(text="E1042")
@example(text="Ravi Kumar")
@example(text="Name")
@example(text="\u212aode")       # the Kelvin sign case-folds to "k"
@example(text="ﬁxed salary")     # so does the ligature to "fi"
def test_exact_field_is_as_before_on_any_text(text):
    assert columns.exact_field(text) == columns_before.exact_field(text)


# --- RowConverter._numbers telling the row checks that no amount is below zero ---------------

class _AlwaysLooksForNegatives(RowConverter):
    def _check(self, record, extra, sheet_row, not_negative=False):
        return super()._check(record, extra, sheet_row, False)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(st.one_of(CELLS, st.sampled_from([-0.5, -1, "-0.01", "(5)", 0.0, -0.0])),
                              min_size=0, max_size=9), min_size=1, max_size=15),
       fields=st.permutations(NUMBER_FIELDS + EXTRAS).map(lambda f: f[:7]))
def test_rows_check_as_when_the_checks_always_look_for_negatives(rows, fields):
    assert_converts_alike(rows, fields,
                          _AlwaysLooksForNegatives(converter_columns(fields), SheetReport()))
