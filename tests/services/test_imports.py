"""Import services: receive → preview → confirm → rows, on SQLite (immediate mode) and PostgreSQL."""
import os
import tracemalloc
from decimal import Decimal

import pytest
import sheet_builders as sb
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.services import imports
from paydash.sheets.filecheck import FileRejected

HEADERS = ("Emp Code", "Name", "Department", "Gross", "Net Pay")


def sheet(rows) -> bytes:
    return sb.simple_sheet([list(r) for r in rows], headers=HEADERS)


def receive(app, people, data, tenant=None, user=None, month=10) -> int:
    with app.app_context():
        upload = imports.receive_upload(tenant or people.tenant_a, user or people.hr_a,
                                        "october.xlsx", data, 2025, month)
        return upload.id


def upload_of(app, upload_id) -> Upload:
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        _ = upload.preview, upload.status
        db.session.expunge(upload)
        return upload


def salary_rows(app, tenant_id, month=10) -> list[SalaryRow]:
    with app.app_context():
        rows = db.session.scalars(sa.select(SalaryRow).where(
            SalaryRow.tenant_id == tenant_id, SalaryRow.year == 2025, SalaryRow.month == month)
            .order_by(SalaryRow.employee_key)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def confirm(app, people, upload_id, keep_duplicates=False):
    with app.app_context():
        return imports.confirm_upload(upload_id, people.tenant_a, people.hr_a, keep_duplicates).id


THREE = [("E1", "Asha", "Sales", 30000.125, 28000.5), ("E2", "Ravi", "Stores", 20000, 19000),
         ("E3", "Meena", None, 0, 0)]


def test_receive_makes_a_preview_with_totals_and_stores_no_salary_row(app, people):
    upload_id = receive(app, people, sheet(THREE))
    upload = upload_of(app, upload_id)
    assert upload.status == UploadStatus.PREVIEW.value
    assert upload.preview["totals"]["gross"] == "50000.13"
    assert upload.preview["totals"]["net"] == "47000.50"
    assert upload.preview["departments"] == {"Sales": 1, "Stores": 1, "Unassigned": 1}
    assert (upload.employee_count, upload.net_total) == (3, Decimal("47000.50"))
    assert salary_rows(app, people.tenant_a) == []


def test_receive_stores_the_file_bytes_and_their_hash(app, people):
    data = sheet(THREE)
    upload_id = receive(app, people, data)
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        assert upload.content == data and upload.size == len(data) and len(upload.sha256) == 64
        assert db.session.get(Job, upload.job_id).task_name == "import_salary_sheet"


def test_a_refused_file_stores_nothing(app, people):
    with app.app_context():
        with pytest.raises(FileRejected):
            imports.receive_upload(people.tenant_a, people.hr_a, "x.xlsx", b"%PDF-1.4", 2025, 10)
        assert db.session.scalar(sa.select(sa.func.count(Upload.id))) == 0


def test_a_sheet_with_errors_is_rejected_with_its_errors(app, people):
    upload_id = receive(app, people, sheet([("E1", "Asha", "Sales", 100, "twelve thousand")]))
    upload = upload_of(app, upload_id)
    assert upload.status == UploadStatus.REJECTED.value
    assert upload.preview["errors"][0]["message"].startswith("Row 2, column 'Net Pay'")
    with app.app_context(), pytest.raises(imports.ImportRefused):
        imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)


def test_confirm_stores_the_rows(app, people):
    upload_id = receive(app, people, sheet(THREE))
    confirm(app, people, upload_id)
    rows = salary_rows(app, people.tenant_a)
    assert [(r.employee_key, r.net, r.department) for r in rows] == [
        ("E1", Decimal("28000.50"), "Sales"), ("E2", Decimal("19000.00"), "Stores"),
        ("E3", Decimal("0.00"), "Unassigned")]
    upload = upload_of(app, upload_id)
    assert upload.status == UploadStatus.CONFIRMED.value and upload.confirmed_by_id == people.hr_a


def test_confirm_requests_the_chart_sync_for_the_period(app, people):
    confirm(app, people, receive(app, people, sheet(THREE)))
    with app.app_context():
        sync = db.session.scalars(sa.select(Job).where(Job.task_name == "sync_chart_data_batch")).one()
        assert (sync.tenant_id, sync.year, sync.month) == (people.tenant_a, 2025, 10)


def test_reupload_replaces_the_month_and_missing_employees_disappear(app, people):
    first = receive(app, people, sheet(THREE))
    confirm(app, people, first)
    second = receive(app, people, sheet([("E1", "Asha", "Sales", 31000, 29000)]))
    confirm(app, people, second)
    assert [(r.employee_key, r.net) for r in salary_rows(app, people.tenant_a)] == [("E1", Decimal("29000.00"))]
    assert upload_of(app, first).status == UploadStatus.SUPERSEDED.value
    assert upload_of(app, second).status == UploadStatus.CONFIRMED.value


def test_reupload_leaves_other_months_alone(app, people):
    confirm(app, people, receive(app, people, sheet(THREE), month=9))
    confirm(app, people, receive(app, people, sheet(THREE[:1]), month=10))
    assert len(salary_rows(app, people.tenant_a, month=9)) == 3


