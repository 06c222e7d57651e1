"""A demo tenant's past, so a first start has something to try: employees, a year of uploads
(one corrected re-upload), months worked out in the browser, a job that failed and was
retried, and a sheet ready to upload.

The uploads are real workbooks read by the real sheet reader, so their pages (preview,
mapping, totals) look exactly as a real upload's would. Nothing here runs a task: the rows
and ledger entries are written as the tasks would have left them, and chart data is
aggregated in-process by the caller (`demo.sync_missing_charts`).
"""
import datetime as dt
import hashlib
import io
import logging
import pathlib
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import Workbook

from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import JobState
from paydash.models import SalaryRow
from paydash.models import Tenant
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.payroll import employees
from paydash.payroll import monthly
from paydash.periods import month_label
from paydash.sheets.salary_sheet import read_salary_sheet

logger = logging.getLogger(__name__)

# The tenant's own template (DESIGN.md, "Sheets people really have"), a subset that maps fully.
SHEET_COLUMNS = (("Employee ID", "employee_code"), ("NAME", "employee_name"),
                 ("Department", "department"), ("SALARY", "fixed_salary"),
                 ("ABSENT", "absent_days"), ("OT", "ot_hours"), ("CHARGES", "ot_pay"),
                 ("LATE", "late_minutes"), ("AMT", "late_deduction"), ("INCENTIVE", "incentive"),
                 ("SAL+OT", "gross"), ("TDS", "tds"), ("ADVANCE", "advance"),
                 ("NETT PAYABLE", "net"))
BROWSER_MONTHS = 2  # the most recent months are worked out in the browser, the rest uploaded
SAMPLE_NAME = "demo-salary-sheet-{year}-{month:02d}.xlsx"


def salary_workbook(rows: list[dict], title: str) -> bytes:
    """A salary sheet as HR keeps one: a title row, the header, one row per employee."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Salary"
    ws.append([title])
    ws.append([header for header, _ in SHEET_COLUMNS])
    for row in rows:
        ws.append([_cell(row[key]) for _, key in SHEET_COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _cell(value):
    return float(value) if isinstance(value, Decimal) else value


def _period(index: int) -> tuple[int, int]:
    year, month = divmod(index, 12)
    return year, month + 1


def _at(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A naive UTC time in the first days after the month: when HR did its payroll."""
    following = dt.datetime(year + month // 12, month % 12 + 1, 1)
    return following + dt.timedelta(days=day - 1, hours=hour, minutes=minute)


def _ledger_job(task: str, upload: Upload | None, tenant_id: int, user_id: int, year: int,
                month: int, at: dt.datetime, result: dict, queue: str, failures: tuple = ()):
    """A finished job with its timeline, as the worker would have written it."""
    job = jobs.create_job(task, args=(upload.id if upload else tenant_id, tenant_id),
                          queue=queue, tenant_id=tenant_id, upload_id=upload.id if upload else None,
                          year=year, month=month, requested_by_id=user_id)
    job.created_at = job.enqueued_at = at
    clock = at + dt.timedelta(seconds=1)
    for message in failures:
        jobs.add_event(job.id, JobState.STARTED.value, "started", worker="demo-worker")
        jobs.add_event(job.id, JobState.RETRY.value, message, worker="demo-worker")
        clock += dt.timedelta(seconds=60)
    jobs.add_event(job.id, JobState.STARTED.value, "started", worker="demo-worker")
    jobs.add_event(job.id, JobState.SUCCESS.value, "finished", worker="demo-worker")
    job.state, job.attempts, job.result = JobState.SUCCESS.value, len(failures) + 1, result
    job.started_at, job.finished_at = clock, clock + dt.timedelta(seconds=2)
    job.runtime_seconds = 2.0
    db.session.flush()
    for event in job.events:
        event.at = at  # one moment is enough for a demo timeline
    return job


def _upload(tenant_id: int, user_id: int, rows: list[dict], year: int, month: int,
            filename: str, at: dt.datetime) -> Upload:
    data = salary_workbook(rows, f"Salary for {month_label(year, month)}")
    report = read_salary_sheet(data)
    upload = Upload(tenant_id=tenant_id, uploaded_by_id=user_id, filename=filename, content=data,
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data), year=year,
                    month=month, status=UploadStatus.CONFIRMED.value, preview=report.as_preview(),
                    employee_count=report.employee_count, gross_total=report.totals["gross"],
                    net_total=report.totals["net"], error_count=report.error_count,
                    warning_count=len(report.warnings), created_at=at,
                    confirmed_at=at + dt.timedelta(minutes=3), confirmed_by_id=user_id)
    db.session.add(upload)
    db.session.flush()
    summary = {"upload_id": upload.id, "status": "preview", "employee_count": upload.employee_count,
               "error_count": upload.error_count, "warning_count": upload.warning_count}
    _ledger_job("import_salary_sheet", upload, tenant_id, user_id, year, month, at, summary, "imports")
    commit = _ledger_job("commit_salary_sheet", upload, tenant_id, user_id, year, month,
                         at + dt.timedelta(minutes=3), dict(summary, status="confirmed"), "imports")
    upload.job_id = commit.id
    return upload


