"""The job dashboard pages: overview, jobs list, job detail, scheduled, workers, periodic,
and the confirmed actions (each a GET confirmation page, then a POST that does it).
"""
import dataclasses
import logging

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

from paydash import accounts
from paydash.extensions import db
from paydash.ledger import actions
from paydash.ledger import stats
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.queue import registered_task_names
from paydash.models import Role
from paydash.periodic import periodic_schedules
from paydash.web.access import OPERATOR_ROLES
from paydash.web.access import client_ip
from paydash.web.access import get_visible_job_or_404
from paydash.web.access import is_operator
from paydash.web.access import job_filter
from paydash.web.access import login_required
from paydash.web.access import roles_required
from paydash.web.alerts import open_problems
from paydash.web.job_titles import TASK_NAMES
from paydash.web.job_titles import job_title
from paydash.web.job_titles import result_sentence
from paydash.web.links import month_dashboard_url
from paydash.web.times import in_display_zone

logger = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

ADMIN_ROLES = (*OPERATOR_ROLES, Role.TENANT_ADMIN.value)
ACT_ROLES = (Role.OPERATOR.value, Role.TENANT_ADMIN.value)
GLOBAL_ACT_ROLES = (Role.OPERATOR.value,)
STATES = [s.value for s in JobState] + [stats.WORKER_LOST]
# The states as HR reads them in its job list (admins see the state names).
STATE_WORDS = {"PENDING": "Waiting", "STARTED": "Running", "RETRY": "Retrying", "SUCCESS": "Done",
               "FAILURE": "Failed", "REVOKED": "Cancelled", stats.WORKER_LOST: "Stuck"}


