"""Read the job ledger for the dashboard: overview figures, lists, percentiles, throughput.

Selectors only; nothing here writes except the hourly rollup (`JobHourStat`), which is a
cache of closed hours. Functions that list jobs take a `scope`, a callable that narrows a
select on Job to what the reader may see (the web layer passes its `job_filter`), and the
figures take a `tenant_id` (None: every tenant), so the domain never imports the web layer.
"""
import datetime as dt
import logging
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from types import SimpleNamespace

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger import latency
from paydash.ledger import rollups
from paydash.ledger.dbclock import utcnow
from paydash.ledger.jobs import job_as_dict
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.queue import PRIORITIES
from paydash.ledger.queue import broker_reachable
from paydash.ledger.workers import status_of

logger = logging.getLogger(__name__)

Scope = Callable[[sa.Select], sa.Select]
WORKER_LOST = "WORKER_LOST"
PAGE_SIZE = 50
PERCENTILE_SAMPLE = 1000


def everything(stmt: sa.Select) -> sa.Select:
    """The scope of an operator (and of /metrics): every job."""
    return stmt


# --- One job --------------------------------------------------------------------------------


def is_worker_lost(job: Job, now: dt.datetime, lease_seconds: float) -> bool:
    """A STARTED job whose worker stopped heart-beating: recovery will requeue or fail it."""
    if job.state != JobState.STARTED.value:
        return False
    last_sign = job.last_sign_of_life
    return last_sign is not None and (now - last_sign).total_seconds() > lease_seconds


def display_state(job: Job, now: dt.datetime, lease_seconds: float) -> str:
    return WORKER_LOST if is_worker_lost(job, now, lease_seconds) else job.state


def timings(job: Job, now: dt.datetime) -> dict:
    """Seconds queued (created → on the broker), waiting (→ started) and running."""
    def span(start, end):
        return round((end - start).total_seconds(), 3) if start and end else None

    finished = job.finished_at or (None if job.state in FINISHED_STATES else now)
    waiting_end = job.started_at or (now if job.state == JobState.PENDING.value else None)
    return {"queued": span(job.created_at, job.enqueued_at),
            "waiting": span(job.enqueued_at, waiting_end),
            "running": span(job.started_at, finished if job.started_at else None)}


def progress_of(job: Job, now: dt.datetime) -> dict:
    """done / total with percent, rate (items a second) and ETA in seconds when known."""
    done, total = job.progress_done or 0, job.progress_total
    out = {"done": done, "total": total, "message": job.progress_message,
           "percent": None, "rate": None, "eta_seconds": None}
    if total:
        out["percent"] = round(min(100.0, 100.0 * done / total), 1)
    if job.state == JobState.STARTED.value and job.started_at and done:
        elapsed = max((now - job.started_at).total_seconds(), 0.001)
        out["rate"] = round(done / elapsed, 2)
        if total and total > done:
            out["eta_seconds"] = round((total - done) / out["rate"], 1)
    return out


def job_view(job: Job, now: dt.datetime, lease_seconds: float) -> dict:
    """The ledger's dict for a job plus what the dashboard adds (state shown, timings, rate)."""
    data = job_as_dict(job)
    data["display_state"] = display_state(job, now, lease_seconds)
    data["timings"] = timings(job, now)
    data["progress"] = progress_of(job, now)
    data["manual"] = bool((job.args or {}).get("manual"))
    data["args"] = list((job.args or {}).get("args", []))
    return data


def events_of(job: Job) -> list[dict]:
    return [{"id": e.id, "at": e.at.isoformat() + "Z", "state": e.state, "worker": e.worker_id,
             "message": e.message} for e in job.events]


# --- The jobs list --------------------------------------------------------------------------


