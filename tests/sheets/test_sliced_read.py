"""An .xlsx sheet read in slices gives the rows calamine's whole-sheet read gives.

The reading child (paydash.sheets.calamine_process) feeds calamine an .xlsx sheet a slice
of rows at a time, so its memory stays flat. These tests run the child's own code in
process, once with the whole-sheet read (`Reader.open(name)`, the read before slicing) and
once sliced (`Reader.open(name, part, strings)`), with slices as small as one row, and
compare what would be sent to the parent: rows, date cells and the end marker.
"""
import contextlib
import io
import marshal
import zipfile
from unittest import mock

import pytest
import python_calamine
from hostile_files import NS
from hostile_files import REL_DOC
from hostile_files import package
from sheet_builders import rewrite_part

from paydash.sheets import calamine_process
from paydash.sheets import reader as sheet_reader

STYLES = (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {NS}>'
          '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
          '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
          '<xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="21" applyNumberFormat="1"/>'
          "</cellXfs></styleSheet>").encode()
STRINGS = ["Employee ID", "NAME", "SALARY", "Asha & Co", "  padded  ", "", "Ravi <R>",
           "Department", "Sales"]


def sst(strings=STRINGS, extra: str = "") -> bytes:
    items = []
    for text in strings:
        if text == "":
            items.append("<si/>")
        else:
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            items.append(f'<si><t xml:space="preserve">{escaped}</t></si>')
    items.append("<si><r><rPr><b/></rPr><t>Rich</t></r><r><t xml:space=\"preserve\"> text</t></r>"
                 "<rPh sb=\"0\" eb=\"1\"><t>ph</t></rPh></si>")
    body = "".join(items) + extra
    return (f'<?xml version="1.0" encoding="UTF-8"?><sst {NS} count="{len(items)}" '
            f'uniqueCount="{len(items)}">{body}</sst>').encode()


def book(sheets: list[tuple[str, str]], *, strings: bytes | None = None,
         date1904: bool = False) -> bytes:
    rels = f'<Relationship Id="rIdS" Type="{REL_DOC}/styles" Target="styles.xml"/>'
    extra = {"xl/styles.xml": STYLES}
    if strings is not None:
        rels += f'<Relationship Id="rIdT" Type="{REL_DOC}/sharedStrings" Target="sharedStrings.xml"/>'
        extra["xl/sharedStrings.xml"] = strings
    xml = [(name, (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {NS}>'
                   f'<dimension ref="A1:C3"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
                   f"<sheetData>{rows}</sheetData>"
                   '<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>').encode())
           for name, rows in sheets]
    return package(xml, extra=extra, workbook_rels_extra=rels,
                   workbook_extra='<workbookPr date1904="1"/>' if date1904 else "")


def read(data: bytes, name: str, *, sliced: bool) -> list:
    """Every batch the child would send for the sheet (decoded), 3 rows a batch: rows,
    dates, the end marker and, at the end, the formulas without a cached value."""
    child = calamine_process.Reader(data)
    workbook = sheet_reader.Workbook(data)
    sheet = next(s for s in workbook.sheets if s.name == name)
    with contextlib.ExitStack() as stack:
        if not sliced:   # the whole read the child falls back to (its part scanned first)
            stack.enter_context(mock.patch.object(calamine_process, "SlicedSheet", _not_sliceable))
        opened = child.open(name, sheet.path, workbook._strings)
    assert opened[0] == "ok", opened
    batches = []
    while True:
        answer = marshal.loads(child.next(3))
        batches.append(answer[1:4] + answer[5:])
        if answer[3]:
            return batches


def _not_sliceable(*_args, **_kwargs):
    raise calamine_process.NotSliceable("a whole read, for comparison")


@pytest.fixture(params=[1, 150, 1 << 20], ids=["a slice per row", "small slices", "one slice"])
def slice_bytes(request, monkeypatch):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", request.param)
    return request.param


def assert_same(data: bytes, name: str = "Pay") -> None:
    whole = read(data, name, sliced=False)
    sliced = read(data, name, sliced=True)
    assert sliced == whole


def assert_same_outcome(data: bytes, name: str = "Pay", describe=str) -> None:
    """The sliced read gives what the whole read gives, or fails with the same calamine error."""
    outcomes = []
    for sliced in (False, True):
        try:
            outcomes.append(read(data, name, sliced=sliced))
        except python_calamine.CalamineError as exc:
            outcomes.append(describe(exc))
    assert outcomes[1] == outcomes[0]