DUPLICATED = [("RK", "Ravi Kumar", "Sales", 100, 90), ("RK", "Rekha Kapoor", "Sales", 200, 180)]


def test_duplicate_ids_are_refused_at_confirm_unless_kept(app, people):
    upload_id = receive(app, people, sheet(DUPLICATED))
    with app.app_context(), pytest.raises(imports.ImportRefused) as refused:
        imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)
    assert "'RK' in rows 2 and 3" in refused.value.message
    assert salary_rows(app, people.tenant_a) == []


def test_kept_duplicates_are_stored_as_separate_people(app, people):
    upload_id = receive(app, people, sheet(DUPLICATED))
    confirm(app, people, upload_id, keep_duplicates=True)
    rows = salary_rows(app, people.tenant_a)
    assert [(r.employee_key, r.employee_code, r.employee_name) for r in rows] == [
        ("RK", "RK", "Ravi Kumar"), ("RK#2", "RK", "Rekha Kapoor")]


def test_commit_run_twice_changes_nothing(app, people):
    upload_id = receive(app, people, sheet(THREE))
    confirm(app, people, upload_id)
    before = [(r.id, r.net) for r in salary_rows(app, people.tenant_a)]
    with app.app_context():
        summary = imports.commit_upload(upload_id, people.tenant_a)
        syncs = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.task_name == "sync_chart_data_batch", Job.tenant_id == people.tenant_a))
    assert summary["status"] == UploadStatus.CONFIRMED.value
    assert [(r.id, r.net) for r in salary_rows(app, people.tenant_a)] == before
    assert syncs == 1  # The second run asks for no second chart sync.


def test_validate_run_twice_keeps_the_preview(app, people):
    upload_id = receive(app, people, sheet(THREE))
    with app.app_context():
        summary = imports.validate_upload(upload_id, people.tenant_a)
    assert summary["status"] == UploadStatus.PREVIEW.value
    assert upload_of(app, upload_id).preview["employee_count"] == 3


def test_another_tenants_upload_id_is_refused_by_every_step(app, people, caplog):
    upload_id = receive(app, people, sheet(THREE))
    with app.app_context():
        assert "refused" in imports.validate_upload(upload_id, people.tenant_b)
        assert "refused" in imports.commit_upload(upload_id, people.tenant_b)
        with pytest.raises(imports.ImportRefused):
            imports.confirm_upload(upload_id, people.tenant_b, people.hr_b)
        with pytest.raises(imports.ImportRefused):
            imports.discard_upload(upload_id, people.tenant_b, people.hr_b)
    assert upload_of(app, upload_id).status == UploadStatus.PREVIEW.value
    assert salary_rows(app, people.tenant_b) == [] and salary_rows(app, people.tenant_a) == []
    assert "belongs to tenant" in caplog.text


def test_discarded_preview_cannot_be_confirmed(app, people):
    upload_id = receive(app, people, sheet(THREE))
    with app.app_context():
        imports.discard_upload(upload_id, people.tenant_a, people.hr_a)
        with pytest.raises(imports.ImportRefused):
            imports.confirm_upload(upload_id, people.tenant_a, people.hr_a)
    assert upload_of(app, upload_id).status == UploadStatus.DISCARDED.value


def test_a_confirmed_upload_cannot_be_discarded(app, people):
    upload_id = receive(app, people, sheet(THREE))
    confirm(app, people, upload_id)
    with app.app_context(), pytest.raises(imports.ImportRefused):
        imports.discard_upload(upload_id, people.tenant_a, people.hr_a)


def test_template_sheet_imports_end_to_end_with_the_sheets_totals(app, people):
    rows = sb.template_rows(50)
    upload_id = receive(app, people, sb.template_sheet(50, total=True))
    preview = upload_of(app, upload_id).preview
    assert preview["fatal"] is None and preview["errors"] == []
    confirm(app, people, upload_id)
    stored = salary_rows(app, people.tenant_a)
    assert len(stored) == 50
    assert sum(r.net for r in stored) == sum(sb.as_shown(r[15]) for r in rows)


@pytest.fixture
def pg_app(tmp_path, pg_url):
    app = make_app(base_config(tmp_path, pg_url, HUEY_IMMEDIATE=True))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_on_postgresql_confirm_then_reupload_replaces_the_month(pg_app):
    people = People(pg_app)
    first = receive(pg_app, people, sheet(THREE))
    assert upload_of(pg_app, first).preview["totals"]["net"] == "47000.50"
    confirm(pg_app, people, first)
    second = receive(pg_app, people, sheet(DUPLICATED))
    confirm(pg_app, people, second, keep_duplicates=True)
    rows = salary_rows(pg_app, people.tenant_a)
    assert [(r.employee_key, r.net) for r in rows] == [("RK", Decimal("90.00")), ("RK#2", Decimal("180.00"))]
    assert upload_of(pg_app, first).status == UploadStatus.SUPERSEDED.value


