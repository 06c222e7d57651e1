"""Salary sheet uploads: the form, the history, one upload's progress and preview, the downloads."""
import calendar
import datetime as dt
import logging
import math

import sqlalchemy as sa
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from paydash import audit
from paydash.extensions import db
from paydash.formatting import indian_number
from paydash.ledger.jobs import plain_status
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.models import Role
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.periods import month_label
from paydash.services import imports
from paydash.services import layouts
from paydash.services import sheet_rows
from paydash.sheets import exports
from paydash.sheets.filecheck import FileRejected
from paydash.sheets.headers import FIELDS
from paydash.web.access import client_ip
from paydash.web.access import get_owned_or_404
from paydash.web.access import job_filter
from paydash.web.access import keep_operators_out
from paydash.web.access import login_required
from paydash.web.access import tenant_filter
from paydash.web.job_titles import job_title
from paydash.web.links import attachment
from paydash.web.links import month_dashboard_url

logger = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__, url_prefix="/uploads")

HISTORY_PER_PAGE = 20
ERRORS_PER_PAGE = 50
MY_JOBS_SHOWN = 8
UPLOADER_ROLES = (Role.HR.value, Role.TENANT_ADMIN.value)
STATUS_WORDS = {
    UploadStatus.RECEIVED.value: "Waiting to be checked",
    UploadStatus.VALIDATING.value: "Being checked",
    UploadStatus.PREVIEW.value: "Ready to confirm",
    UploadStatus.REJECTED.value: "Rejected",
    UploadStatus.CONFIRMED.value: "Confirmed",
    UploadStatus.SUPERSEDED.value: "Replaced by a later upload",
    UploadStatus.DISCARDED.value: "Discarded",
    UploadStatus.FAILED.value: "Failed",
}
FIELD_CHOICES = [(spec.name, spec.label) for spec in FIELDS.values()]
CHECK_FAILED = ("Paydash could not finish reading this file. Upload it again; if it keeps "
                "failing, send the file to your administrator.")


# Uploads show each employee's name and pay: tenant users only (issue 16).
keep_operators_out(bp)


@bp.context_processor
def page_helpers():
    return {"money": money, "month_label": month_label, "status_words": STATUS_WORDS,
            "page_url": page_url}


@bp.get("")
@login_required
def index():
    """The upload form, the signed-in user's jobs and the tenant's upload history."""
    return _render_index(year=request.args.get("year", type=int),
                         month=request.args.get("month", type=int))


@bp.post("")
@login_required
def create():
    """Receive a workbook: a rejected file shows the form again with what to do."""
    _require_uploader()
    year, month = _form_period()
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _render_index(year, month, "Choose the .xlsx salary sheet to upload."), 400
    if year is None:
        return _render_index(year, month, "Pick the month this sheet is for."), 400
    try:
        upload = imports.receive_upload(g.user.tenant_id, g.user.id, upload_file.filename,
                                        upload_file.read(), year, month)
    except FileRejected as rejected:
        logger.info("upload refused for tenant %s: %s", g.user.tenant_id, rejected.code)
        _audit("upload.refused", f"Refused file {upload_file.filename}"[:200],
               **{"Why": rejected.message[:300]})
        return _render_index(year, month, rejected.message), 400
    except imports.ImportRefused as refused:
        return _render_index(year, month, refused.message), 400
    _audit("upload.received", _sheet_label("Uploaded", upload),
           **{"File": upload.filename, "Upload": upload.id})
    return redirect(url_for("uploads.detail", upload_id=upload.id))


@bp.get("/<int:upload_id>")
@login_required
def detail(upload_id: int):
    """One upload: the job's live progress, then the preview and the choice to confirm."""
    upload = get_owned_or_404(Upload, upload_id)
    preview = upload.preview
    errors = ListPage((preview or {}).get("errors") or [],
                      request.args.get("errors_page", 1, type=int), ERRORS_PER_PAGE)
    rows = sheet_rows.rows_page(upload, request.args.get("q", ""),
                                request.args.get("rows_page", 1, type=int))
    return render_template("uploads/detail.html", upload=upload, preview=preview, errors=errors,
                           state=upload_state(upload), rows=rows,
                           keep_both_label=imports.KEEP_BOTH_LABEL,
                           acknowledge_label=imports.ACKNOWLEDGE_LABEL,
                           dashboard_url=month_dashboard_url(upload.year, upload.month),
                           field_choices=FIELD_CHOICES, can_upload_here=can_upload())


@bp.post("/<int:upload_id>/confirm")
@login_required
def confirm(upload_id: int):
    """Commit the preview (in the background); refused with a message when it cannot be."""
    _require_uploader()
    upload = get_owned_or_404(Upload, upload_id)
    try:
        keep = bool(request.form.get("keep_duplicates"))
        checked = bool(request.form.get("acknowledge_checks"))
        imports.confirm_upload(upload.id, upload.tenant_id, g.user.id, keep_duplicates=keep,
                               acknowledge_checks=checked)
    except imports.ImportRefused as refused:
        flash(refused.message, "error")
    else:
        _audit("upload.confirmed", _sheet_label("Confirmed", upload),
               **{"File": upload.filename, "Upload": upload.id,
                  "Employees": upload.employee_count,
                  "Net pay": money(upload.net_total),
                  "Ids used twice kept as separate people": keep if upload.preview and
                  upload.preview.get("duplicates") else None,
                  "Rows to check acknowledged": checked or None})
    return redirect(url_for("uploads.detail", upload_id=upload.id))