@bp.app_template_filter("duration")
def duration(seconds) -> str:
    """12 s, 3 min 5 s, 2 h 10 min; a dash when unknown."""
    if seconds is None:
        return "—"
    seconds = int(round(float(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# --- Helpers shared with the JSON API ------------------------------------------------------


def huey():
    return current_app.extensions["huey"]


def lease() -> float:
    return float(current_app.config["LEASE_SECONDS"])


def tenant_scope() -> int | None:
    """None for operators (every tenant), else the signed-in user's tenant."""
    return None if is_operator() else g.user.tenant_id


def actor() -> actions.Actor:
    return actions.Actor(user_id=g.user.id, tenant_id=g.user.tenant_id,
                            label=g.user.email, ip=client_ip())


def overview_data() -> dict:
    now = utcnow()
    tenant_id = tenant_scope()  # the overview is for operators (None) and tenant admins
    data = stats.overview(tenant_id, registered_task_names(huey()), now)
    data["health"] = stats.health(huey(), lease(), now)
    if tenant_id is None and not is_operator():
        # No such user is created (an admin belongs to a tenant); should one exist, the
        # running jobs keep the access rule's own answer rather than "every tenant".
        data["running_jobs"] = [stats.job_view(j, now, lease()) for j in stats.running_jobs(job_filter)]
    else:
        data["running_jobs"] = stats.running_views(tenant_id, now, lease())
    return data


def periodic_data() -> list[dict]:
    now = utcnow()
    rows = stats.periodic_view(periodic_schedules(current_app.config["CLEANUP_TIMEZONE"]),
                                  actions.periodic_task_names(), now)
    paused = actions.paused_task_names()
    for row in rows:
        row["paused"] = row["task"] in paused
    return rows


def arg_links(job) -> list[dict]:
    """What started the job, as links: its tenant, its upload, its payroll month."""
    links = []
    if job.tenant_id:
        name = accounts.names_for([job])["tenants"].get(job.tenant_id, f"Tenant {job.tenant_id}")
        links.append({"label": "Tenant", "text": name,
                      "url": url_for("jobs.list_jobs", tenant=job.tenant_id)})
    if job.upload_id:
        links.append({"label": "Upload", "text": f"Upload #{job.upload_id}",
                      "url": url_for("uploads.detail", upload_id=job.upload_id)})
    if job.year and job.month:
        links.append({"label": "Month", "text": f"{job.year}-{job.month:02d}",
                      "url": month_dashboard_url(job.year, job.month)})
    return links


# --- Pages -----------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    """Admins: the live overview. HR users: their own jobs, in plain words."""
    if g.user.role not in ADMIN_ROLES:
        rows, _ = stats.list_jobs(job_filter, stats.JobFilters(), limit=100)
        return render_template("jobs/mine.html", jobs=rows)
    return render_template("jobs/overview.html", data=overview_data(),
                           problems=open_problems(tenant_scope()))


@bp.get("/list")
@login_required
def list_jobs():
    filters = stats.JobFilters.from_args(request.args)
    plain = is_plain()
    if plain:
        # HR filters by what and when, never by queue or job id.
        filters = dataclasses.replace(filters, queue="", id="")
    rows, next_cursor = stats.list_jobs(job_filter, zoned(filters), request.args.get("cursor", ""))
    now = utcnow()
    views = [stats.job_view(j, now, lease()) for j in rows]
    titles = {j.id: job_title(j) for j in rows}
    tasks = ({name: TASK_NAMES.get(name, name) for name in registered_task_names(huey())
              if name in TASK_NAMES} if plain
             else {name: name for name in registered_task_names(huey())})
    return render_template("jobs/list.html", jobs=views, names=accounts.names_for(rows),
                           filters=filters, next_cursor=next_cursor, states=STATES,
                           state_words=STATE_WORDS, titles=titles, plain=plain, tasks=tasks,
                           queues=list(stats.PRIORITIES), is_first=not request.args.get("cursor"))


def is_plain() -> bool:
    """HR users read the job pages in plain words; admins keep the technical view."""
    return g.user.role not in ADMIN_ROLES


def zoned(filters: stats.JobFilters) -> stats.JobFilters:
    """The From/To fields are typed in the viewer's own time zone: give the ledger UTC."""
    return dataclasses.replace(filters, since=in_display_zone(filters.since),
                               until=in_display_zone(filters.until))


@bp.get("/<job_id>")
@login_required
def detail(job_id: str):
    job = get_visible_job_or_404(job_id)
    view = stats.job_view(job, utcnow(), lease())
    return render_template("jobs/detail.html", job=job, view=view, events=stats.events_of(job),
                           links=arg_links(job), plain=is_plain(), title=job_title(job),
                           result_text=result_sentence(job))


@bp.get("/scheduled")
@roles_required(*ADMIN_ROLES)
def scheduled():
    now = utcnow()
    rows = stats.scheduled_jobs(job_filter, now)
    return render_template("jobs/scheduled.html", jobs=[stats.job_view(j, now, lease()) for j in rows],
                           names=accounts.names_for(rows))


@bp.get("/workers")
@roles_required(*OPERATOR_ROLES)
def workers():
    return render_template("jobs/workers.html", workers=stats.workers_view(utcnow(), lease()))


@bp.get("/periodic")
@roles_required(*OPERATOR_ROLES)
def periodic():
    return render_template("jobs/periodic.html", tasks=periodic_data(),
                           all_tasks=registered_task_names(huey()),
                           paused=actions.paused_task_names(), pending_counts=pending_by_task())


def pending_by_task() -> dict[str, int]:
    """How many jobs of each task wait for a worker (pending or waiting for a retry)."""
    stmt = (sa.select(Job.task_name, sa.func.count(Job.id))
            .where(Job.state.in_((JobState.PENDING.value, JobState.RETRY.value)))
            .group_by(Job.task_name))
    return dict(db.session.execute(stmt).all())


# --- Actions: a confirmation page (GET), then the change (POST) ---------------------------


def _confirm_or_do(*, title: str, message: str, button: str, do, back: str, danger=False, **context):
    if request.method == "GET":
        return render_template("jobs/confirm.html", title=title, message=message, button=button,
                               back=back, danger=danger, **context)
    try:
        done = do()
    except actions.ActionRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    flash(done, "success")
    return redirect(back)


@bp.route("/<job_id>/retry", methods=["GET", "POST"])
@roles_required(*ACT_ROLES)
def retry(job_id: str):
    job = get_visible_job_or_404(job_id)
    back = url_for("jobs.detail", job_id=job.id)
    view = stats.job_view(job, utcnow(), lease())
    return _confirm_or_do(
        title="Retry this job?", button="Retry job", back=back, job=job, view=view,
        events=stats.events_of(job),
        message=f"{job.task_name} failed after {job.attempts} attempt(s). It will run again "
                "under the same id with a fresh set of retries. This is what it already did:",
        do=lambda: (actions.retry(job, actor()), "The job is queued again.")[1])


@bp.route("/<job_id>/revoke", methods=["GET", "POST"])
@roles_required(*ACT_ROLES)
def revoke(job_id: str):
    job = get_visible_job_or_404(job_id)
    back = url_for("jobs.detail", job_id=job.id)
    return _confirm_or_do(
        title="Revoke this job?", button="Revoke job", back=back, danger=True, job=job,
        message=f"The {job.task_name} job will never run. Its work is not done unless someone "
                "starts it again.",
        do=lambda: (actions.revoke(job, actor()), "The job is revoked; it will not run.")[1])


@bp.route("/bulk-retry", methods=["GET", "POST"])
@roles_required(*ACT_ROLES)
def bulk_retry():
    """Retry the selected failed jobs (`ids`), or all failed jobs matching the filter (`all=1`)."""
    source = request.form if request.method == "POST" else request.args
    filters = stats.JobFilters.from_args(source)
    if source.get("all") == "1":
        visible = stats.failed_matching(job_filter, zoned(filters), actions.BULK_LIMIT)
    else:
        visible = stats.visible_jobs(job_filter, source.getlist("ids")[:actions.BULK_LIMIT])
        if visible is None:
            abort(404)
    failed = [j for j in visible if j.state == JobState.FAILURE.value]
    back = url_for("jobs.list_jobs", **filters.as_query())
    return _confirm_or_do(
        title=f"Retry {len(failed)} failed job(s)?", button="Retry jobs", back=back,
        message="Each failed job below runs again with a fresh set of retries.",
        jobs=failed, hidden={"all": source.get("all", ""), **filters.as_query()},
        hidden_ids=[] if source.get("all") == "1" else [j.id for j in failed],
        do=lambda: f"{actions.bulk_retry(failed, actor())} job(s) queued again.")


@bp.route("/tasks/<task_name>/<action>", methods=["GET", "POST"])
@roles_required(*GLOBAL_ACT_ROLES)
def task_action(task_name: str, action: str):
    """Pause, resume, or revoke every pending job of one task name (operators only)."""
    back = url_for("jobs.periodic")
    act = actor()
    choices = {
        "pause": ("Pause", f"Workers will leave every {task_name} job waiting until it is resumed.",
                  lambda: (actions.pause(task_name, act), f"{task_name} is paused.")[1]),
        "resume": ("Resume", f"Waiting {task_name} jobs will run again.",
                   lambda: (actions.resume(task_name, act), f"{task_name} is running again.")[1]),
        "revoke-pending": ("Revoke all pending", f"Every pending or scheduled {task_name} job "
                           "will be cancelled and never run.",
                           lambda: f"{actions.revoke_pending_of_task(task_name, act)} job(s) revoked."),
    }
    if action not in choices:
        abort(404)
    verb, message, do = choices[action]
    return _confirm_or_do(title=f"{verb} {task_name}?", message=message, button=verb, back=back,
                          danger=action != "resume", do=do)


@bp.route("/periodic/<task_name>/run", methods=["GET", "POST"])
@roles_required(*GLOBAL_ACT_ROLES)
def run_periodic(task_name: str):
    def do():
        job = actions.run_periodic_now(task_name, actor())
        return f"{task_name} queued now as job {job.id[:8]}."

    return _confirm_or_do(title=f"Run {task_name} now?", button="Run now", back=url_for("jobs.periodic"),
                          message="One extra run is queued at once; its schedule is not changed.",
                          do=do)
