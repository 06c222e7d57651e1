"""What is worth an alert: each condition a small function over the ledger with a threshold.

A condition returns `Finding`s, one per problem, for each scope that should hear of it:
"tenant:<id>" for that tenant's admins and "platform" for operators. A thousand failed jobs
are one problem ("jobs are failing for good"), not a thousand.
"""
import datetime as dt
from dataclasses import dataclass
from dataclasses import replace

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.actions import paused_task_names
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.workers import status_of
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.periodic import periodic_schedules

PLATFORM = "platform"


def tenant_scope(tenant_id: int) -> str:
    return f"tenant:{tenant_id}"


@dataclass(frozen=True)
class Condition:
    title: str  # what the settings page calls it
    what_to_do: str
    for_tenants: bool  # tenant admins hear of their own; operators always hear of it


CONDITIONS = {
    "job_failed": Condition("A job failed for good (all attempts used)",
                            "Open the job, read its error, fix the cause and retry it.", True),
    "queue_stuck": Condition("Jobs waiting too long to start",
                             "Check that a worker is running and not busy with one long job.", True),
    "import_failed": Condition("A salary sheet check could not finish (not the sheet's fault)",
                               "Upload the file again; if it fails twice, tell your Paydash operator.",
                               True),
    "no_worker": Condition("No worker running (or fewer than expected)",
                           "Start the worker process (Procfile `worker`, or the supervisor/systemd unit).",
                           False),
    "worker_lost": Condition("A worker lost (stopped without shutting down, or silent while running jobs)",
                             "Recovery puts its jobs back on the queue; check why the worker died.", False),
    "broker_down": Condition("The job queue (Redis) unreachable",
                             "Check the Redis service and REDIS_URL; jobs wait in the ledger meanwhile.",
                             False),
    "database_down": Condition("The database unreachable",
                               "Check the database service and DATABASE_URL.", False),
    "periodic_late": Condition("A periodic task (recovery, weekly cleanup) not run on schedule",
                               "Check the worker is running and the task is not paused.", False),
}
# Conditions `evaluate` reads from the ledger; the outage conditions come from `watch`.
LEDGER_CONDITIONS = ("job_failed", "queue_stuck", "import_failed", "no_worker", "worker_lost",
                     "periodic_late")
TASK_WORDS = {
    "import_salary_sheet": "checking an uploaded salary sheet",
    "commit_salary_sheet": "saving a confirmed salary sheet",
    "sync_chart_data_batch": "updating the payroll charts",
    "cleanup_old_chart_data": "the weekly chart clean-up",
    "recover_lost_jobs": "the every-minute recovery",
    "prune_history": "the daily history clean-up",
}


@dataclass(frozen=True)
class Finding:
    scope: str
    condition: str
    subject: str
    summary: str
    link: str  # a path in the app: what to do about it
    count: int = 1
    tenant_id: int | None = None
    short: str = ""  # the overview's few words ("oldest pending 14 min"); else the summary

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scope, self.condition, self.subject)


def task_words(name: str) -> str:
    return TASK_WORDS.get(name, name.replace("_", " "))


def _both(condition: str, subject: str, per_tenant: dict, total_summary, link_of, count_of) -> list:
    """The platform's finding over every tenant, and one per tenant that has the problem."""
    out = []
    total = sum(count_of(v) for v in per_tenant.values())
    if total:
        out.append(Finding(PLATFORM, condition, subject, total_summary(total, per_tenant),
                           link_of(None, per_tenant), total))
    for tenant_id, value in per_tenant.items():
        if tenant_id is not None and count_of(value):
            out.append(Finding(tenant_scope(tenant_id), condition, subject,
                               total_summary(count_of(value), {tenant_id: value}),
                               link_of(tenant_id, per_tenant), count_of(value), tenant_id))
    return out


