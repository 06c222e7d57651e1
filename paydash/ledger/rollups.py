"""Finished-job counts over time: last 24 h, per minute for an hour, per hour for 7 days.

Counting a week of a busy ledger on every page view is too slow at a million rows, so
closed hours are rolled up once into `JobHourStat` (lazily, by whoever reads first) and
only the still-open stretch (at most about an hour) is counted live. Rows for hours older
than the 7-day window are deleted as new hours are added, so the rollup stays small.

A rolled-up hour never changes, so each process also keeps the closed hours' series it read
(per database and tenant) until the next hour closes (issue 18: the overview is polled
every 2 s, and re-reading and re-shaping 168 unchanged hours was a third of its CPU). The
open stretch is still counted on every call, so a job finishing shows on the next poll.
"""
import datetime as dt
import logging

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.models import FINISHED_STATES
from paydash.ledger.models import Job
from paydash.ledger.models import JobHourStat
from paydash.ledger.models import JobState

logger = logging.getLogger(__name__)

HOURS_KEPT = 7 * 24
# An hour is rolled up once it closed this long ago, so a late commit is not missed.
ROLLUP_GRACE = dt.timedelta(minutes=2)
MARK = ""  # task_name of the row that marks an hour as rolled up
ALL = "*"  # task_name of the count rows (every task together)
EVERY_TENANT = -1  # tenant_key of the all-tenant totals
COUNTED = (JobState.SUCCESS.value, JobState.FAILURE.value)

# database -> the end of the stretch this process found (or made) rolled up; see ensure_rollups.
_ROLLED: dict[str, dt.datetime] = {}
# (database, tenant) -> ((week start, end of the rolled-up stretch), {hour: [completed, failed]}).
_CLOSED: dict[tuple, tuple] = {}


def floor_hour(value: dt.datetime) -> dt.datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _trunc(unit: str, column):
    """date_trunc on PostgreSQL, strftime on SQLite (both read back by `as_datetime`)."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date_trunc(unit, column)
    fmt = {"hour": "%Y-%m-%d %H:00:00", "minute": "%Y-%m-%d %H:%M:00"}[unit]
    return sa.func.strftime(fmt, column)


def as_datetime(value) -> dt.datetime:
    """A datetime read back from SQL: SQLite returns computed datetimes (strftime, MIN) as text."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def rolled_until(now: dt.datetime) -> dt.datetime:
    """The end of the rolled-up stretch: everything from here to now is counted live."""
    return floor_hour(now - ROLLUP_GRACE)


def ensure_rollups(now: dt.datetime) -> None:
    """Roll up every closed hour of the window that is not rolled up yet (idempotent).

    Once this process has seen every hour up to `rolled_until(now)` rolled up, it does not
    look again until that moves (once an hour): rolled-up hours are only ever added.
    """
    first = floor_hour(now) - dt.timedelta(hours=HOURS_KEPT)
    end = rolled_until(now)
    database = str(db.engine.url)
    if _ROLLED.get(database) == end:
        return
    done = set(as_datetime(h) for h in db.session.scalars(
        sa.select(JobHourStat.hour).where(JobHourStat.task_name == MARK, JobHourStat.hour >= first)))
    missing = []
    hour = first
    while hour < end:
        if hour not in done:
            missing.append(hour)
        hour += dt.timedelta(hours=1)
    if not missing or _roll_up(set(missing), missing[0], missing[-1] + dt.timedelta(hours=1), first):
        _ROLLED[database] = end


def _roll_up(hours: set, start: dt.datetime, end: dt.datetime, first: dt.datetime) -> bool:
    """Write the hours' rows; False when another process wrote them first (theirs stand)."""
    bucket = _trunc("hour", Job.finished_at)
    tenant_key = sa.func.coalesce(Job.tenant_id, 0)
    rows = db.session.execute(
        sa.select(bucket, tenant_key, Job.state, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(Job.runtime_seconds), 0.0))
        .where(Job.finished_at >= start, Job.finished_at < end, Job.state.in_(FINISHED_STATES))
        .group_by(bucket, tenant_key, Job.state)).all()
    totals = {}
    stats = []
    for h, tenant, state, count, runtime in rows:
        hour = as_datetime(h)
        if hour not in hours:
            continue
        stats.append(JobHourStat(hour=hour, tenant_key=tenant, task_name=ALL, state=state,
                                 count=count, runtime_sum=float(runtime or 0)))
        total = totals.setdefault((hour, state), [0, 0.0])
        total[0] += count
        total[1] += float(runtime or 0)
    stats += [JobHourStat(hour=h, tenant_key=EVERY_TENANT, task_name=ALL, state=state, count=c, runtime_sum=r)
              for (h, state), (c, r) in totals.items()]
    stats += [JobHourStat(hour=h, tenant_key=0, task_name=MARK, state=MARK) for h in hours]
    try:
        db.session.add_all(stats)
        db.session.execute(sa.delete(JobHourStat).where(JobHourStat.hour < first))
        db.session.commit()
    except sa.exc.IntegrityError:
        # Another process rolled these hours up at the same moment; theirs are as good.
        db.session.rollback()
        return False
    logger.info("job rollup: %d hours added", len(hours))
    return True


def _rollup_rows(tenant_id: int | None, since: dt.datetime, until: dt.datetime):
    stmt = (sa.select(JobHourStat.hour, JobHourStat.state, sa.func.sum(JobHourStat.count))
            .where(JobHourStat.tenant_key == (EVERY_TENANT if tenant_id is None else tenant_id),
                   JobHourStat.hour >= since, JobHourStat.hour < until,
                   JobHourStat.state.in_(COUNTED)))
    return db.session.execute(stmt.group_by(JobHourStat.hour, JobHourStat.state)).all()


