"""Salary sheet imports: receive, validate into a preview, confirm, commit, discard.

Services, not views: they need an app context (`db.session`, `current_app.config`) but no
request, so the upload pages, the tasks and the tests call the same functions. The tasks
`import_salary_sheet` and `commit_salary_sheet` are thin wrappers around `validate_upload`
and `commit_upload`; both re-check the tenant and are idempotent.
"""
import hashlib
import logging

import sqlalchemy as sa
from flask import current_app

from paydash.charts import aggregation
from paydash.clock import utcnow
from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.models import BLOB_STAGED
from paydash.models import BLOB_WORKBOOK
from paydash.models import SalaryRow
from paydash.models import Upload
from paydash.models import UploadBlob
from paydash.models import UploadStatus
from paydash.payroll import employees
from paydash.payroll import imported
from paydash.payroll import monthly
from paydash.periods import month_label
from paydash.services import bulk_insert
from paydash.services import layouts
from paydash.sheets import staging
from paydash.sheets.filecheck import check_upload
from paydash.sheets.reader import Package
from paydash.sheets.salary_sheet import SalarySheet
from paydash.sheets.salary_sheet import read_salary_sheet

logger = logging.getLogger(__name__)

INSERT_BATCH = 5000
WORKBOOK_PIECE = 4 * 1024 * 1024   # bytes of a stored workbook read at a time
VALIDATABLE = (UploadStatus.RECEIVED.value, UploadStatus.VALIDATING.value, UploadStatus.FAILED.value)
DISCARDABLE = (UploadStatus.PREVIEW.value, UploadStatus.REJECTED.value, UploadStatus.FAILED.value,
               UploadStatus.RECEIVED.value)
# The checkbox labels on the preview, quoted as they are in the refusals.
KEEP_BOTH_LABEL = "Keep both rows as separate people"
ACKNOWLEDGE_LABEL = "I have checked these rows; save them as they are"
INTERNAL_ERROR = ("Paydash could not finish reading this file because of an internal error. "
                  "It will try again; if it keeps failing, send the file to your administrator.")