def jobs_failed(now: dt.datetime, cfg) -> list[Finding]:
    """Jobs that used every attempt and failed, in the last ALERT_FAILED_WINDOW_MINUTES."""
    minutes = int(cfg["ALERT_FAILED_WINDOW_MINUTES"])
    since = now - dt.timedelta(minutes=minutes)
    rows = db.session.execute(
        sa.select(Job.tenant_id, sa.func.count(), sa.func.max(Job.finished_at))
        .where(Job.state == JobState.FAILURE.value, Job.finished_at >= since)
        .group_by(Job.tenant_id)).all()
    per_tenant = {tenant_id: count for tenant_id, count, _ in rows
                  if count >= int(cfg["ALERT_FAILED_MIN_JOBS"])}
    if not per_tenant:
        return []
    latest = {}
    for tenant_id in per_tenant:
        stmt = sa.select(Job).where(Job.state == JobState.FAILURE.value, Job.finished_at >= since)
        if tenant_id is not None:
            stmt = stmt.where(Job.tenant_id == tenant_id)
        latest[tenant_id] = db.session.scalars(stmt.order_by(Job.finished_at.desc()).limit(1)).first()
    newest = max((j for j in latest.values() if j), key=lambda j: j.finished_at)
    window = "the last hour" if minutes == 60 else f"the last {minutes} min"

    def summary(count, part):
        job = latest[next(iter(part))] if len(part) == 1 else newest
        error = (job.error or "no error message").strip().splitlines()[0][:200]
        return (f"{count} job{'s' if count != 1 else ''} failed for good in {window} "
                f"(all attempts used). The latest was {task_words(job.task_name)}: {error}")

    def link(tenant_id, part):
        job = newest if tenant_id is None else latest[tenant_id]
        return f"/jobs/{job.id}"

    found = _both("job_failed", "", per_tenant, summary, link, lambda c: c)
    return [replace(f, short=f"{f.count} job{'s' if f.count != 1 else ''} failed for good in {window}")
            for f in found]


