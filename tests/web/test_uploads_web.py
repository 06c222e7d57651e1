"""The upload pages through Flask's client; immediate mode runs the import tasks at once."""
import io
import re

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import login
from conftest import make_app
from openpyxl import Workbook
from openpyxl import load_workbook

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import AuditLog
from paydash.models import SalaryRow
from paydash.models import Upload

HEADERS = ["Employee ID", "NAME", "SALARY", "SAL+OT", "NETT PAYABLE", "Department"]
ROWS = [
    ("E001", "Ravi Kumar", 30000, 32000.50, 30000.25, "Sales"),
    ("E002", "Meena Iyer", 45000, 45000, 42000.10, "Accounts"),
    ("E003", "Joseph Dsouza", 25000, 26500, 25000.40, None),
]
GROSS, NET = "1,03,500.50", "97,000.75"


def xlsx_bytes(rows=ROWS, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Salary Oct"
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def text_cell(data: bytes, ref: str) -> bytes:
    """The workbook with one cell stored as text, as Excel does for a value typed after an apostrophe."""
    wb = load_workbook(io.BytesIO(data))
    wb.active[ref].data_type = "s"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, filename="october.xlsx", year=2024, month=10, **extra):
    form = {"year": str(year), "month": str(month), "file": (io.BytesIO(data), filename)}
    form.update(extra)
    return client.post("/uploads", data=form, content_type="multipart/form-data")


def upload_id_of(response) -> int:
    assert response.status_code == 302, response.data[:800]
    return int(re.search(r"/uploads/(\d+)$", response.headers["Location"]).group(1))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def status_of(app, upload_id: int) -> str:
    with app.app_context():
        return db.session.get(Upload, upload_id).status


@pytest.fixture
def uploaded(hr_client):
    """A valid sheet uploaded (and checked) for October 2024 by Asha of tenant A."""
    return upload_id_of(upload(hr_client, xlsx_bytes()))


def test_upload_page_offers_the_month_the_template_and_the_size_limit(hr_client):
    page = hr_client.get("/uploads").get_data(as_text=True)
    assert 'name="month"' in page and 'name="year"' in page and 'type="file"' in page
    assert "/uploads/template.xlsx" in page
    assert "up to 100 MB" in page


def test_upload_shows_the_preview_with_employee_count_and_totals(hr_client, uploaded):
    page = hr_client.get(f"/uploads/{uploaded}").get_data(as_text=True)
    assert GROSS in page and NET in page
    assert re.search(r'data-kpi="employees">3<', page)
    assert "Confirm and save October 2024" in page


def test_preview_shows_how_each_column_was_understood_and_departments(hr_client, uploaded):
    page = hr_client.get(f"/uploads/{uploaded}").get_data(as_text=True)
    assert "NETT PAYABLE" in page and "How each column was understood" in page
    assert "Unassigned" in page and "Accounts" in page


def test_nothing_is_stored_as_salary_rows_before_confirmation(app, uploaded):
    assert count(app, SalaryRow) == 0
    assert status_of(app, uploaded) == "preview"


def test_a_renamed_pdf_is_refused_with_its_message_and_nothing_is_stored(app, hr_client):
    response = upload(hr_client, b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "salary.xlsx")
    assert response.status_code == 400
    assert "PDF" in response.get_data(as_text=True)
    assert count(app, Upload) == 0 and count(app, Job) == 0


def test_a_refused_file_keeps_the_chosen_month_in_the_form(hr_client):
    page = upload(hr_client, b"%PDF-1.7\n%%EOF\n", "salary.xlsx", year=2023, month=3)
    html = page.get_data(as_text=True)
    assert '<option value="3" selected>' in html and '<option value="2023" selected>' in html


def test_an_upload_without_a_file_asks_for_one(hr_client):
    response = hr_client.post("/uploads", data={"year": "2024", "month": "10"})
    assert response.status_code == 400
    assert "Choose the .xlsx salary sheet" in response.get_data(as_text=True)


def test_confirm_stores_the_rows_and_marks_the_upload_confirmed(app, hr_client, uploaded):
    response = hr_client.post(f"/uploads/{uploaded}/confirm")
    assert response.status_code == 302
    assert status_of(app, uploaded) == "confirmed"
    with app.app_context():
        rows = db.session.scalars(sa.select(SalaryRow).order_by(SalaryRow.employee_code)).all()
        assert [r.employee_code for r in rows] == ["E001", "E002", "E003"]
        assert str(sum(r.net for r in rows)) == "97000.75"