class ImportRefused(Exception):
    """An import step that cannot be done now; `message` tells HR why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Receive (web) ------------------------------------------------------------------------


def receive_upload(tenant_id: int, user_id: int, filename: str, data: bytes,
                   year: int, month: int) -> Upload:
    """Check the file, store it with its import job in one transaction, then enqueue.

    Raises FileRejected (nothing stored) for a file that is not a usable .xlsx, and
    ImportRefused for an impossible period. A broker outage leaves the job queued.
    """
    check_upload(data, filename, current_app.config["MAX_CONTENT_LENGTH"])
    if not (1 <= int(month) <= 12 and 2000 <= int(year) <= 2100):
        raise ImportRefused(f"{month}/{year} is not a month Paydash can store. Pick a month.")
    upload = Upload(tenant_id=tenant_id, uploaded_by_id=user_id, filename=filename[:255],
                    content=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    year=int(year), month=int(month), status=UploadStatus.RECEIVED.value)
    db.session.add(upload)
    db.session.flush()
    job = jobs.create_job("import_salary_sheet", args=(upload.id, tenant_id), queue="imports",
                          tenant_id=tenant_id, upload_id=upload.id, year=upload.year,
                          month=upload.month, requested_by_id=user_id)
    upload.job_id = job.id
    upload_id = upload.id
    jobs.commit_and_dispatch(job)
    logger.info("upload %s received for tenant %s (%s bytes), job %s", upload_id, tenant_id,
                len(data), job.id)
    return db.session.get(Upload, upload_id)


# --- Validate (task import_salary_sheet) ----------------------------------------------------


def validate_upload(upload_id: int, tenant_id: int) -> dict:
    """Parse the stored workbook into `Upload.preview`; stores no salary row (idempotent)."""
    upload = _load(upload_id, tenant_id)
    if upload is None:
        return {"refused": f"upload {upload_id} does not belong to tenant {tenant_id}"}
    if upload.status not in VALIDATABLE:
        return _summary(upload)
    # The workbook goes into a memory file a piece at a time, so the worker never holds a
    # copy of its own, neither while loading nor while the rows are read (`stored_workbook`).
    package, sha256 = stored_workbook(upload), upload.sha256
    upload.status = UploadStatus.VALIDATING.value
    db.session.commit()
    # No transaction is open while parsing (the server ends one left idle for long; see
    # paydash/dbconnect.py): progress goes through its own connection.
    stager = staging.RowStager(sha256, staging_secret())
    try:
        report = read_salary_sheet(package, progress=_report_progress("Validating"),
                                   keep=stager.add, layouts=_layouts(upload))
    except Exception:
        logger.exception("upload %s: validation failed (tenant %s)", upload_id, tenant_id)
        db.session.rollback()
        _mark_failed(upload_id)
        raise
    finally:
        package.close()
    preview = report.as_preview()
    upload.preview = preview
    upload.employee_count = report.employee_count
    upload.gross_total = report.totals["gross"]
    upload.net_total = report.totals["net"]
    upload.error_count = report.error_count
    upload.warning_count = len(report.warnings)
    upload.status = (UploadStatus.PREVIEW if report.ok else UploadStatus.REJECTED).value
    upload.message = report.fatal or _error_summary(report.error_count)
    upload.staged_rows = _staged(upload, stager) if report.ok else None
    db.session.commit()
    logger.info("upload %s validated: %s, %s rows, %s errors", upload_id, upload.status,
                report.employee_count, report.error_count)
    return _summary(upload)


def stored_workbook(upload: Upload) -> Package:
    """The upload's stored file in a memory file (`reader.Package`), read in pieces.

    Loading the column whole held the workbook in the worker more than once for a moment:
    a 64 MB one took the worker from 166 to 484 MB on PostgreSQL, whose driver receives
    bytea as hex text. Pieces of `WORKBOOK_PIECE` bytes are read instead: through SQLite's
    incremental blob reading, or `substr()` of the column elsewhere (PostgreSQL reads only
    the stored chunks a slice needs). The caller closes the package.
    """
    return Package(_stored_pieces(upload.id))


def _stored_pieces(upload_id: int):
    where = (UploadBlob.upload_id == upload_id, UploadBlob.kind == BLOB_WORKBOOK)
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        found = db.session.execute(sa.select(sa.literal_column("rowid"),
                                             sa.func.length(UploadBlob.data)).where(*where)).first()
        if found is None or not found[1]:
            return   # none kept (or empty): the reader says the file cannot be read
        raw = connection.connection.driver_connection
        with raw.blobopen(UploadBlob.__table__.name, "data", found[0], readonly=True) as blob:
            while piece := blob.read(WORKBOOK_PIECE):
                yield piece
        return
    size = db.session.scalar(sa.select(sa.func.length(UploadBlob.data)).where(*where))
    for start in range(1, (size or 0) + 1, WORKBOOK_PIECE):
        yield db.session.scalar(sa.select(sa.func.substr(
            UploadBlob.data, start, WORKBOOK_PIECE, type_=sa.LargeBinary)).where(*where))


def _layouts(upload: Upload) -> dict:
    """The column mappings HR chose for the tenant's sheet layouts (issue 15)."""
    return layouts.layouts_for(upload.tenant_id, upload)


def staging_secret() -> bytes:
    """What staged rows are authenticated with (`staging`): the app's secret key."""
    secret = current_app.config["SECRET_KEY"]
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def _staged(upload: Upload, stager: staging.RowStager) -> bytes | None:
    blob = stager.blob()
    if blob is None:
        logger.warning("upload %s: rows not staged (%s); the commit will read the file again",
                       upload.id, stager.problem)
    return blob


def _report_progress(verb: str):
    def progress(done: int, total: int) -> None:
        jobs.checkpoint(done, total, verb)
    return progress


def _mark_failed(upload_id: int) -> None:
    db.session.execute(sa.update(Upload).where(Upload.id == upload_id)
                       .values(status=UploadStatus.FAILED.value, message=INTERNAL_ERROR))
    db.session.execute(UploadBlob.removal(BLOB_STAGED, upload_id))
    db.session.commit()


def _error_summary(count: int) -> str | None:
    if not count:
        return None
    return (f"{count:,} row problem{'s' if count != 1 else ''} to fix. Correct the file and "
            "upload it again; the error report lists each one.")


# --- Confirm (web) and commit (task commit_salary_sheet) ------------------------------------