def cells(ref_row: int, *cells_xml: str, r: bool = True) -> str:
    return (f'<row r="{ref_row}">' if r else "<row>") + "".join(cells_xml) + "</row>"


SHARED = "".join([
    cells(1, '<c r="A1" t="s"><v>0</v></c>', '<c r="B1" t="s"><v>1</v></c>',
          '<c r="C1" t="s"><v>2</v></c>', '<c r="D1" t="s"><v>7</v></c>'),
    cells(2, '<c r="A2" t="s"><v>3</v></c>', '<c r="B2" t="s"><v>4</v></c>',
          '<c r="C2"><v>27000.5</v></c>', '<c r="D2" t="s" s="0"><v>8</v></c>'),
    cells(3, '<c r="A3" t="s"><v>5</v></c>', '<c r="B3" t="s"><v>6</v></c>',
          '<c r="C3" t="s"/>', '<c r="D3" t="s"><v>9</v></c>'),
    cells(4, '<c r="A4" t="inlineStr"><is><t>inline</t></is></c>', '<c r="B4" t="s"><v> 1 </v></c>',
          '<c r="C4" t="str"><f>A4</f><v>inline</v></c>', '<c r="D4" t="b"><v>1</v></c>'),
    cells(5, '<c r="A5" t="b"><v>0</v></c>', '<c r="B5" t="e"><v>#DIV/0!</v></c>',
          '<c r="C5"><f>1/0</f></c>', '<c r="D5" t="n"><v>-0.25</v></c>'),
])
DATES = "".join([
    cells(1, '<c r="A1" s="1"><v>45000</v></c>', '<c r="B1" s="2"><v>45000.75</v></c>',
          '<c r="C1" s="3"><v>0.5</v></c>', '<c r="D1"><v>45000</v></c>'),
    cells(2, '<c r="A2" t="d"><v>2024-03-31T00:00:00</v></c>', '<c r="B2" s="1"><v>1</v></c>'),
])


def test_shared_and_inline_strings_booleans_errors(slice_bytes):
    assert_same(book([("Pay", SHARED)], strings=sst()))


@pytest.mark.parametrize("date1904", [False, True])
def test_dates_and_times(slice_bytes, date1904):
    assert_same(book([("Pay", DATES)], date1904=date1904))


def test_empty_rows_gaps_and_a_sheet_starting_away_from_a1(slice_bytes):
    rows = "".join([
        cells(3, '<c r="C3" s="1"/>', '<c r="D3"/>'),         # styled, no values
        cells(5, '<c r="C5"><v>1</v></c>', '<c r="E5" t="inlineStr"><is><t>x</t></is></c>'),
        cells(6),
        cells(9, '<c r="D9"><v>2</v></c>'),
        cells(40, '<c r="C40" t="inlineStr"><is><t></t></is></c>'),
        cells(41, '<c r="H41" s="1"/>'),                       # trailing styled cells only
        cells(60),
    ])
    assert_same(book([("Pay", rows)]))


def test_several_sheets_and_merged_cells(slice_bytes):
    first = cells(1, '<c r="A1" t="s"><v>3</v></c>')
    second = SHARED + cells(7, '<c r="A7" t="s"><v>0</v></c>', '<c r="B7" t="s"><v>9</v></c>')
    data = book([("Other", first), ("Pay", second), ("Empty", "")], strings=sst())
    assert_same(data, "Pay")
    assert_same(data, "Other")
    assert_same(data, "Empty")


def test_cells_without_references_and_rows_out_of_order_within_a_slice():
    rows = "".join([
        cells(2, "<c><v>1</v></c>", '<c r="D2"><v>2</v></c>', "<c><v>3</v></c>"),
        cells(0, "<c><v>9</v></c>", '<c t="inlineStr"><is><t>no r</t></is></c>', r=False),
        cells(6, '<c r="B6"><v>6</v></c>'),
        cells(5, '<c r="A5"><v>5</v></c>'),
    ])
    assert_same(book([("Pay", rows)]))


