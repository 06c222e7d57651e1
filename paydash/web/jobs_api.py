"""The job dashboard's JSON API: everything the pages show, and the same actions.

Reads follow the pages' access rules; actions are POSTs with the CSRF header (the pages'
`Paydash.api` sends it) and are audited like the forms. `/api/jobs/<id>` itself stays in
`paydash.web.api`.
"""
from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import request

from paydash.extensions import db
from paydash.ledger import actions
from paydash.ledger import stats
from paydash.ledger.dbclock import utcnow
from paydash.web.access import OPERATOR_ROLES
from paydash.web.access import get_visible_job_or_404
from paydash.web.access import job_filter
from paydash.web.access import login_required
from paydash.web.access import roles_required
from paydash.web.jobs import ACT_ROLES
from paydash.web.jobs import ADMIN_ROLES
from paydash.web.jobs import GLOBAL_ACT_ROLES
from paydash.web.jobs import actor
from paydash.web.jobs import arg_links
from paydash.web.jobs import lease
from paydash.web.jobs import overview_data
from paydash.web.jobs import periodic_data

bp = Blueprint("jobs_api", __name__, url_prefix="/api")


def _refused(exc: Exception):
    db.session.rollback()
    return jsonify(error="Not done", detail=str(exc), status=409), 409


@bp.get("/jobs/overview")
@roles_required(*ADMIN_ROLES)
def overview():
    return jsonify(overview_data())


@bp.get("/jobs")
@login_required
def list_jobs():
    """Newest first; filters as on the page; `cursor` from `next_cursor` for the next page."""
    filters = stats.JobFilters.from_args(request.args)
    limit = min(max(request.args.get("limit", stats.PAGE_SIZE, type=int), 1), 200)
    rows, next_cursor = stats.list_jobs(job_filter, filters, request.args.get("cursor", ""), limit)
    now = utcnow()
    return jsonify(jobs=[stats.job_view(j, now, lease()) for j in rows],
                   next_cursor=next_cursor, filters=filters.as_query())


@bp.get("/jobs/<job_id>/events")
@login_required
def events(job_id: str):
    job = get_visible_job_or_404(job_id)
    return jsonify(job=stats.job_view(job, utcnow(), lease()), events=stats.events_of(job),
                   links=arg_links(job), traceback=job.traceback)


@bp.get("/jobs/<job_id>/live")
@login_required
def live(job_id: str):
    """What the detail page polls: the job's state, progress, attempts and timings; no events."""
    job = get_visible_job_or_404(job_id)
    return jsonify(job=stats.job_view(job, utcnow(), lease()))


@bp.get("/jobs/scheduled")
@roles_required(*ADMIN_ROLES)
def scheduled():
    now = utcnow()
    return jsonify(jobs=[stats.job_view(j, now, lease())
                         for j in stats.scheduled_jobs(job_filter, now)])


@bp.get("/workers")
@roles_required(*OPERATOR_ROLES)
def workers():
    return jsonify(workers=stats.workers_view(utcnow(), lease()))


@bp.get("/periodic")
@roles_required(*OPERATOR_ROLES)
def periodic():
    return jsonify(tasks=periodic_data())


@bp.post("/jobs/<job_id>/retry")
@roles_required(*ACT_ROLES)
def retry(job_id: str):
    return _act_on_job(actions.retry, job_id)


@bp.post("/jobs/<job_id>/revoke")
@roles_required(*ACT_ROLES)
def revoke(job_id: str):
    return _act_on_job(actions.revoke, job_id)


def _act_on_job(action, job_id: str):
    """Run one job action for a job the user may see; a refusal says why."""
    job = get_visible_job_or_404(job_id)
    try:
        action(job, actor())
    except actions.ActionRefused as exc:
        return _refused(exc)
    return jsonify(ok=True, job_id=job_id)


@bp.post("/jobs/retry")
@roles_required(*ACT_ROLES)
def bulk_retry():
    """Body (JSON): {"ids": [...]} or {"all": true, "filters": {...}} (the list's filters)."""
    body = request.get_json(silent=True) or {}
    if body.get("all"):
        chosen = stats.failed_matching(job_filter, stats.JobFilters.from_args(body.get("filters") or {}),
                                          actions.BULK_LIMIT)
    else:
        chosen = stats.visible_jobs(job_filter, [str(i) for i in body.get("ids") or []][:actions.BULK_LIMIT])
        if chosen is None:
            abort(404)
    return jsonify(ok=True, retried=actions.bulk_retry(chosen, actor()))


@bp.post("/tasks/<task_name>/<action>")
@roles_required(*GLOBAL_ACT_ROLES)
def task_action(task_name: str, action: str):
    """action: pause, resume or revoke-pending."""
    act = actor()
    try:
        if action == "pause":
            actions.pause(task_name, act)
            return jsonify(ok=True, paused=True)
        if action == "resume":
            actions.resume(task_name, act)
            return jsonify(ok=True, paused=False)
        if action == "revoke-pending":
            return jsonify(ok=True, revoked=actions.revoke_pending_of_task(task_name, act))
    except actions.ActionRefused as exc:
        return _refused(exc)
    abort(404)


@bp.post("/periodic/<task_name>/run")
@roles_required(*GLOBAL_ACT_ROLES)
def run_periodic(task_name: str):
    try:
        job = actions.run_periodic_now(task_name, actor())
    except actions.ActionRefused as exc:
        return _refused(exc)
    return jsonify(ok=True, job_id=job.id, requested_by=g.user.email)