def test_confirmed_upload_fills_the_employee_master_and_tells_hr(app, people):
    from paydash.models import Employee
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "oct.xlsx",
                                        sb.classic_sheet(), 2026, 10)
        imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
        db.session.expire_all()
        changes = db.session.get(Upload, upload.id).preview["employee_changes"]
        codes = set(db.session.scalars(sa.select(Employee.code).where(
            Employee.tenant_id == people.tenant_a)))
        assert codes and {c["code"] for c in changes if c["kind"] == "new"} == codes


def test_a_paid_month_refuses_an_upload_confirmation(app, people):
    from paydash.models import PayrollMonth
    with app.app_context():
        db.session.add(PayrollMonth(tenant_id=people.tenant_a, year=2026, month=10, status="paid"))
        db.session.commit()
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "oct.xlsx",
                                        sb.classic_sheet(), 2026, 10)
        with pytest.raises(imports.ImportRefused, match="October 2026 is marked paid"):
            imports.confirm_upload(upload.id, people.tenant_a, people.hr_a)
        assert db.session.scalar(sa.select(sa.func.count(SalaryRow.id))) == 0


def stored_upload(app, people, content: bytes | None, staged: bytes | None = None,
                  status=UploadStatus.RECEIVED) -> int:
    """An upload stored as receive stores one (no job started); its id."""
    with app.app_context():
        upload = Upload(tenant_id=people.tenant_a, uploaded_by_id=people.hr_a,
                        filename="october.xlsx", content=content, staged_rows=staged,
                        sha256="0" * 64, size=len(content or b""), year=2025, month=10,
                        status=status.value)
        db.session.add(upload)
        db.session.commit()
        return upload.id


def test_validation_keeps_no_copy_of_the_workbook_in_the_worker(app, people, monkeypatch):
    """Issue 18: the workbook is read from a memory file; the worker holds no copy of its bytes.

    While the rows are read, no single block of the worker's memory is the workbook's size
    (a bytes object is one block; tracemalloc sees every one made after it starts, so the
    bytes loaded from the database for this validation would show here)."""
    data = sheet([(f"E{i}", f"Person {i}", "Sales", 30000 + i, 28000 + i) for i in range(3000)])
    upload_id = stored_upload(app, people, data)
    read, found = imports.read_salary_sheet, []

    def reading(package, **options):
        keep = options["keep"]

        def keeping(row):
            if not found:
                found.append([trace.size for trace in tracemalloc.take_snapshot().traces
                              if len(data) <= trace.size <= len(data) + 64])
            keep(row)
        return read(package, **dict(options, keep=keeping))
    monkeypatch.setattr(imports, "read_salary_sheet", reading)
    tracemalloc.start()
    try:
        with app.app_context():
            summary = imports.validate_upload(upload_id, people.tenant_a)
    finally:
        tracemalloc.stop()
    assert summary["status"] == UploadStatus.PREVIEW.value and summary["employee_count"] == 3000
    assert found == [[]]


@pytest.mark.parametrize("size", [0, 1, 256 * 1024, 3 * 1024 * 1024 + 17])
def test_the_stored_workbook_is_read_in_pieces_never_whole(app_on_each_database, monkeypatch, size):
    """Issue 18: the workbook goes from the database into its memory file a piece at a time.

    Loading the column whole held it in the worker for a moment (more than twice over on
    PostgreSQL, whose driver receives bytea as hex text); now nothing the size of the
    workbook is made, on either database, and every byte arrives, in order."""
    app = app_on_each_database
    people = People(app)
    monkeypatch.setattr(imports, "WORKBOOK_PIECE", 256 * 1024)
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = data[::-1] if size > 1 else data     # not one repeated block read twice
    upload_id = stored_upload(app, people, data if size else None)
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        tracemalloc.start()
        try:
            package = imports.stored_workbook(upload)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        try:
            assert os.fstat(package.fileno()).st_size == size
            assert package.head(size + 1) == data
        finally:
            package.close()
        db.session.rollback()
    # Three pieces at most in hand at once (the driver's text of one, its bytes, the next).
    assert peak < 3 * imports.WORKBOOK_PIECE + 256 * 1024, peak


def test_reading_an_uploads_staged_rows_loads_not_its_workbook(app_on_each_database):
    """Issue 18: the workbook and the staged rows are rows of their own (`UploadBlob`), so
    that changing the upload's row rewrites neither (SQLite's own memory, which the import
    bench measures); here, that each is loaded only when asked for, and the upload's
    status and staged rows change with the workbook never loaded."""
    app = app_on_each_database
    people = People(app)
    workbook = bytes(range(256)) * 16384        # 4 MB
    upload_id = stored_upload(app, people, workbook, b"staged", UploadStatus.PREVIEW)
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        tracemalloc.start()
        try:
            staged = upload.staged_rows
            upload.status = UploadStatus.CONFIRMED.value
            upload.staged_rows = None
            db.session.commit()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert staged == b"staged" and peak < len(workbook) // 4, peak
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        assert (upload.status, upload.staged_rows, upload.content) == (
            UploadStatus.CONFIRMED.value, None, workbook)