def test_a_row_without_a_number_stays_with_the_row_before_it(monkeypatch):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 1)
    rows = "".join([cells(4, '<c r="A4"><v>4</v></c>', '<c r="B4"><v>4</v></c>'),
                    cells(0, "<c><v>5</v></c>", r=False),
                    cells(0, "<c><v>6</v></c>", r=False),
                    cells(9, '<c r="B9"><v>9</v></c>')])
    assert_same(book([("Pay", rows)]))


def test_many_rows_of_shared_strings_in_many_slices(monkeypatch):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 4096)
    strings = [f"Person {i}" for i in range(2000)]
    rows = "".join(cells(n, f'<c r="A{n}" t="s"><v>{(n * 7) % 2000}</v></c>',
                         f'<c r="B{n}"><v>{n * 1.5}</v></c>', f'<c r="C{n}" s="1"><v>{40000 + n}</v></c>')
                   for n in range(1, 3001))
    assert_same(book([("Pay", rows)], strings=sst(strings)))


def test_a_wider_row_in_a_later_slice_only_lengthens_the_rows_after_it(monkeypatch):
    """Rows before the slice holding a cell further right are as wide as the sheet so far;
    what they hold is the same (every reader of rows treats a missing cell as "")."""
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 1)
    rows = "".join([cells(1, '<c r="A1"><v>1</v></c>', '<c r="B1"><v>2</v></c>'),
                    cells(2, '<c r="A2"><v>3</v></c>'),
                    cells(3, '<c r="E3"><v>5</v></c>')])
    data = book([("Pay", rows)])
    whole = [row for batch in read(data, "Pay", sliced=False) for row in batch[0]]
    sliced = [row for batch in read(data, "Pay", sliced=True) for row in batch[0]]
    assert [len(row) for row in whole] == [5, 5, 5]
    assert [len(row) for row in sliced] == [2, 2, 5]
    assert [row + [""] * (5 - len(row)) for row in sliced] == whole


def test_rows_out_of_order_across_slices_are_refused_not_misread(monkeypatch):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 1)
    rows = cells(5, '<c r="A5"><v>5</v></c>') + cells(2, '<c r="A2"><v>2</v></c>')
    data = book([("Pay", rows)])
    child = calamine_process.Reader(data)
    assert child.open("Pay", "xl/worksheets/sheet1.xml", "")[0] == "ok"
    with pytest.raises(calamine_process.RowsOutOfOrder):
        child.next(10)


def test_the_cell_cap_holds_for_a_sliced_sheet(monkeypatch):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 1)
    monkeypatch.setattr(calamine_process, "MAX_CELLS", 50)
    rows = cells(1, '<c r="A1"><v>1</v></c>', '<c r="J1"><v>1</v></c>') + cells(9, '<c r="A9"><v>9</v></c>')
    data = book([("Pay", rows)])
    assert calamine_process.Reader(data).open("Pay")[0] == "error"   # the whole read refuses it
    child = calamine_process.Reader(data)
    child.open("Pay", "xl/worksheets/sheet1.xml", "")
    with pytest.raises(calamine_process.TooManyCells):
        child.next(10)


def test_a_slice_workbook_holds_no_shared_string_table_and_no_other_sheet():
    data = book([("Other", cells(1, '<c r="A1"><v>1</v></c>')), ("Pay", SHARED)], strings=sst())
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheet = calamine_process.SlicedSheet(python_calamine, archive, "Pay", "xl/worksheets/sheet2.xml",
                                         "xl/sharedStrings.xml")
    body, tail = next(sheet._bodies())
    names = zipfile.ZipFile(io.BytesIO(sheet._book(body, tail))).namelist()
    assert "xl/sharedStrings.xml" not in names and "xl/worksheets/sheet1.xml" not in names
    assert "xl/styles.xml" in names and b"<dimension" not in sheet.head
    assert b"<dimension" in sheet.first_head   # calamine refuses a sheet whose dimension it cannot read


@pytest.mark.parametrize("dimension", ['<dimension ref="garbage"/>', '<dimension ref="A1:XFD1048576"/>', ""])
def test_a_dimension_is_refused_or_not_as_the_whole_read_does(slice_bytes, dimension):
    rows = "".join(cells(n, f'<c r="A{n}"><v>{n}</v></c>') for n in range(1, 30))
    data = package([("Pay", f'<worksheet {NS}>{dimension}<sheetData>{rows}</sheetData></worksheet>'.encode())])
    assert_same_outcome(data)