@bp.post("/<int:upload_id>/recheck")
@login_required
def recheck(upload_id: int):
    """Read the stored file again with the columns HR chose (remembered for the layout)."""
    _require_uploader()
    upload = get_owned_or_404(Upload, upload_id)
    form = request.form
    all_sheets = bool(form.get("all_sheets")) if "all_sheets_offered" in form else None
    try:
        changed = layouts.parse_choices(form.to_dict())
        job = layouts.recheck_upload(upload.id, upload.tenant_id, g.user.id,
                                     form.get("signature", ""), changed, all_sheets)
    except layouts.MappingRefused as refused:
        flash(refused.message, "error")
    else:
        _audit("upload.rechecked", f"upload {upload.id}", job=job.id, columns=changed,
               all_sheets=all_sheets)
    return redirect(url_for("uploads.detail", upload_id=upload.id))


@bp.post("/<int:upload_id>/discard")
@login_required
def discard(upload_id: int):
    _require_uploader()
    upload = get_owned_or_404(Upload, upload_id)
    try:
        imports.discard_upload(upload.id, upload.tenant_id, g.user.id)
    except imports.ImportRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("uploads.detail", upload_id=upload.id))
    _audit("upload.discarded", _sheet_label("Discarded", upload),
           **{"File": upload.filename, "Upload": upload.id})
    flash(f"The upload of {upload.filename} was discarded; nothing from it was saved.", "success")
    return redirect(url_for("uploads.index"))


@bp.get("/<int:upload_id>/errors.xlsx")
@login_required
def error_report(upload_id: int):
    """Every error of an upload as a workbook (values neutralised against formula injection)."""
    upload = get_owned_or_404(Upload, upload_id)
    if not upload.preview:
        abort(404)
    stem = upload.filename.rsplit(".", 1)[0]
    return attachment(exports.error_report(upload.preview, upload.filename), f"{stem} - errors.xlsx")


@bp.get("/template.xlsx")
@login_required
def template():
    return attachment(exports.blank_template(), "Paydash salary template.xlsx")


# --- Helpers for the pages -------------------------------------------------------------------


def _render_index(year: int | None = None, month: int | None = None, error: str | None = None):
    default_year, default_month = last_month()
    max_mb = current_app.config["MAX_UPLOAD_MB"]
    history = db.paginate(
        tenant_filter(sa.select(Upload), Upload).order_by(Upload.created_at.desc(), Upload.id.desc()),
        page=request.args.get("page", 1, type=int), per_page=HISTORY_PER_PAGE, error_out=False)
    this_year, form_year = dt.date.today().year, year or default_year
    years = sorted({*range(this_year - 5, this_year + 2), form_year}, reverse=True)
    return render_template(
        "uploads/index.html", error=error, history=history, my_jobs=my_jobs(),
        can_upload=can_upload(), form_year=form_year, form_month=month or default_month,
        years=years, max_mb=max_mb,
        max_bytes=current_app.config.get("MAX_CONTENT_LENGTH") or max_mb * 1024 * 1024,
        month_names=[(n, calendar.month_name[n]) for n in range(1, 13)])


def can_upload() -> bool:
    return g.user.tenant_id is not None and g.user.role in UPLOADER_ROLES


def _require_uploader() -> None:
    if not can_upload():
        abort(403)


def _sheet_label(verb: str, upload: Upload) -> str:
    return f"{verb} {month_label(upload.year, upload.month)} salary sheet"


def _audit(action: str, target: str, **detail) -> None:
    """Record who did what to an upload, from where (its own small transaction)."""
    detail = {key: value for key, value in detail.items() if value is not None}
    audit.record(action, user_id=g.user.id, tenant_id=g.user.tenant_id, target=target,
                 detail=detail or None, ip=client_ip())
    db.session.commit()


def _form_period() -> tuple[int | None, int | None]:
    year = request.form.get("year", type=int)
    month = request.form.get("month", type=int)
    if year is None or not 2000 <= year <= 2100 or month is None or not 1 <= month <= 12:
        return None, month if month and 1 <= month <= 12 else None
    return year, month


def last_month(today: dt.date | None = None) -> tuple[int, int]:
    first = (today or dt.date.today()).replace(day=1)
    previous = first - dt.timedelta(days=1)
    return previous.year, previous.month


def money(value) -> str:
    """₹ with Indian digit grouping (₹12,34,567.89); a dash when there is no figure."""
    if value is None or value == "":
        return "—"
    try:
        text = indian_number(value, 2)
    except (TypeError, ValueError):
        return str(value)
    return "-₹" + text[1:] if text.startswith("-") else "₹" + text


