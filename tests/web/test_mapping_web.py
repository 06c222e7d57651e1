"""The mapping step through Flask's client: a refused sheet shows its mapping, HR maps a
column by hand, checks again without uploading, and next month's sheet needs no question."""
import re

import sqlalchemy as sa
from conftest import login
from test_uploads_web import upload
from test_uploads_web import upload_id_of
from test_uploads_web import xlsx_bytes

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.models import SheetLayout
from paydash.models import Upload

# "Disbursed" names nothing Paydash knows: the sheet is refused until HR says it is net pay.
HEADERS = ["Staff Ref", "Full Name", "Gross", "Disbursed", "Branch"]
ROWS = [("K-01", "Lata Menon", 21000, 19500.5, "Pune"),
        ("K-02", "Farid Shaikh", 18000, 17100, "Pune"),
        ("K-03", "Nisha Rao", 30000, 27250.25, "Nashik")]


def sheet(rows=ROWS):
    return xlsx_bytes(rows=rows, headers=HEADERS)


def upload_row(app, upload_id):
    with app.app_context():
        row = db.session.get(Upload, upload_id)
        return row.status, row.preview


def recheck(client, upload_id, page_html, **choices):
    """Post the mapping form as the browser would: every select, with the ones changed."""
    form = {"signature": re.search(r'name="signature" value="([^"]+)"', page_html).group(1)}
    for letter, was in re.findall(r'name="was_([A-Z]+)" value="([^"]*)"', page_html):
        form[f"was_{letter}"] = was
        form[f"col_{letter}"] = choices.get(letter, was)
    return client.post(f"/uploads/{upload_id}/recheck", data=form)


def test_a_refused_sheet_shows_how_each_column_was_read_with_a_choice_per_column(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, sheet()))
    status, preview = upload_row(app, upload_id)
    assert status == "rejected" and "lacks a net pay column" in preview["fatal"]
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "How each column was understood" in page
    assert 'name="col_D"' in page and "Disbursed" in page
    assert "Check again with these columns" in page


def test_mapping_a_column_by_hand_checks_again_without_a_new_upload(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, sheet()))
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    response = recheck(hr_client, upload_id, page, D="net")
    assert response.status_code == 302
    status, preview = upload_row(app, upload_id)
    assert status == "preview", preview["fatal"]
    assert preview["employee_count"] == 3 and preview["totals"]["net"] == "63850.75"
    entry = next(e for e in preview["mapping"] if e["column"] == "D")
    assert entry["name"] == "net" and entry["confidence"] == "yours"
    hr_client.post(f"/uploads/{upload_id}/confirm")
    with app.app_context():
        nets = db.session.scalars(sa.select(SalaryRow.net).order_by(SalaryRow.sheet_row)).all()
    assert [str(n) for n in nets] == ["19500.50", "17100.00", "27250.25"]


def test_next_months_sheet_of_the_same_layout_imports_with_no_questions(app, hr_client):
    first = upload_id_of(upload(hr_client, sheet()))
    recheck(hr_client, first, hr_client.get(f"/uploads/{first}").get_data(as_text=True), D="net")
    november = [(code, name, gross + 500, net + 500, branch) for code, name, gross, net, branch in ROWS]
    second = upload_id_of(upload(hr_client, sheet(november), month=11))
    status, preview = upload_row(app, second)
    assert status == "preview" and preview["totals"]["net"] == "65350.75"
    entry = next(e for e in preview["mapping"] if e["column"] == "D")
    assert entry["confidence"] == "remembered"


def test_a_mapping_is_remembered_for_its_own_tenant_only(app, hr_client, people):
    first = upload_id_of(upload(hr_client, sheet()))
    recheck(hr_client, first, hr_client.get(f"/uploads/{first}").get_data(as_text=True), D="net")
    other = login(app.test_client(), "hr@bharat.test")
    status, _ = upload_row(app, upload_id_of(upload(other, sheet())))
    assert status == "rejected"


def test_a_field_that_does_not_exist_is_refused_in_plain_words(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, sheet()))
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    response = recheck(hr_client, upload_id, page, D="salary_of_the_ceo")
    assert response.status_code == 302
    follow = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "is not a field Paydash stores" in follow
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SheetLayout.id))) == 0


def test_hr_reads_all_sheets_of_one_layout_as_one_month_and_it_is_remembered(app, hr_client):
    import sheet_builders as sb  # noqa: PLC0415
    headers = ["Emp Code", "Name", "Gross", "Net Pay"]
    sheets = [("Pune", [headers, ["P1", "Lata", 100, 90], ["P2", "Farid", 200, 180]]),
              ("Goa", [headers, ["G1", "Nisha", 300, 270]])]
    data = sb.workbook(sheets, hidden=("Goa",))
    first = upload_id_of(upload(hr_client, data))
    status, preview = upload_row(app, first)
    assert preview["employee_count"] == 2 and preview["sheet_offer"] == [{"sheet": "Goa", "hidden": True}]
    page = hr_client.get(f"/uploads/{first}").get_data(as_text=True)
    assert "Read all these sheets as one month" in page
    form = {"signature": re.search(r'name="signature" value="([^"]+)"', page).group(1),
            "all_sheets_offered": "1", "all_sheets": "1"}
    hr_client.post(f"/uploads/{first}/recheck", data=form)
    status, preview = upload_row(app, first)
    assert (status, preview["employee_count"], preview["totals"]["net"]) == ("preview", 3, "540.00")
    assert preview["departments"] == {"Goa": 1, "Pune": 2}
    second = upload_id_of(upload(hr_client, data, month=11))
    assert upload_row(app, second)[1]["employee_count"] == 3