@pytest.mark.parametrize("sheet_xml", [
    f'<worksheet {NS}><sheetData/></worksheet>',
    '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
    '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>',
])
def test_sheets_not_in_the_plain_form_are_read_whole(sheet_xml):
    data = package([("Pay", sheet_xml.encode())])
    archive = zipfile.ZipFile(io.BytesIO(data))
    with pytest.raises(calamine_process.NotSliceable):
        calamine_process.SlicedSheet(python_calamine, archive, "Pay", "xl/worksheets/sheet1.xml", "")
    assert read(data, "Pay", sliced=True) == read(data, "Pay", sliced=False)


def test_end_to_end_a_template_sheet_of_several_slices(tmp_path):
    """Through the real child (2 MB slices): the rows of calamine's own whole read."""
    import sheet_builders  # noqa: PLC0415
    path = tmp_path / "big.xlsx"
    sheet_builders.write_template_xlsx(path, 7000)
    data = path.read_bytes()
    workbook = sheet_reader.Workbook(data)
    got = [cells for _number, cells in workbook.rows(workbook.visible[0])]
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    assert got == list(sheet.iter_rows())
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size > 2 * calamine_process.SLICE_BYTES


@pytest.mark.parametrize("value", ["<v> 1 </v>", "<v>x</v>", "<v></v>", "<v>01</v>", "<v>+1</v>",
                                   "<v>18446744073709551617</v>", "<v>99</v>", ""])
def test_odd_shared_string_indexes_read_as_calamine_reads_them(slice_bytes, value):
    data = book([("Pay", cells(1, f'<c r="A1" t="s">{value}</c>', '<c r="B1"><v>1</v></c>'))],
                strings=sst())
    whole_error = sliced_error = None
    try:
        whole = read(data, "Pay", sliced=False)
    except python_calamine.CalamineError as exc:
        whole_error = str(exc)
    try:
        sliced = read(data, "Pay", sliced=True)
    except python_calamine.CalamineError as exc:
        sliced_error = str(exc)
    assert sliced_error == whole_error
    if whole_error is None:
        assert sliced == whole


def test_end_to_end_a_sheet_not_in_the_plain_form_is_read_whole_by_the_child():
    sheet = ('<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<x:sheetData><x:row r="2"><x:c r="B2"><x:v>1.5</x:v></x:c></x:row></x:sheetData>'
             "</x:worksheet>").encode()
    workbook = sheet_reader.Workbook(package([("Pay", sheet)]))
    assert list(workbook.rows(workbook.sheets[0])) == [(1, ["", ""]), (2, ["", 1.5])]


@pytest.mark.parametrize("tail", ['<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>',
                                  "<mergeCells><broken", "</worksheet><extra/>", "<foo></bar>", ""])
def test_what_follows_the_rows_is_read_as_the_whole_read_reads_it(slice_bytes, tail):
    sheet = (f'<worksheet {NS}><sheetData>' + SHARED + f"</sheetData>{tail}</worksheet>").encode()
    data = package([("Pay", sheet)], extra={"xl/sharedStrings.xml": sst()},
                   workbook_rels_extra=f'<Relationship Id="rIdT" Type="{REL_DOC}/sharedStrings" '
                                       'Target="sharedStrings.xml"/>')
    assert_same_outcome(data, describe=lambda exc: type(exc).__name__)


@pytest.mark.parametrize("whole_after", [1 << 30, 100], ids=["one slice", "read whole"])
def test_rows_without_numbers_are_one_slice_or_read_whole(monkeypatch, whole_after):
    monkeypatch.setattr(calamine_process, "SLICE_BYTES", 1)
    monkeypatch.setattr(calamine_process, "WHOLE_AFTER", whole_after)
    rows = "".join(cells(0, f"<c><v>{n}</v></c>", "<c/>", f"<c><v>{n * 2}</v></c>", r=False)
                   for n in range(1, 200))
    data = book([("Pay", rows)])
    sheet = calamine_process.SlicedSheet(python_calamine, zipfile.ZipFile(io.BytesIO(data)), "Pay",
                                         "xl/worksheets/sheet1.xml", "")
    assert len(list(sheet._bodies())) == 1
    assert_same(data)
    if whole_after == 100:
        sheet.open_book = lambda: python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        with pytest.raises(calamine_process.NoPlaceToCut):
            list(sheet._bodies())