def live_counts(tenant_id: int | None, since: dt.datetime) -> tuple[list, dict[str, int]]:
    """Jobs finished since `since`: (minute, state, count) rows, and successes per task.

    One round trip (a UNION ALL of two counts over the same short stretch of
    `ix_job_finished`); the per-task successes tell the run-time percentiles which tasks
    have a new success (see `stats.runtime_percentiles`).
    """
    params = {"since": since} if tenant_id is None else {"since": since, "tenant": tenant_id}
    minute_rows, successes = [], {}
    for at, state, task, count in db.session.connection().execute(
            _live_statement(tenant_id is None), params).all():
        if task is None:
            minute_rows.append((at, state, count))
        else:
            successes[task] = int(count)
    return minute_rows, successes


# (dialect, every tenant?) -> the statement of live_counts, built once (it is polled).
_STATEMENTS: dict[tuple, sa.Executable] = {}


def _live_statement(every_tenant: bool) -> sa.Executable:
    key = (db.engine.dialect.name, every_tenant)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        bucket = _trunc("minute", Job.finished_at)
        recent = sa.and_(Job.finished_at >= sa.bindparam("since", type_=sa.DateTime()),
                         Job.state.in_(COUNTED))
        if not every_tenant:
            recent = sa.and_(recent, Job.tenant_id == sa.bindparam("tenant", type_=sa.Integer()))
        per_minute = (sa.select(bucket, Job.state, sa.null().label("task"), sa.func.count())
                      .where(recent).group_by(bucket, Job.state))
        per_task = (sa.select(sa.null(), sa.null(), Job.task_name, sa.func.count())
                    .where(recent, Job.state == JobState.SUCCESS.value).group_by(Job.task_name))
        stmt = _STATEMENTS[key] = sa.union_all(per_minute, per_task)
    return stmt


def _points(counts: dict, start: dt.datetime, step: dt.timedelta, n: int) -> list[dict]:
    """The series' points from {slot start: [completed, failed]}; empty slots are zeros."""
    out = []
    for i in range(n):
        at = start + i * step
        completed, failed = counts.get(at, (0, 0))
        out.append({"at": at.isoformat() + "Z", "completed": completed, "failed": failed})
    return out


def _add(counts: dict, at: dt.datetime, state: str, count) -> None:
    slot = counts.setdefault(at, [0, 0])
    slot[0 if state == JobState.SUCCESS.value else 1] += int(count)


def _closed_points(tenant_id: int | None, week_start: dt.datetime, live_from: dt.datetime) -> list[dict]:
    """The hourly points of [week_start, live_from), from the rollup; kept until an hour closes."""
    key = (str(db.engine.url), tenant_id)
    kept = _CLOSED.get(key)
    if kept is not None and kept[0] == (week_start, live_from):
        return kept[1]
    counts: dict = {}
    for at, state, count in _rollup_rows(tenant_id, week_start, live_from):
        _add(counts, as_datetime(at), state, count)
    hours = max(0, int((live_from - week_start) / dt.timedelta(hours=1)))
    points = _points(counts, week_start, dt.timedelta(hours=1), hours)
    # Kept only once every hour read is known to be rolled up (not after a lost race).
    if _ROLLED.get(key[0]) == live_from:
        if len(_CLOSED) > 1000:
            _CLOSED.clear()
        _CLOSED[key] = ((week_start, live_from), points)
    return points


def throughput(tenant_id: int | None, now: dt.datetime) -> dict:
    """Completed vs failed per minute (last hour) and per hour (last 7 days), plus 24 h totals."""
    return throughput_and_successes(tenant_id, now)[0]


def throughput_and_successes(tenant_id: int | None, now: dt.datetime) -> tuple[dict, dict[str, int]]:
    """`throughput`, and each task's successes counted live (see `live_counts`)."""
    ensure_rollups(now)
    live_from = rolled_until(now)
    this_hour = floor_hour(now)
    week_start = this_hour - dt.timedelta(hours=HOURS_KEPT - 1)
    minute_start = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=59)
    # One live count per minute serves both series: the minute chart and the open hours
    # the rollup has not reached yet (the two windows overlap by about an hour).
    live, successes = live_counts(tenant_id, min(live_from, minute_start))
    minutes: dict = {}
    open_hours: dict = {}
    for at, state, count in live:
        at = as_datetime(at)
        _add(minutes, at, state, count)
        if at >= live_from:
            _add(open_hours, floor_hour(at), state, count)
    closed = _closed_points(tenant_id, week_start, live_from)
    hourly = [dict(p) for p in closed] + _points(
        open_hours, week_start + len(closed) * dt.timedelta(hours=1), dt.timedelta(hours=1),
        HOURS_KEPT - len(closed))
    minutely = _points(minutes, minute_start, dt.timedelta(minutes=1), 60)
    day = hourly[-24:]
    succeeded = sum(h["completed"] for h in day)
    failed = sum(h["failed"] for h in day)
    finished = succeeded + failed
    return {"per_minute": minutely, "per_hour": hourly,
            "last_24h": {"succeeded": succeeded, "failed": failed,
                         "error_rate": round(failed / finished, 4) if finished else 0.0}}, successes


def clear_cache() -> None:
    """Forget what this process keeps (tests, and a bench that empties the rollup)."""
    _ROLLED.clear()
    _CLOSED.clear()
