"""What HR sees of the numbers before and after Confirm (issue 14), through Flask's client."""
import io
import re
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa
from sheet_builders import TEMPLATE_HEADERS
from sheet_builders import as_shown
from sheet_builders import template_rows
from sheet_builders import template_sheet
from test_uploads_web import status_of
from test_uploads_web import upload
from test_uploads_web import upload_id_of
from test_uploads_web import xlsx_bytes

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.services import imports
from paydash.sheets.calamine_process import SLICE_BYTES
from paydash.sheets.reader import BATCH_ROWS
from paydash.sheets.reader import FIRST_BATCH_ROWS

HEADERS = ["Emp Code", "Name", "Department", "Gross", "Total Deductions", "Net Pay"]
ROWS = [("E1", "Asha Rao", "Sales", 12000, 1200, 10800),
        ("E2", "Ravi Kumar", "Stores", 12000, 1200, 99999),      # net above gross
        ("E3", "Meena Iyer", "Sales", 20000, 2000, 17000)]     # 1,000 short of gross − deductions


def flagged_upload(hr_client) -> int:
    return upload_id_of(upload(hr_client, xlsx_bytes(ROWS, HEADERS)))


def test_the_preview_lists_rows_to_check_with_by_how_much(hr_client):
    page = hr_client.get(f"/uploads/{flagged_upload(hr_client)}").get_data(as_text=True)
    assert "Rows to check (2)" in page
    assert "₹87,999.00" in page and "₹1,000.00" in page
    assert 'name="acknowledge_checks"' in page and imports.ACKNOWLEDGE_LABEL in page


def test_confirm_is_refused_until_the_rows_to_check_are_acknowledged(app, hr_client):
    upload_id = flagged_upload(hr_client)
    response = hr_client.post(f"/uploads/{upload_id}/confirm", follow_redirects=True)
    assert imports.ACKNOWLEDGE_LABEL in response.get_data(as_text=True)
    assert status_of(app, upload_id) == "preview"
    hr_client.post(f"/uploads/{upload_id}/confirm", data={"acknowledge_checks": "1"})
    assert status_of(app, upload_id) == "confirmed"
    with app.app_context():
        nets = db.session.scalars(sa.select(SalaryRow.net).order_by(SalaryRow.employee_code))
        assert [str(n) for n in nets] == ["10800.00", "99999.00", "17000.00"]


def test_the_preview_shows_the_rows_flagged_first_and_finds_by_name(hr_client):
    upload_id = flagged_upload(hr_client)
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    table = page[page.index('class="rows-table"'):]
    assert table.index("Ravi Kumar") < table.index("Asha Rao")
    assert table.index("Meena Iyer") < table.index("Asha Rao")
    found = hr_client.get(f"/uploads/{upload_id}?q=asha").get_data(as_text=True)
    rows = found[found.index('class="rows-table"'):]
    assert "Asha Rao" in rows and "Ravi Kumar" not in rows and "1 row match" in found


def test_after_confirm_the_page_is_a_short_summary(app, hr_client):
    upload_id = flagged_upload(hr_client)
    hr_client.post(f"/uploads/{upload_id}/confirm", data={"acknowledge_checks": "1"})
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "3 new employees added" in page
    assert "Before" not in page and "Rows saved" in page


def test_the_duplicate_refusal_quotes_the_checkbox(app, hr_client):
    rows = [("E1", "Asha Rao", "Sales", 100, 0, 100), ("E1", "Anil Rao", "Sales", 100, 0, 100)]
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(rows, HEADERS)))
    page = hr_client.post(f"/uploads/{upload_id}/confirm", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert f"tick &#39;{imports.KEEP_BOTH_LABEL}&#39;" in text
    assert imports.KEEP_BOTH_LABEL in hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)


def with_shared_strings(data: bytes) -> bytes:
    """The same workbook with its text in a shared-string table, the form Excel saves
    (openpyxl here writes every text cell inline)."""
    table: dict[str, int] = {}

    def shared(match) -> str:
        index = table.setdefault(match.group(2), len(table))
        return f'<c r="{match.group(1)}" t="s"><v>{index}</v></c>'

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name in source.namelist():
            part = source.read(name).decode()
            if name == "xl/worksheets/sheet1.xml":
                part = re.sub(r'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t>([^<]*)</t></is></c>', shared, part)
            elif name == "xl/_rels/workbook.xml.rels":
                part = part.replace("</Relationships>", f'<Relationship Type="{REL}/sharedStrings" '
                                    'Target="sharedStrings.xml" Id="rIdS" /></Relationships>')
            elif name == "[Content_Types].xml":
                part = part.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" '
                                    f'ContentType="{SST_TYPE}" /></Types>')
            book.writestr(name, part)
        strings = "".join(f"<si><t>{text}</t></si>" for text in table)
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}" count="{len(table)}" '
                                              f'uniqueCount="{len(table)}">{strings}</sst>')
    return out.getvalue()


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


@pytest.mark.parametrize("strings", ["inline", "shared"])
def test_a_sheet_read_in_many_slices_stores_every_row_as_the_sheet_has_it(app, hr_client, strings):
    # Issue 18's seam: the reader hands an .xlsx over in slices (mem), its child scanning
    # each slice and reading the next batch while this one is converted (second pass), and
    # the consumer converts, stages and stores rows by column its faster ways (imp, commit);
    # HR's numbers must be the sheet's.
    count = FIRST_BATCH_ROWS + 2 * BATCH_ROWS + 700   # batches read ahead twice
    rows = template_rows(count, seed=18)
    data = template_sheet(count, total=True, seed=18)
    if strings == "shared":
        data = with_shared_strings(data)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.getinfo("xl/worksheets/sheet1.xml").file_size > 4 * SLICE_BYTES  # several slices
        assert ("xl/sharedStrings.xml" in package.namelist()) == (strings == "shared")
    upload_id = upload_id_of(upload(hr_client, data))
    hr_client.post(f"/uploads/{upload_id}/confirm", data={"acknowledge_checks": "1"})
    assert status_of(app, upload_id) == "confirmed"
    code, name, net = (TEMPLATE_HEADERS.index(h) for h in ("Employee ID", "NAME", "NETT PAYABLE"))
    # The oracle is the file as another reader reads it (openpyxl), not the Python values
    # it was written from: a writer may store 13700.624999999998 as "13700.625", and the
    # sheet HR opens shows 13,700.63.
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    codes = {r[code] for r in rows}
    in_file = [row for row in book.active.iter_rows(values_only=True) if row[code] in codes]
    assert [r[code] for r in in_file] == [r[code] for r in rows]
    expected = sorted((r[code], r[name], as_shown(r[net])) for r in in_file)
    with app.app_context():
        stored = db.session.execute(sa.select(SalaryRow.employee_code, SalaryRow.employee_name,
                                              SalaryRow.net).where(SalaryRow.upload_id == upload_id)
                                    ).all()
    assert sorted(tuple(r) for r in stored) == expected