def test_upload_and_confirm_are_recorded_in_the_audit_log_with_who_and_where(app, people,
                                                                            hr_client, uploaded):
    hr_client.post(f"/uploads/{uploaded}/confirm")
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id)
                                     .where(AuditLog.action.like("upload.%"))).all()
        assert [(e.action, e.target, e.user_id) for e in entries] == [
            ("upload.received", "Uploaded October 2024 salary sheet", people.hr_a),
            ("upload.confirmed", "Confirmed October 2024 salary sheet", people.hr_a)]
        assert entries[1].detail["Upload"] == uploaded
        assert "False" not in str(entries[1].detail) and "_" not in "".join(entries[1].detail)
        assert entries[0].ip == "127.0.0.1" and entries[0].tenant_id == people.tenant_a


def test_after_confirm_the_page_says_done_and_links_the_months_dashboard(hr_client, uploaded):
    hr_client.post(f"/uploads/{uploaded}/confirm")
    page = hr_client.get(f"/uploads/{uploaded}").get_data(as_text=True)
    assert "Done — the dashboard shows October 2024" in page
    assert "from=2024-10" in page and "to=2024-10" in page


def broken_reader(*args, **kwargs):
    raise RuntimeError("reader crashed")


def test_a_check_that_crashed_is_followed_while_its_job_retries(app, hr_client, monkeypatch):
    monkeypatch.setattr("paydash.services.imports.read_salary_sheet", broken_reader)
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes()))
    with app.app_context():
        job = db.session.get(Job, db.session.get(Upload, upload_id).job_id)
        assert job.state == "RETRY"
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert f'data-watch-job="{job.id}"' in page and "Retrying after an error" in page
    assert "Traceback" not in page and "reader crashed" not in page


def test_a_check_that_failed_for_good_says_what_to_do(app, hr_client, monkeypatch):
    app.config["IMPORT_RETRIES"] = 0
    monkeypatch.setattr("paydash.services.imports.read_salary_sheet", broken_reader)
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes()))
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "The check could not finish" in page and "Upload it again" in page
    assert "data-watch-job" not in page and "Traceback" not in page


def test_discard_keeps_nothing_and_marks_the_upload_discarded(app, hr_client, uploaded):
    response = hr_client.post(f"/uploads/{uploaded}/discard")
    assert response.status_code == 302
    assert status_of(app, uploaded) == "discarded"
    assert count(app, SalaryRow) == 0


DUPLICATE_ROWS = [
    ("RK", "Ravi Kumar", 30000, 30000, 28000, "Sales"),
    ("RK", "Rekha Kapoor", 20000, 20000, 19000, "Sales"),
]


def test_duplicate_ids_are_shown_with_both_rows_and_names(hr_client):
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(DUPLICATE_ROWS)))
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "Ravi Kumar" in page and "Rekha Kapoor" in page
    assert 'name="keep_duplicates"' in page


def test_duplicate_ids_are_not_confirmed_without_the_keep_both_choice(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(DUPLICATE_ROWS)))
    page = hr_client.post(f"/uploads/{upload_id}/confirm", follow_redirects=True)
    assert "used by more than one row" in page.get_data(as_text=True)
    assert status_of(app, upload_id) == "preview"
    assert count(app, SalaryRow) == 0


def test_keeping_both_stores_two_separate_people(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(DUPLICATE_ROWS)))
    hr_client.post(f"/uploads/{upload_id}/confirm", data={"keep_duplicates": "1"})
    assert status_of(app, upload_id) == "confirmed"
    with app.app_context():
        names = db.session.scalars(sa.select(SalaryRow.employee_name)).all()
    assert sorted(names) == ["Ravi Kumar", "Rekha Kapoor"]


BAD_ROWS = [
    ("E001", "Ravi Kumar", 30000, 32000, "twelve thousand", "Sales"),
    ("E002", "Meena Iyer", 45000, 45000, 42000, "Sales"),
]


def test_a_rejected_upload_shows_its_errors_and_offers_the_report(app, hr_client):
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(BAD_ROWS)))
    assert status_of(app, upload_id) == "rejected"
    page = hr_client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert "twelve thousand" in page
    assert page.count(f"/uploads/{upload_id}/errors.xlsx") == 1  # One offer, in the rejected card.
    assert "Confirm and save" not in page


