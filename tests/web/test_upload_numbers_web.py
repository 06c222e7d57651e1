"""What HR sees of the numbers before and after Confirm (issue 14), through Flask's client."""
import sqlalchemy as sa
from test_uploads_web import status_of
from test_uploads_web import upload
from test_uploads_web import upload_id_of
from test_uploads_web import xlsx_bytes

from paydash.extensions import db
from paydash.models import SalaryRow
from paydash.services import imports

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