def page_url(param: str, value: int) -> str:
    args = {**request.view_args, **request.args.to_dict(), param: value}
    return url_for(request.endpoint, **args)


class ListPage:
    """A page of a plain list, shaped like Flask-SQLAlchemy's pagination for the pager macro."""

    def __init__(self, items: list, page: int, per_page: int):
        self.total = len(items)
        self.pages = max(1, math.ceil(self.total / per_page))
        self.page = min(max(page, 1), self.pages)
        self.items = items[(self.page - 1) * per_page:self.page * per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


# --- Where an upload stands ------------------------------------------------------------------


def _latest_job(*conditions) -> Job | None:
    stmt = sa.select(Job).where(*conditions).order_by(Job.created_at.desc()).limit(1)
    return db.session.scalars(stmt).first()


def upload_jobs(upload: Upload) -> tuple[Job | None, Job | None, Job | None]:
    """The upload's import job, its commit job and the chart sync the commit requested."""
    # upload.job_id names the upload's latest job (the commit once confirmed), so look both up.
    import_job = _latest_job(Job.upload_id == upload.id, Job.task_name == "import_salary_sheet")
    commit_job = _latest_job(Job.upload_id == upload.id, Job.task_name == "commit_salary_sheet")
    sync_job = None
    if commit_job is not None:
        sync_job = _latest_job(Job.task_name == "sync_chart_data_batch",
                               Job.tenant_id == upload.tenant_id, Job.year == upload.year,
                               Job.month == upload.month, Job.created_at >= commit_job.created_at)
    return import_job, commit_job, sync_job


def upload_state(upload: Upload) -> dict:
    """What the page shows now: the job to watch, a headline, a message, the choices."""
    import_job, commit_job, sync_job = upload_jobs(upload)
    trail = [(label, job) for label, job in (("Check", import_job), ("Save", commit_job),
                                             ("Dashboard update", sync_job)) if job]
    state = {"watch": None, "wait_for_next": False, "done": False, "can_confirm": False,
             "message": None, "message_class": "muted", "trail": trail}
    status = upload.status
    # A failed check is retried by its job: follow the retry instead of showing the failure.
    retrying = (status == UploadStatus.FAILED.value and import_job is not None
                and import_job.state not in FINISHED_STATES)
    if status in (UploadStatus.RECEIVED.value, UploadStatus.VALIDATING.value) or retrying:
        return _checking(state, import_job)
    if commit_job is not None and commit_job.state not in FINISHED_STATES:
        return dict(state, headline="Saving the salary rows", watch=commit_job)
    if status == UploadStatus.CONFIRMED.value:
        return _confirmed(state, commit_job, sync_job)
    if status == UploadStatus.PREVIEW.value:
        state.update(headline="Checked — review and confirm", can_confirm=can_upload())
        if commit_job is not None and commit_job.state == JobState.FAILURE.value:
            state.update(message=f"Saving did not finish: {plain_status(commit_job)}. "
                                 "Nothing was changed; you can confirm again.",
                         message_class="flash flash-error")
        return state
    headlines = {
        UploadStatus.REJECTED.value: "Checked — this sheet needs fixing",
        UploadStatus.SUPERSEDED.value: "Replaced by a later upload of the same month",
        UploadStatus.DISCARDED.value: "Discarded — nothing from this file was saved",
        UploadStatus.FAILED.value: "The check could not finish",
    }
    state["headline"] = headlines.get(status, STATUS_WORDS.get(status, status))
    if status == UploadStatus.FAILED.value:
        state.update(message=CHECK_FAILED, message_class="flash flash-error")
    return state


def _checking(state: dict, import_job: Job | None) -> dict:
    state["headline"] = "Checking the sheet"
    if import_job is not None and import_job.state not in FINISHED_STATES:
        state["watch"] = import_job
    elif import_job is not None and import_job.state != JobState.SUCCESS.value:
        state.update(headline="The check could not finish", message=CHECK_FAILED,
                     message_class="flash flash-error")
    else:
        # The job row is not written yet, or it finished a moment before the upload row.
        state["wait_for_next"] = True
    return state


def _confirmed(state: dict, commit_job: Job | None, sync_job: Job | None) -> dict:
    if sync_job is not None and sync_job.state not in FINISHED_STATES:
        return dict(state, headline="Saved — updating the dashboard", watch=sync_job)
    if sync_job is not None and sync_job.state != JobState.SUCCESS.value:
        return dict(state, headline="Saved — the dashboard was not updated",
                    message=f"The salary rows are saved. Dashboard update: {plain_status(sync_job)}.",
                    message_class="flash flash-error")
    return dict(state, headline="Saved", done=True)


def my_jobs() -> list[dict]:
    """The jobs the signed-in user started, newest first, in plain words."""
    stmt = job_filter(sa.select(Job)).where(Job.requested_by_id == g.user.id)
    jobs = db.session.scalars(stmt.order_by(Job.created_at.desc()).limit(MY_JOBS_SHOWN)).all()
    return [{"job": job, "title": job_title(job), "status": plain_status(job),
             "finished": job.state in FINISHED_STATES, "upload_id": job.upload_id}
            for job in jobs]