def queues_stuck(now: dt.datetime, cfg) -> list[Finding]:
    """Per queue, the oldest job ready to run but not started for ALERT_PENDING_MINUTES."""
    limit = now - dt.timedelta(minutes=float(cfg["ALERT_PENDING_MINUTES"]))
    ready = sa.or_(Job.eta.is_(None), Job.eta <= now)
    rows = db.session.execute(
        sa.select(Job.queue, Job.tenant_id, sa.func.count(), sa.func.min(Job.created_at))
        .where(Job.state == JobState.PENDING.value, ready, Job.created_at <= limit)
        .group_by(Job.queue, Job.tenant_id)).all()
    out = []
    for queue in sorted({r[0] for r in rows}):
        part = {tenant_id: (count, oldest) for q, tenant_id, count, oldest in rows if q == queue}

        def summary(count, sub, queue=queue):
            oldest = min(v[1] for v in sub.values())
            minutes = int((now - oldest).total_seconds() // 60)
            return (f"{count} job{'s' if count != 1 else ''} of the {queue} queue waiting to start; "
                    f"the oldest for {minutes} min")

        found = _both("queue_stuck", queue, part, summary,
                      lambda _t, _p, queue=queue: f"/jobs/list?state=PENDING&queue={queue}",
                      lambda v: v[0])
        out += [replace(f, short=f"oldest pending {f.summary.rsplit(' for ', 1)[1]} ({queue})")
                for f in found]
    return out


def imports_failed(now: dt.datetime, cfg) -> list[Finding]:
    """Uploads whose check failed for a reason not in the sheet (the job failed, not the file)."""
    since = now - dt.timedelta(minutes=int(cfg["ALERT_IMPORT_WINDOW_MINUTES"]))
    # An attempt that failed with retries left is not news yet: only a check that gave up is.
    retrying = sa.exists().where(Job.id == Upload.job_id, Job.state.in_(
        [JobState.PENDING.value, JobState.STARTED.value, JobState.RETRY.value]))
    rows = db.session.execute(
        sa.select(Upload.tenant_id, sa.func.count(), sa.func.max(Upload.id))
        .where(Upload.status == UploadStatus.FAILED.value, Upload.created_at >= since, ~retrying)
        .group_by(Upload.tenant_id)).all()
    part = {tenant_id: (count, last_id) for tenant_id, count, last_id in rows}

    def summary(count, sub):
        names = [u.filename for u in db.session.scalars(
            sa.select(Upload).where(Upload.id.in_([v[1] for v in sub.values()])))]
        return (f"{count} salary sheet check{'s' if count != 1 else ''} could not finish for a "
                f"reason that is not in the file (latest: {', '.join(names)})")

    def link(tenant_id, sub):
        return f"/uploads/{max(v[1] for v in sub.values()) if tenant_id is None else sub[tenant_id][1]}"

    return _both("import_failed", "", part, summary, link, lambda v: v[0])


def workers_missing(now: dt.datetime, cfg) -> list[Finding]:
    lease = float(cfg["LEASE_SECONDS"])
    rows = db.session.scalars(sa.select(Worker).where(Worker.stopped_at.is_(None)))
    alive = sum(1 for w in rows if status_of(w, lease, now) == "alive")
    expected = int(cfg["ALERT_MIN_WORKERS"])
    if alive >= expected:
        return []
    summary = ("No worker is running: uploads, charts and clean-ups wait until one starts"
               if alive == 0 else f"Only {alive} of {expected} expected workers are running")
    return [Finding(PLATFORM, "no_worker", "", summary, "/jobs/workers", expected - alive)]


def workers_lost(now: dt.datetime, cfg) -> list[Finding]:
    """Running jobs whose worker went silent, and consumers that stopped without shutting down.

    Recovery puts such jobs back on the queue within a minute, so the job side alone could
    vanish before anyone hears of it: a consumer that died (no heartbeat for the lease, not
    marked stopped) within the last ALERT_FAILED_WINDOW_MINUTES keeps the problem open.
    """
    lease = float(cfg["LEASE_SECONDS"])
    silent_since = now - dt.timedelta(seconds=lease)
    rows = db.session.execute(
        sa.select(Job.worker_id, sa.func.count())
        .where(Job.state == JobState.STARTED.value, Job.last_sign_of_life < silent_since)
        .group_by(Job.worker_id)).all()
    recent = now - dt.timedelta(minutes=int(cfg["ALERT_FAILED_WINDOW_MINUTES"]))
    died = list(db.session.scalars(sa.select(Worker.id).where(
        Worker.stopped_at.is_(None), Worker.heartbeat_at < silent_since, Worker.heartbeat_at >= recent)))
    if not rows and not died:
        return []
    count = sum(c for _, c in rows)
    names = ", ".join(sorted({str(w) for w, _ in rows} | set(died)))
    if count:
        summary = (f"{count} running job{'s' if count != 1 else ''} lost {'their' if count != 1 else 'its'} "
                   f"worker ({names}): no heartbeat for over {int(lease)} s")
    else:
        summary = (f"A worker stopped without shutting down ({names}); any jobs it was running "
                   "go back on the queue")
    return [Finding(PLATFORM, "worker_lost", "", summary, "/jobs/workers", max(count, len(died)))]


def _last_slot(schedule, before: dt.datetime) -> dt.datetime | None:
    """The latest minute at or before `before` that `schedule` matches (within 8 days)."""
    t = before.replace(second=0, microsecond=0)
    step = dt.timedelta(minutes=1)
    for _ in range(8 * 24 * 60 + 120):
        if schedule(t):
            return t
        if schedule.minute is not None and schedule.to_local(t).minute == schedule.minute:
            step = dt.timedelta(hours=1)  # On the right minute: only whole hours can match now.
        t -= step
    return None


def periodic_late(now: dt.datetime, cfg) -> list[Finding]:
    """A periodic task whose last due run (plus a grace) has no job in the ledger."""
    first_worker = db.session.scalar(sa.select(sa.func.min(Worker.started_at)))
    if first_worker is None:
        return []  # No consumer ever ran: `no_worker` says so.
    grace = dt.timedelta(minutes=float(cfg["ALERT_PERIODIC_GRACE_MINUTES"]))
    paused = paused_task_names()
    out = []
    for name, schedule in periodic_schedules(cfg["CLEANUP_TIMEZONE"]).items():
        slot = _last_slot(schedule, now - grace)
        if slot is None or slot < first_worker or name in paused:
            continue
        ran = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.task_name == name, Job.created_at >= slot - dt.timedelta(minutes=1)))
        if not ran:
            late = int((now - slot).total_seconds() // 60)
            out.append(Finding(PLATFORM, "periodic_late", name,
                               f"{task_words(name).capitalize()} ({name}) was due {late} min ago "
                               "and has not run", "/jobs/periodic"))
    return out


EVALUATORS = {
    "job_failed": jobs_failed,
    "queue_stuck": queues_stuck,
    "import_failed": imports_failed,
    "no_worker": workers_missing,
    "worker_lost": workers_lost,
    "periodic_late": periodic_late,
}


def evaluate(now: dt.datetime, cfg, conditions=LEDGER_CONDITIONS) -> list[Finding]:
    """Every ledger condition's findings now, for every scope."""
    out = []
    for name in conditions:
        out += EVALUATORS[name](now, cfg)
    return out
