"""Tasks re-check the tenant of what they work on: a wrong tenant id changes nothing and is logged.

Task arguments are ids; a message with a mismatched upload and tenant (a bug, or someone
who can write to the broker with the signing key) must not move data across tenants.
"""
import hashlib
import logging
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hostile_files import valid_xlsx

from paydash.extensions import db
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Upload


def _upload(app, tenant_id: int, user_id: int, status: str = "received", preview=None) -> int:
    data = valid_xlsx()
    with app.app_context():
        upload = Upload(tenant_id=tenant_id, uploaded_by_id=user_id, filename="oct.xlsx",
                        content=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                        year=2024, month=10, status=status, preview=preview)
        db.session.add(upload)
        db.session.commit()
        return upload.id


def _state(app, upload_id: int) -> tuple:
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        rows = db.session.scalar(sa.select(sa.func.count(SalaryRow.id)))
        return upload.status, upload.preview, upload.employee_count, rows


@pytest.fixture
def tasks_module():
    from tasks import chart_sync  # noqa: PLC0415
    from tasks import imports  # noqa: PLC0415
    return imports, chart_sync


def test_import_with_another_tenants_id_is_refused_and_changes_nothing(app, people, tasks_module, caplog):
    upload_id = _upload(app, people.tenant_a, people.hr_a)
    before = _state(app, upload_id)
    with caplog.at_level(logging.WARNING), app.app_context():
        result = tasks_module[0].import_salary_sheet.call_local(upload_id, people.tenant_b)
    assert "refused" in result
    assert _state(app, upload_id) == before
    assert any(f"upload {upload_id} refused" in r.getMessage() for r in caplog.records)


def test_import_with_its_own_tenant_id_reads_the_sheet(app, people, tasks_module):
    upload_id = _upload(app, people.tenant_a, people.hr_a)
    with app.app_context():
        tasks_module[0].import_salary_sheet.call_local(upload_id, people.tenant_a)
    status, preview, count, _rows = _state(app, upload_id)
    assert (status, count) == ("preview", 3)


def test_commit_with_another_tenants_id_stores_no_rows(app, people, tasks_module, caplog):
    upload_id = _upload(app, people.tenant_a, people.hr_a)
    with app.app_context():
        tasks_module[0].import_salary_sheet.call_local(upload_id, people.tenant_a)
    before = _state(app, upload_id)
    with caplog.at_level(logging.WARNING), app.app_context():
        result = tasks_module[0].commit_salary_sheet.call_local(upload_id, people.tenant_b)
    assert "refused" in result
    assert _state(app, upload_id) == before
    assert before[3] == 0
    assert any(f"upload {upload_id} refused" in r.getMessage() for r in caplog.records)


def test_import_of_an_unknown_upload_changes_nothing(app, people, tasks_module):
    with app.app_context():
        result = tasks_module[0].import_salary_sheet.call_local(987654, people.tenant_a)
        assert db.session.scalar(sa.select(sa.func.count(Upload.id))) == 0
    assert "refused" in result


def test_chart_sync_for_one_tenant_never_reads_another_tenants_rows(app, people, tasks_module):
    with app.app_context():
        db.session.add(SalaryRow(tenant_id=people.tenant_b, year=2024, month=9, employee_key="E1",
                                 employee_code="E1", employee_name="Zubin Bharatonly",
                                 department="Stores", gross=Decimal(500), net=Decimal(450),
                                 fixed_salary=Decimal(500)))
        db.session.commit()
        tasks_module[1].sync_chart_data_batch.call_local(people.tenant_a, 2024, 9, "excel")
        tasks_module[1].sync_chart_data_batch.call_local(people.tenant_b, 2024, 9, "excel")
        a_rows = db.session.scalars(sa.select(ChartAggregatedData).where(
            ChartAggregatedData.tenant_id == people.tenant_a)).all()
        b_rows = db.session.scalars(sa.select(ChartAggregatedData).where(
            ChartAggregatedData.tenant_id == people.tenant_b)).all()
    assert not any(row.label == "Zubin Bharatonly" or row.department == "Stores" for row in a_rows)
    assert any(row.department == "Stores" for row in b_rows)