@pytest.mark.parametrize("cell", ['<c r="A1" t="s"><v>7</v></c>', '<c r="A1" t="s" s="0"><v>7</v></c>',
                                  "<c r='A1' t='s'><v>7</v></c>", '<c r="A1" xt="s"><v>7</v></c>',
                                  '<c r="A1" t="s"><v>99999999999999999999</v></c>',
                                  '<c r="A1" t="s"><f>X</f><v>7</v></c>'])
def test_every_form_of_a_shared_string_cell_reads_as_the_whole_read_does(slice_bytes, cell):
    data = book([("Pay", cells(1, cell, '<c r="B1" t="s"><v>3</v></c>'))], strings=sst())
    assert_same_outcome(data)


@pytest.mark.parametrize("extra", ['<si x="1"><t>with an attribute</t></si>', "<!-- <si><t>c</t></si> -->",
                                   "<si />", "<si><t>a</t><t>b</t></si>"])
def test_an_odd_string_table_reads_as_the_whole_read_does(slice_bytes, extra):
    rows = cells(1, *(f'<c r="{col}1" t="s"><v>{i}</v></c>' for i, col in enumerate("ABCD")))
    data = book([("Pay", rows)], strings=sst(STRINGS[:2], extra=extra + '<si><t>after</t></si>'))
    assert_same(data)


def _formulas_and_errors(count: int) -> str:
    """Rows with, every few rows, an error cell, a formula with no cached value, a formula
    with one, and a text formula with an empty result (not 'uncached')."""
    rows = []
    for r in range(1, count + 1):
        row = [f'<c r="A{r}" t="inlineStr"><is><t>E{r}</t></is></c>', f'<c r="B{r}"><v>{r}</v></c>']
        if r % 7 == 3:
            row.append(f'<c r="C{r}" t="e"><v>#N/A</v></c>')
        if r % 11 == 5:
            row.append(f'<c r="D{r}"><f>B{r}*2</f></c>')
        if r % 5 == 1:
            row.append(f'<c r="E{r}"><f>B{r}+1</f><v>{r + 1}</v></c>')
        if r % 13 == 2:
            row.append(f'<c r="F{r}" t="str"><f>""</f><v></v></c>')
        row.append(f'<c r="G{r}"><v>0</v></c>')   # every row as wide (see SlicedSheet)
        rows.append(cells(r, *row))
    return "".join(rows)


def test_error_cells_and_uncached_formulas_are_found_slice_by_slice_as_in_a_whole_read(slice_bytes):
    """The child scans each slice as it is cut: the same error texts in the same cells, and
    the same count and first address of formulas with no cached value, as the whole read's
    scan of the part before its first row."""
    data = book([("Pay", _formulas_and_errors(120))])
    sliced = read(data, "Pay", sliced=True)
    assert sliced == read(data, "Pay", sliced=False)
    rows = [row for batch in sliced for row in batch[0]]
    assert rows[2][2] == "#N/A" and rows[9][2] == "#N/A" and rows[3][2] == ""
    assert sliced[-1][-2:] == (len([r for r in range(1, 121) if r % 11 == 5]), "D5")


@pytest.mark.parametrize("where", ["head", "late row", "after the rows"])
def test_a_nul_anywhere_in_the_sheet_part_ends_the_read_as_the_parent_reports_it(where):
    """A NUL in the sheet's XML (which calamine would let into the text) is refused by the
    child wherever it is, and the parent tells HR so in the words it always used."""
    rows = _formulas_and_errors(400).replace("E399<", "E3\x0099<") if where == "late row" else \
        _formulas_and_errors(400)
    data = book([("Pay", rows)])
    if where == "head":
        data = rewrite_part(data, "xl/worksheets/sheet1.xml",
                            lambda xml: xml.replace("<sheetData>", "<sheetPr codeName='a\x00'/><sheetData>"))
    elif where == "after the rows":
        data = rewrite_part(data, "xl/worksheets/sheet1.xml",
                            lambda xml: xml.replace("</sheetData>", "</sheetData><!-- \x00 -->"))
    workbook = sheet_reader.Workbook(data)
    with pytest.raises(sheet_reader.WorkbookUnreadable) as refused:
        for _row in workbook.rows(workbook.sheets[0]):
            pass
    assert "NUL character" in refused.value.message
