"""One upload end to end through the real `huey_consumer`, on the SQLite queue and on Redis.

Receive → validate (import job) → preview → confirm → commit job → chart sync job →
aggregated chart data that matches the sheet's own totals.
"""
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import People
from conftest import base_config
from conftest import make_app
from conftest import wait_for
from openpyxl import Workbook

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.models import ChartAggregatedData
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.services import imports

pytestmark = pytest.mark.slow


def _sheet_bytes(rows: int = 40) -> tuple[bytes, Decimal, Decimal]:
    """A classic salary sheet and its gross and net totals."""
    wb = Workbook()
    ws = wb.active
    ws.append(["Acme Traders — Salary Register October 2026"])
    ws.append([])
    ws.append(["Emp Code", "Employee Name", "Department", "Gross", "TDS", "Net Pay"])
    gross_total = net_total = Decimal(0)
    for i in range(rows):
        gross = Decimal(20000 + i * 350)
        tds = (gross * Decimal("0.05")).quantize(Decimal("0.01"))
        net = gross - tds
        gross_total += gross
        net_total += net
        ws.append([f"E{i:04d}", f"Person {i}", ["Sales", "Plant", "Office"][i % 3],
                   float(gross), float(tds), float(net)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), gross_total, net_total


def _state(app, job_id):
    with app.app_context():
        job = db.session.get(Job, job_id)
        state = job.state if job else None
        db.session.rollback()
        return state


def _upload_status(app, upload_id):
    with app.app_context():
        status = db.session.get(Upload, upload_id).status
        db.session.rollback()
        return status


def _run_upload_end_to_end(app, start_consumer):
    people = People(app)
    data, gross_total, net_total = _sheet_bytes()
    start_consumer(app, workers=2)
    with app.app_context():
        upload = imports.receive_upload(people.tenant_a, people.hr_a, "october.xlsx", data, 2026, 10)
        upload_id, import_job = upload.id, upload.job_id
    wait_for(lambda: _state(app, import_job) == "SUCCESS", timeout=60, message="the import job")
    assert _upload_status(app, upload_id) == "preview"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SalaryRow.id))) == 0  # nothing stored yet
        preview = db.session.get(Upload, upload_id).preview
        assert Decimal(preview["totals"]["net"]) == net_total
        commit_job = imports.confirm_upload(upload_id, people.tenant_a, people.hr_a).id
    wait_for(lambda: _state(app, commit_job) == "SUCCESS", timeout=60, message="the commit job")

    def sync_done():
        with app.app_context():
            job = db.session.scalars(sa.select(Job).where(
                Job.task_name == "sync_chart_data_batch", Job.tenant_id == people.tenant_a)).first()
            state = job.state if job else None
            db.session.rollback()
            return state == "SUCCESS"

    wait_for(sync_done, timeout=60, message="the chart sync job")
    with app.app_context():
        dept = db.session.scalars(sa.select(ChartAggregatedData).where(
            ChartAggregatedData.tenant_id == people.tenant_a, ChartAggregatedData.kind == "dept",
            ChartAggregatedData.year == 2026, ChartAggregatedData.month == 10)).all()
        assert sum(row.headcount for row in dept) == 40
        assert sum(row.gross for row in dept) == gross_total
        assert sum(row.net for row in dept) == net_total
        assert _upload_status(app, upload_id) == "confirmed"


def test_upload_end_to_end_on_the_sqlite_queue(queued_app, start_consumer):
    _run_upload_end_to_end(queued_app, start_consumer)


def test_upload_end_to_end_on_redis_with_postgresql(tmp_path, pg_url, redis_queue, start_consumer):
    redis_url, name = redis_queue
    app = make_app(base_config(tmp_path, pg_url, REDIS_URL=redis_url, HUEY_NAME=name))
    try:
        _run_upload_end_to_end(app, start_consumer)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