def confirm_upload(upload_id: int, tenant_id: int, user_id: int,
                   keep_duplicates: bool = False, acknowledge_checks: bool = False) -> Job:
    """HR confirms a preview: enqueue its commit, or raise ImportRefused saying why not."""
    upload = _load(upload_id, tenant_id)
    if upload is None:
        raise ImportRefused("This upload does not exist.")
    pending = _pending_commit(upload)
    if pending is not None:
        return pending
    _check_confirmable(upload, keep_duplicates, acknowledge_checks)
    preview = dict(upload.preview or {})
    preview["confirmation"] = {"keep_duplicates": bool(keep_duplicates),
                               "acknowledged_checks": bool(acknowledge_checks), "by": user_id}
    upload.preview = preview
    upload.confirmed_by_id = user_id
    job = jobs.create_job("commit_salary_sheet", args=(upload.id, tenant_id), queue="imports",
                          tenant_id=tenant_id, upload_id=upload.id, year=upload.year,
                          month=upload.month, requested_by_id=user_id)
    upload.job_id = job.id
    jobs.commit_and_dispatch(job)
    logger.info("upload %s confirmed by user %s (tenant %s), job %s", upload_id, user_id,
                tenant_id, job.id)
    return job


def _pending_commit(upload: Upload) -> Job | None:
    """A commit already asked for and not finished (a double click confirms once)."""
    return db.session.scalars(
        sa.select(Job).where(Job.upload_id == upload.id, Job.task_name == "commit_salary_sheet",
                             Job.state.not_in(FINISHED_STATES))
    ).first()


def _check_confirmable(upload: Upload, keep_duplicates: bool, acknowledge_checks: bool) -> None:
    status = upload.status
    if status == UploadStatus.CONFIRMED.value:
        raise ImportRefused("This upload is already confirmed.")
    if status in (UploadStatus.RECEIVED.value, UploadStatus.VALIDATING.value):
        raise ImportRefused("This upload is still being checked. Wait for the preview.")
    if status != UploadStatus.PREVIEW.value:
        raise ImportRefused(f"This upload is {status} and cannot be confirmed. Upload the file "
                            "again.")
    if monthly.is_paid(upload.tenant_id, upload.year, upload.month):
        raise ImportRefused(f"{month_label(upload.year, upload.month)} is marked paid and locked. "
                            "Ask an admin to unlock it on the Payroll page first.")
    preview = upload.preview or {}
    if preview.get("error_count") or preview.get("fatal"):
        raise ImportRefused("This file has errors. Fix them and upload it again.")
    duplicates = preview.get("duplicates") or []
    if duplicates and not keep_duplicates:
        first = duplicates[0]
        rows = " and ".join(str(r["row"]) for r in first["rows"][:3])
        raise ImportRefused(
            f"{len(duplicates)} employee code(s) are used by more than one row (e.g. "
            f"'{first['code']}' in rows {rows}). Fix the file and upload it again, or tick "
            f"'{KEEP_BOTH_LABEL}' and confirm.")
    flagged = preview.get("check_warning_count") or 0
    if flagged and not acknowledge_checks:
        raise ImportRefused(
            f"{flagged:,} row{'s' if flagged != 1 else ''} need{'s' if flagged == 1 else ''} a "
            "look (listed under 'Rows to check'). Fix the file and upload it again, or tick "
            f"'{ACKNOWLEDGE_LABEL}' and confirm.")


def commit_upload(upload_id: int, tenant_id: int) -> dict:
    """Replace the period's salary rows with the upload's in one transaction (idempotent).

    Rows missing from the file disappear; the upload confirmed before for the period is
    marked superseded; then the chart sync for the period is requested. The job's claim is
    written before anything else (the ledger may hold it back otherwise; see
    `paydash.ledger.writer`), and the rows commit only while this attempt owns the job.
    """
    jobs.claim_now()
    upload = _load(upload_id, tenant_id)
    if upload is None:
        return {"refused": f"upload {upload_id} does not belong to tenant {tenant_id}"}
    if upload.status == UploadStatus.CONFIRMED.value:
        _ensure_chart_sync(upload)
        return _summary(upload)
    if upload.status != UploadStatus.PREVIEW.value:
        return dict(_summary(upload), refused=f"upload is {upload.status}, not a preview")
    if monthly.is_paid(tenant_id, upload.year, upload.month):
        # Paid between confirmation and now: the locked month keeps its rows.
        upload.message = (f"{month_label(upload.year, upload.month)} was marked paid before this "
                          "upload could be saved; nothing was changed.")
        db.session.commit()
        return dict(_summary(upload), refused="the period is marked paid")
    keep = bool(((upload.preview or {}).get("confirmation") or {}).get("keep_duplicates"))
    try:
        stored = _replace_period_rows(upload, keep)
    except Exception:
        logger.exception("upload %s: commit failed (tenant %s)", upload_id, tenant_id)
        db.session.rollback()
        raise
    if stored is None:
        return _summary(upload)
    _ensure_chart_sync(upload)
    logger.info("upload %s committed: %s rows for tenant %s %s-%02d", upload_id, stored,
                tenant_id, upload.year, upload.month)
    return dict(_summary(upload), rows=stored)