def seed_history(tenant: Tenant, hr_user_id: int, rows: list[dict], last: int, months: int,
                 sample_dir: pathlib.Path | None = None) -> dict:
    """Write `months` months of history ending at month index `last` (see the module doc).

    `rows` come from `demo.generate_payroll` for the same months. Commits; returns counts.
    """
    by_month: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        by_month.setdefault((row["year"], row["month"]), []).append(row)
    in_browser = min(BROWSER_MONTHS, months - 1)  # at least one month comes from a sheet
    uploaded = [_period(i) for i in range(last - months + 1, last - in_browser + 1)]
    browser = [_period(i) for i in range(last - in_browser + 1, last + 1)]
    corrected = uploaded[-2] if len(uploaded) >= 2 else None
    for year, month in uploaded:
        period_rows = by_month.get((year, month), [])
        at = _at(year, month, 2, 5, 30)
        name = f"Salary {month_label(year, month)}.xlsx"
        if (year, month) == corrected:
            # The first file had one person's net pay wrong; HR uploaded the fixed one next day.
            wrong = [dict(r) for r in period_rows]
            wrong[0]["net"] = wrong[0]["net"] + 1000
            first = _upload(tenant.id, hr_user_id, wrong, year, month, name, at)
            first.status = UploadStatus.SUPERSEDED.value
            at, name = at + dt.timedelta(days=1), f"Salary {month_label(year, month)} (corrected).xlsx"
        upload = _upload(tenant.id, hr_user_id, period_rows, year, month, name, at)
        db.session.execute(sa.insert(SalaryRow), [
            dict(r, tenant_id=tenant.id, upload_id=upload.id) for r in period_rows])
        sync_failures = ("OperationalError: database is locked",) if (year, month) == corrected else ()
        _ledger_job("sync_chart_data_batch", None, tenant.id, hr_user_id, year, month,
                    at + dt.timedelta(minutes=4), {"year": year, "month": month,
                                                   "headcount": len(period_rows)},
                    "chart_sync", failures=sync_failures)
    db.session.commit()
    if uploaded:
        employees.sync_from_salary_rows(tenant.id, *uploaded[-1])
        db.session.commit()
    saved = _browser_months(tenant, hr_user_id, browser)
    sample = _write_sample(by_month, uploaded, browser, sample_dir)
    logger.info("demo history for tenant %s: %s uploaded months, %s browser months",
                tenant.id, len(uploaded), saved)
    return {"uploaded_months": len(uploaded), "browser_months": saved, "sample_sheet": sample}


def _browser_months(tenant: Tenant, user_id: int, periods: list[tuple[int, int]]) -> int:
    """Work the recent months out in the browser: saved, and all but the last marked paid."""
    saved = 0
    for number, (year, month) in enumerate(periods):
        staff = employees.employed_in_month(tenant.id, year, month)
        inputs = {str(e.id): {"ot_hours": str((e.id * 7) % 12)} for e in staff}
        monthly.save_month(tenant, year, month, inputs, user_id)
        db.session.commit()
        if number < len(periods) - 1:
            monthly.mark_paid(tenant.id, year, month, user_id)
            db.session.commit()
        saved += 1
    return saved


def _write_sample(by_month: dict, uploaded: list, browser: list, folder: pathlib.Path | None):
    """A ready sheet for HR to try: the latest uploaded month again, as a re-upload would be."""
    if folder is None or not uploaded:
        return None
    year, month = uploaded[-1]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SAMPLE_NAME.format(year=year, month=month)
    path.write_bytes(salary_workbook(by_month[(year, month)], f"Salary for {month_label(year, month)}"))
    return str(path)