def test_the_error_report_downloads_every_error_with_row_and_column(hr_client):
    upload_id = upload_id_of(upload(hr_client, xlsx_bytes(BAD_ROWS)))
    response = hr_client.get(f"/uploads/{upload_id}/errors.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(load_workbook(io.BytesIO(response.data))["Errors"].iter_rows(values_only=True))
    assert rows[0] == ("Row", "Column", "Header", "Value", "Message")
    assert any(r[0] == 2 and r[3] == "twelve thousand" for r in rows[1:])


def test_the_error_report_neutralises_a_formula_typed_as_text_in_the_sheet(hr_client):
    data = xlsx_bytes([("E001", "Ravi Kumar", 30000, 32000, "=1+1", "Sales")])
    upload_id = upload_id_of(upload(hr_client, text_cell(data, "E2")))
    response = hr_client.get(f"/uploads/{upload_id}/errors.xlsx")
    cell = load_workbook(io.BytesIO(response.data))["Errors"]["D2"]
    assert cell.value == "'=1+1" and cell.data_type == "s"


def test_the_template_downloads_as_a_workbook_with_the_tenant_headers(hr_client):
    response = hr_client.get("/uploads/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    assert ws["A1"].value == "Employee ID" and ws["P1"].value == "NETT PAYABLE"


def test_history_lists_the_upload_with_uploader_counts_and_outcome(hr_client, uploaded):
    page = hr_client.get("/uploads").get_data(as_text=True)
    history = page[page.index("Upload history"):]
    assert "october.xlsx" in history and "Asha HR" in history and "October 2024" in history
    assert ">3<" in history and GROSS in history and NET in history
    assert "Ready to confirm" in history


def test_history_is_newest_first(hr_client):
    upload(hr_client, xlsx_bytes(), "first.xlsx")
    upload(hr_client, xlsx_bytes(), "second.xlsx")
    page = hr_client.get("/uploads").get_data(as_text=True)
    assert page.index("second.xlsx") < page.index("first.xlsx")


def test_history_pages_past_twenty_uploads(hr_client):
    for number in range(21):
        upload(hr_client, xlsx_bytes(), f"sheet-{number:02d}.xlsx")
    first = hr_client.get("/uploads").get_data(as_text=True)
    second = hr_client.get("/uploads?page=2").get_data(as_text=True)
    assert "sheet-20.xlsx" in first and "sheet-00.xlsx" not in first
    assert "sheet-00.xlsx" in second and "Page 2 of 2" in second


def test_while_the_check_waits_for_a_worker_the_page_follows_its_job(queued_app):
    People(queued_app)
    client = login(queued_app.test_client(), "hr@acme.test")
    upload_id = upload_id_of(upload(client, xlsx_bytes()))
    with queued_app.app_context():
        job_id = db.session.get(Upload, upload_id).job_id
    page = client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert f'data-watch-job="{job_id}"' in page and f"/api/jobs/{job_id}" in page
    assert "Waiting for a worker" in page
    assert client.get(f"/api/jobs/{job_id}").get_json()["state"] == "PENDING"


def test_my_jobs_lists_the_jobs_i_started_in_plain_words(hr_client, uploaded):
    hr_client.post(f"/uploads/{uploaded}/confirm")
    page = hr_client.get("/uploads").get_data(as_text=True)
    jobs = page[page.index("My jobs"):page.index("Upload history")]
    assert "salary sheet checked" in jobs and "salary sheet saved" in jobs
    assert "Done" in jobs


def test_my_jobs_does_not_list_a_colleagues_jobs(app, hr_client, uploaded):
    colleague = login(app.test_client(), "hr2@acme.test")
    page = colleague.get("/uploads").get_data(as_text=True)
    jobs = page[page.index("My jobs"):page.index("Upload history")]
    assert "salary sheet checked" not in jobs


def test_another_tenants_upload_is_not_found_for_page_confirm_discard_and_report(app, uploaded):
    other = login(app.test_client(), "hr@bharat.test")
    answers = {path: getattr(other, method)(path).status_code for method, path in [
        ("get", f"/uploads/{uploaded}"), ("post", f"/uploads/{uploaded}/confirm"),
        ("post", f"/uploads/{uploaded}/discard"), ("get", f"/uploads/{uploaded}/errors.xlsx")]}
    assert set(answers.values()) == {404}, answers
    assert status_of(app, uploaded) == "preview"


def test_another_tenants_uploads_are_not_in_the_history(app, uploaded):
    other = login(app.test_client(), "hr@bharat.test")
    assert "october.xlsx" not in other.get("/uploads").get_data(as_text=True)


def test_an_operator_neither_sees_uploads_nor_uploads(app, people, uploaded):
    """Uploads show each employee's name and pay: operators run jobs, not payroll (issue 16)."""
    operator = login(app.test_client(), "ops@paydash.test")
    page = operator.get("/uploads")
    assert page.status_code == 403 and "october.xlsx" not in page.get_data(as_text=True)
    assert upload(operator, xlsx_bytes()).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/uploads")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def csrf_client(tmp_path, sqlite_url):
    """Asha signed in to an app with CSRF protection on, as in production."""
    app = make_app(base_config(tmp_path, sqlite_url, HUEY_IMMEDIATE=True, WTF_CSRF_ENABLED=True))
    People(app)
    yield app, login(app.test_client(), "hr@acme.test")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_post_without_the_csrf_token_is_refused(csrf_client):
    app, client = csrf_client
    response = upload(client, xlsx_bytes())
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert count(app, Upload) == 0


def test_a_post_with_the_csrf_token_is_accepted(csrf_client):
    _app, client = csrf_client
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/uploads").get_data(as_text=True)).group(1)
    assert upload(client, xlsx_bytes(), csrf_token=token).status_code == 302