def _replace_period_rows(upload: Upload, keep_duplicates: bool) -> int | None:
    """Delete and insert in one transaction; None (and a rejected upload) if the rows disagree.

    The rows are the ones validation staged on the upload (`staging`); an upload without
    usable staged rows (validated before staging existed, or damaged) has its workbook
    parsed again, as every commit did before. Either way rows are inserted in batches as
    they stream, so memory stays flat. No progress is written meanwhile: on SQLite this
    transaction holds the write lock, and progress goes through another connection.
    """
    batches = _staged_batches(upload)
    if batches is not None:
        try:
            stored = _insert_staged_rows(upload, batches)
        except staging.StagedRowsUnusable as exc:
            logger.warning("upload %s: staged rows unusable (%s); reading the file again",
                           upload.id, exc)
            db.session.rollback()
        else:
            # Staged rows passed every check when validated; duplicates are HR's call.
            duplicates = bool((upload.preview or {}).get("duplicates"))
            return _conclude(upload, stored, duplicates and not keep_duplicates, None)
    package = stored_workbook(upload)
    try:
        sheet = SalarySheet(package, layouts=_layouts(upload))
        stored = _insert_period_rows(upload, sheet.rows())
    finally:
        package.close()
    report = sheet.report
    refused = not report.ok or bool(report.duplicates and not keep_duplicates)
    return _conclude(upload, stored, refused, report.fatal)


def _staged_batches(upload: Upload):
    """The upload's staged rows in batches of columns, or None when there are none to trust."""
    blob = upload.staged_rows
    if blob is None:
        logger.info("upload %s has no staged rows; reading the file again", upload.id)
        return None
    try:
        return staging.decode_columns(blob, upload.sha256, staging_secret(),
                                      numbers_as_text=True)
    except staging.StagedRowsUnusable as exc:
        logger.warning("upload %s: staged rows unusable (%s); reading the file again",
                       upload.id, exc)
        return None


def _insert_period_rows(upload: Upload, records) -> int:
    """Replace the period's rows with `records` inside the open transaction; the count."""
    _delete_period_rows(upload)
    fixed = _fixed_columns(upload)
    batch, stored = [], 0
    for record in records:
        record.update(fixed)
        batch.append(record)
        if len(batch) >= INSERT_BATCH:
            stored += _insert(batch)
            batch = []
    return stored + _insert(batch)


def _insert_staged_rows(upload: Upload, batches) -> int:
    """As `_insert_period_rows`, for the staged rows' batches of columns (`staging.decode_columns`).

    Inserted by column (`bulk_insert.insert_columns`): no dict per row to build and take
    apart again, which was half of a 100,000-row commit's insert; the numbers as the text
    they were staged as, no Decimal made of each.
    """
    _delete_period_rows(upload)
    fixed = _fixed_columns(upload)

    def insert(columns: dict) -> int:
        return bulk_insert.insert_columns(db.session, SalaryRow.__table__, columns, fixed,
                                          staging.NUMBER_COLUMNS)
    pending, size, stored = None, 0, 0
    for columns in batches:
        if pending is None:
            pending = columns
        else:
            for name, values in columns.items():
                pending[name] += values
        size += len(columns[staging.COLUMNS[0]])
        if size >= INSERT_BATCH:
            stored += insert(pending)
            pending, size = None, 0
    return stored + (insert(pending) if pending is not None else 0)


def _delete_period_rows(upload: Upload) -> None:
    db.session.execute(sa.delete(SalaryRow).where(
        SalaryRow.tenant_id == upload.tenant_id, SalaryRow.year == upload.year,
        SalaryRow.month == upload.month))