@dataclass
class JobFilters:
    """Every filter of the jobs list; all of them travel in the URL."""

    state: str = ""
    task: str = ""
    queue: str = ""
    tenant: str = ""
    upload: str = ""
    since: str = ""
    until: str = ""
    id: str = ""
    error: str = ""

    @classmethod
    def from_args(cls, args: Mapping) -> "JobFilters":
        return cls(**{f.name: (args.get(f.name) or "").strip()[:100] for f in fields(cls)})

    def as_query(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def parse_when(text: str) -> dt.datetime | None:
    """An ISO date or datetime (a datetime-local field's value), as naive UTC; None if blank or bad."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _id_is(column, text: str) -> sa.ColumnElement:
    """`column` equals the id typed; an id that is not plain digits matches nothing (not
    NULL, and no error for "²", which str.isdigit takes and int() refuses)."""
    return column == int(text) if text.isascii() and text.isdigit() else sa.false()


def apply_filters(stmt: sa.Select, f: JobFilters) -> sa.Select:
    if f.state == WORKER_LOST:
        stmt = stmt.where(Job.state == JobState.STARTED.value)
    elif f.state:
        stmt = stmt.where(Job.state == f.state.upper())
    if f.task:
        stmt = stmt.where(Job.task_name == f.task)
    if f.queue:
        stmt = stmt.where(Job.queue == f.queue)
    if f.tenant:
        stmt = stmt.where(_id_is(Job.tenant_id, f.tenant))
    if f.upload:
        stmt = stmt.where(_id_is(Job.upload_id, f.upload))
    if parse_when(f.since):
        stmt = stmt.where(Job.created_at >= parse_when(f.since))
    if parse_when(f.until):
        stmt = stmt.where(Job.created_at < parse_when(f.until))
    if f.id:
        stmt = stmt.where(Job.id.startswith(f.id.lower(), autoescape=True))
    if f.error:
        stmt = stmt.where(sa.func.lower(Job.error).contains(f.error.lower(), autoescape=True))
    return stmt


def encode_cursor(job: Job) -> str:
    return f"{job.created_at.isoformat()}_{job.id}"


def list_jobs(scope: Scope, f: JobFilters, cursor: str = "",
              limit: int = PAGE_SIZE) -> tuple[list[Job], str | None]:
    """One page, newest first (keyset pagination); the cursor of the next page or None."""
    stmt = apply_filters(scope(sa.select(Job)), f)
    if cursor and "_" in cursor:
        at, job_id = cursor.split("_", 1)
        when = parse_when(at)
        if when is not None:
            stmt = stmt.where(sa.tuple_(Job.created_at, Job.id) < sa.tuple_(when, job_id))
    stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def failed_matching(scope: Scope, f: JobFilters, limit: int = 1000) -> list[Job]:
    """FAILURE jobs matching the filter (bulk retry), newest first, at most `limit`."""
    stmt = apply_filters(scope(sa.select(Job)), f).where(Job.state == JobState.FAILURE.value)
    return list(db.session.scalars(stmt.order_by(Job.created_at.desc()).limit(limit)))


def visible_jobs(scope: Scope, ids: Iterable[str]) -> list[Job] | None:
    """The jobs with these ids, or None when any of them is not visible in `scope`."""
    ids = set(ids)
    rows = list(db.session.scalars(scope(sa.select(Job).where(Job.id.in_(ids))))) if ids else []
    return rows if len(rows) == len(ids) else None


def running_jobs(scope: Scope, limit: int = 50) -> list[Job]:
    stmt = scope(sa.select(Job)).where(Job.state == JobState.STARTED.value)
    return list(db.session.scalars(stmt.order_by(Job.started_at).limit(limit)))


# What `job_view` reads of a job, as plain columns (the traceback is never shown in a list).
_VIEW_COLUMNS = ([c for c in Job.__table__.c if c.key != "traceback"]
                 + [Job.last_sign_of_life.label("last_sign_of_life")])


def _of_tenant() -> sa.ColumnElement:
    """`tenant_id = :tenant`, written so that no index matches it: the open jobs are few, so
    the planner should scan them (`ix_job_state_created`) and check the tenant of each,
    not read the tenant's whole history from `ix_job_tenant_created` and intersect the
    two (at 1,000,000 jobs that took 6-13 ms a query instead of 1-3)."""
    return (Job.tenant_id + sa.literal_column("0", sa.Integer)) == sa.bindparam("tenant", type_=sa.Integer)


# Built once (the overview polls them): every tenant, and one tenant (:tenant).
_RUNNING = sa.select(*_VIEW_COLUMNS).where(Job.state == JobState.STARTED.value).order_by(Job.started_at)
_RUNNING_OF_TENANT = _RUNNING.where(_of_tenant())


def running_views(tenant_id: int | None, now: dt.datetime, lease_seconds: float,
                  limit: int = 50) -> list[dict]:
    """`job_view` of the running jobs (first started first) of one tenant or (None) all.

    The same dicts as `job_view` of `running_jobs`, read as rows rather than ORM objects:
    each row becomes a plain namespace of its columns, which answers `job_view`'s
    attribute reads faster than an ORM object or a Row does (the overview polls these
    every 2 s; 50 ORM objects and their views were a fifth of its CPU).
    """
    stmt = (_RUNNING if tenant_id is None else _RUNNING_OF_TENANT).limit(limit)
    result = db.session.connection().execute(stmt, {} if tenant_id is None else {"tenant": tenant_id})
    keys = list(result.keys())
    return [job_view(SimpleNamespace(**dict(zip(keys, row))), now, lease_seconds)
            for row in result.all()]


def scheduled_jobs(scope: Scope, now: dt.datetime, limit: int = 200) -> list[Job]:
    """Jobs waiting for a time: retries and delayed jobs, soonest first."""
    stmt = scope(sa.select(Job)).where(sa.or_(
        Job.state == JobState.RETRY.value,
        sa.and_(Job.state == JobState.PENDING.value, Job.eta > now)))
    return list(db.session.scalars(stmt.order_by(Job.eta.asc().nulls_last()).limit(limit)))


def last_runs(task_name: str, limit: int = 5) -> list[Job]:
    """Recent runs of a task, newest first: jobs revoked before they started are no runs.

    That leaves out the slot claims another consumer won, in SQL before the LIMIT: with
    several consumers they can outnumber the real runs.
    """
    never_ran = sa.and_(Job.state == JobState.REVOKED.value, Job.started_at.is_(None))
    stmt = (sa.select(Job).where(Job.task_name == task_name, sa.not_(never_ran))
            .order_by(Job.created_at.desc()).limit(limit))
    return list(db.session.scalars(stmt))


# --- Overview figures -------------------------------------------------------------------------


def _tenant_where(stmt: sa.Select, tenant_id: int | None) -> sa.Select:
    return stmt if tenant_id is None else stmt.where(Job.tenant_id == tenant_id)


def queue_figures(tenant_id: int | None, now: dt.datetime) -> dict:
    """Pending per queue label, scheduled, running, retrying, and the oldest pending age."""
    params = {"now": now} if tenant_id is None else {"now": now, "tenant": tenant_id}
    rows = db.session.connection().execute(_queue_statement(tenant_id is None), params).all()
    pending = {label: 0 for label in PRIORITIES}
    out = {"pending": pending, "scheduled": 0, "running": 0, "retrying": 0}
    oldest = None
    for queue, state, is_delayed, count, first_created in rows:
        if state == JobState.STARTED.value:
            out["running"] += count
        elif state == JobState.RETRY.value:
            out["retrying"] += count
            out["scheduled"] += count
        elif is_delayed:
            out["scheduled"] += count
        else:
            pending[queue] = pending.get(queue, 0) + count
            first_created = rollups.as_datetime(first_created)
            oldest = first_created if oldest is None else min(oldest, first_created)
    out["pending_total"] = sum(pending.values())
    out["oldest_pending_seconds"] = round((now - oldest).total_seconds(), 1) if oldest else 0
    return out


# every tenant? -> the statement of queue_figures, built once (the overview polls it).
_QUEUE_STATEMENTS: dict[bool, sa.Executable] = {}


def _queue_statement(every_tenant: bool) -> sa.Executable:
    stmt = _QUEUE_STATEMENTS.get(every_tenant)
    if stmt is None:
        now = sa.bindparam("now", type_=sa.DateTime())
        delayed = sa.and_(Job.eta.is_not(None), Job.eta > now)
        # One pass over the open jobs: each group's count and oldest creation time.
        stmt = (sa.select(Job.queue, Job.state, delayed.label("delayed"), sa.func.count(),
                          sa.func.min(Job.created_at))
                .where(Job.state.in_([JobState.PENDING.value, JobState.STARTED.value,
                                      JobState.RETRY.value])))
        if not every_tenant:
            stmt = stmt.where(_of_tenant())
        stmt = _QUEUE_STATEMENTS[every_tenant] = stmt.group_by(Job.queue, Job.state, delayed)
    return stmt


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None for an empty one)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def runtime_percentiles(tenant_id: int | None, task_names: Iterable[str],
                        now: dt.datetime, successes: Mapping[str, int] | None = None) -> list[dict]:
    """p50/p95/p99 run time per task over its last 24 h of successes (latest 1,000 runs).

    Each task's figures are kept per process and used again while nothing says the task
    has a new success and the minute has not turned (issue 18: the percentiles were the
    largest part of the overview). What says so:
    - `successes` (the overview): each task's successes counted live over a stretch that
      depends only on the minute (`rollups.throughput_and_successes`, which the overview
      reads anyway), so the check costs no query of its own. A new success in that stretch
      (the last hour or more) changes its task's count.
    - without it, each task's newest success in the scope, one round trip of index probes.
    Either way a success recorded late with a finish time before what is checked shows
    within a minute, as before.
    """
    since = now - dt.timedelta(hours=24)
    minute = now.replace(second=0, microsecond=0)
    connection = db.session.connection()
    names = list(task_names)
    if successes is None:
        newest = _newest_successes(connection, tenant_id, names, since)
        stamps = {name: ("newest", newest.get(name)) for name in names}
    else:
        stamps = {name: ("successes", successes.get(name, 0)) for name in names}
    database = str(db.engine.url)
    out = []
    for name in names:
        key = (minute, stamps[name])
        entry = _RUNTIME_CACHE.get((database, tenant_id, name))
        if entry is None or entry[0] != key:
            stmt = _tenant_where(sa.select(Job.runtime_seconds).where(
                Job.task_name == name, Job.state == JobState.SUCCESS.value,
                Job.finished_at >= since, Job.runtime_seconds.is_not(None)), tenant_id)
            # Core on the session's connection: up to 1,000 floats a task, no ORM layer needed.
            values = sorted(connection.execute(
                stmt.order_by(Job.finished_at.desc()).limit(PERCENTILE_SAMPLE)).scalars())
            figures = ({"task": name, "count": len(values),
                        **{f"p{q}": round(percentile(values, q), 3) for q in (50, 95, 99)}}
                       if values else None)
            if len(_RUNTIME_CACHE) > 10_000:
                _RUNTIME_CACHE.clear()
            entry = _RUNTIME_CACHE[(database, tenant_id, name)] = (key, figures)
        if entry[1]:
            out.append(dict(entry[1]))
    return out


def _newest_successes(connection, tenant_id: int | None, names: list[str],
                      since: dt.datetime) -> dict[str, tuple]:
    """Each task's newest success in the scope: one round trip of index probes (LIMIT 1 each)."""
    if not names:
        return {}
    probes = [_tenant_where(sa.select(sa.literal(name).label("task"), Job.finished_at, Job.id)
                            .where(Job.task_name == name, Job.state == JobState.SUCCESS.value,
                                   Job.finished_at >= since, Job.runtime_seconds.is_not(None)),
                            tenant_id).order_by(Job.finished_at.desc()).limit(1)
              for name in names]
    # Each probe as a derived table: SQLite refuses a parenthesised SELECT … LIMIT in a UNION.
    parts = [sa.select(*probe.subquery(f"probe{i}").c) for i, probe in enumerate(probes)]
    rows = connection.execute(sa.union_all(*parts) if len(parts) > 1 else probes[0]).all()
    return {task: (finished, job_id) for task, finished, job_id in rows}


# (database, tenant, task) -> (key it was computed for, figures); see runtime_percentiles.
_RUNTIME_CACHE: dict[tuple, tuple] = {}


def overview(tenant_id: int | None, task_names: Iterable[str], now: dt.datetime | None = None) -> dict:
    """Everything the overview page shows, for one tenant or (None) for all."""
    now = now or utcnow()
    figures = queue_figures(tenant_id, now)
    flow, successes = rollups.throughput_and_successes(tenant_id, now)
    return {"at": now.isoformat() + "Z", **figures, **flow,
            "latency_per_minute": latency.per_minute(tenant_id, now),
            "runtimes": runtime_percentiles(tenant_id, task_names, now, successes)}


# --- Workers, periodic tasks, health ---------------------------------------------------------


def workers_view(now: dt.datetime, lease_seconds: float) -> list[dict]:
    """Each consumer process with its status and the jobs it is running now."""
    workers = list(db.session.scalars(sa.select(Worker).order_by(Worker.started_at.desc())))
    running = {}
    if workers:
        for job in db.session.scalars(sa.select(Job).where(
                Job.state == JobState.STARTED.value, Job.worker_id.in_([w.id for w in workers]))):
            running.setdefault(job.worker_id, []).append(job)
    out = []
    for w in workers:
        status = status_of(w, lease_seconds, now)
        jobs = [{"id": j.id, "task": j.task_name, "tenant_id": j.tenant_id,
                 "elapsed_seconds": round((now - j.started_at).total_seconds(), 1) if j.started_at else None,
                 "state": WORKER_LOST if status != "alive" or is_worker_lost(j, now, lease_seconds)
                 else j.state, "progress": progress_of(j, now)}
                for j in running.get(w.id, [])]
        out.append({"id": w.id, "host": w.host, "pid": w.pid, "worker_type": w.worker_type,
                    "concurrency": w.concurrency, "backend": w.queue_backend,
                    "started_at": w.started_at.isoformat() + "Z",
                    "heartbeat_at": w.heartbeat_at.isoformat() + "Z",
                    "heartbeat_age_seconds": round((now - w.heartbeat_at).total_seconds(), 1),
                    "stopped_at": w.stopped_at.isoformat() + "Z" if w.stopped_at else None,
                    "status": status, "jobs": jobs})
    return out


def periodic_view(schedules: Mapping, task_names: Iterable[str], now: dt.datetime) -> list[dict]:
    """Each periodic task: schedule in words, next run, and its last run with the outcome."""
    out = []
    for name in task_names:
        schedule = schedules.get(name)
        runs = last_runs(name)
        last = runs[0] if runs else None
        out.append({
            "task": name,
            "schedule": schedule.in_words() if schedule else "custom schedule",
            "next_run": schedule.next_run(now).isoformat() + "Z" if schedule else None,
            "last_run": {"job_id": last.id, "state": last.state, "manual": bool((last.args or {}).get("manual")),
                         "at": (last.finished_at or last.started_at or last.created_at).isoformat() + "Z",
                         "error": last.error} if last else None,
        })
    return out


# Built once: the overview runs it on every poll.
_LAST_BEAT = sa.select(sa.func.max(Worker.heartbeat_at)).where(Worker.stopped_at.is_(None))


def health(huey, lease_seconds: float, now: dt.datetime) -> dict:
    """Problems an operator must see at once: the broker unreachable, no worker heart-beating."""
    problems = []
    reachable, detail = broker_reachable(huey)
    if not reachable:
        problems.append(f"The job queue (broker) is unreachable: {detail}")
    last_beat = db.session.scalar(_LAST_BEAT)
    silent = (now - last_beat).total_seconds() if last_beat else None
    if silent is None or silent > lease_seconds:
        since = f"for {int(silent)} s" if silent is not None else "yet"
        problems.append(f"No worker has sent a heartbeat {since}: jobs will wait until one runs.")
    return {"ok": not problems, "problems": problems, "broker_reachable": reachable,
            "last_heartbeat_age_seconds": round(silent, 1) if silent is not None else None}