def _fixed_columns(upload: Upload) -> dict:
    """What every row of the upload stores alike."""
    return {"tenant_id": upload.tenant_id, "year": upload.year, "month": upload.month,
            "source": "excel", "upload_id": upload.id}


def _conclude(upload: Upload, stored: int, refused: bool, fatal: str | None) -> int | None:
    """Commit the replaced rows and a confirmed upload, or roll back and reject it.

    Either way the staged rows go: they were only ever a copy of what is now decided.
    """
    if refused:
        db.session.rollback()
        upload.status = UploadStatus.REJECTED.value
        upload.message = fatal or "The stored file no longer passes its checks."
        upload.staged_rows = None
        db.session.commit()
        return None
    _supersede_previous(upload)
    # The employee master follows the confirmed month; HR sees what changed on the upload.
    # New people start with the terms their rows state when this month's terms are carried.
    latest = imported.is_latest_month(upload.tenant_id, upload.year, upload.month)
    changes, count = employees.sync_from_salary_rows(upload.tenant_id, upload.year,
                                                     upload.month, limit=500, with_terms=latest)
    carried = imported.carry_terms(upload.tenant_id, upload.year, upload.month)
    upload.preview = dict(upload.preview or {}, employee_changes=changes,
                          employee_change_count=count, terms_carried=carried)
    upload.status = UploadStatus.CONFIRMED.value
    upload.confirmed_at = utcnow()
    upload.staged_rows = None
    jobs.fence()  # An attempt that lost its job to another changes nothing.
    db.session.commit()
    return stored


def _insert(batch: list[dict]) -> int:
    # COPY on PostgreSQL, the driver's executemany on SQLite (services/bulk_insert.py).
    return bulk_insert.insert_rows(db.session, SalaryRow.__table__, batch)


def _supersede_previous(upload: Upload) -> None:
    db.session.execute(
        sa.update(Upload)
        .where(Upload.tenant_id == upload.tenant_id, Upload.year == upload.year,
               Upload.month == upload.month, Upload.id != upload.id,
               Upload.status == UploadStatus.CONFIRMED.value)
        .values(status=UploadStatus.SUPERSEDED.value)
    )


def _ensure_chart_sync(upload: Upload) -> None:
    """Request the period's chart sync unless one was requested since the commit."""
    since = upload.confirmed_at
    asked = db.session.scalar(
        sa.select(sa.func.count(Job.id)).where(
            Job.task_name == "sync_chart_data_batch", Job.tenant_id == upload.tenant_id,
            Job.year == upload.year, Job.month == upload.month, Job.created_at >= since))
    if not asked:
        aggregation.request_sync(upload.tenant_id, upload.year, upload.month, "excel",
                            requested_by_id=upload.confirmed_by_id)


# --- Discard (web) --------------------------------------------------------------------------


def discard_upload(upload_id: int, tenant_id: int, user_id: int) -> None:
    """HR drops an upload that was never confirmed."""
    upload = _load(upload_id, tenant_id)
    if upload is None:
        raise ImportRefused("This upload does not exist.")
    if upload.status == UploadStatus.DISCARDED.value:
        return
    if upload.status not in DISCARDABLE or _pending_commit(upload) is not None:
        raise ImportRefused(f"This upload is {upload.status} and can no longer be discarded.")
    upload.status = UploadStatus.DISCARDED.value
    upload.staged_rows = None
    db.session.commit()
    logger.info("upload %s discarded by user %s (tenant %s)", upload_id, user_id, tenant_id)


# --- Shared ---------------------------------------------------------------------------------


def _load(upload_id: int, tenant_id: int) -> Upload | None:
    """The upload if it belongs to `tenant_id`; another tenant's is refused and logged."""
    upload = db.session.get(Upload, upload_id)
    if upload is not None and upload.tenant_id != tenant_id:
        logger.warning("upload %s refused: asked for tenant %s, belongs to tenant %s",
                       upload_id, tenant_id, upload.tenant_id)
        return None
    return upload


def _summary(upload: Upload) -> dict:
    return {"upload_id": upload.id, "status": upload.status,
            "employee_count": upload.employee_count, "error_count": upload.error_count,
            "warning_count": upload.warning_count}
