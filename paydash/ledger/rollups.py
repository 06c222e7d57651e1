"""Finished-job counts over time: last 24 h, per minute for an hour, per hour for 7 days.

Counting a week of a busy ledger on every page view is too slow at a million rows, so
closed hours are rolled up once into `JobHourStat` (lazily, by whoever reads first) and
only the still-open stretch (at most about an hour) is counted live. Rows for hours older
than the 7-day window are deleted as new hours are added, so the rollup stays small.
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
    """Roll up every closed hour of the window that is not rolled up yet (idempotent)."""
    first = floor_hour(now) - dt.timedelta(hours=HOURS_KEPT)
    end = rolled_until(now)
    done = set(as_datetime(h) for h in db.session.scalars(
        sa.select(JobHourStat.hour).where(JobHourStat.task_name == MARK, JobHourStat.hour >= first)))
    missing = []
    hour = first
    while hour < end:
        if hour not in done:
            missing.append(hour)
        hour += dt.timedelta(hours=1)
    if not missing:
        return
    _roll_up(set(missing), missing[0], missing[-1] + dt.timedelta(hours=1), first)


def _roll_up(hours: set, start: dt.datetime, end: dt.datetime, first: dt.datetime) -> None:
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
    logger.info("job rollup: %d hours added", len(hours))


def _rollup_rows(tenant_id: int | None, since: dt.datetime, until: dt.datetime):
    stmt = (sa.select(JobHourStat.hour, JobHourStat.state, sa.func.sum(JobHourStat.count))
            .where(JobHourStat.tenant_key == (EVERY_TENANT if tenant_id is None else tenant_id),
                   JobHourStat.hour >= since, JobHourStat.hour < until,
                   JobHourStat.state.in_(COUNTED)))
    return db.session.execute(stmt.group_by(JobHourStat.hour, JobHourStat.state)).all()


def _live_rows(tenant_id: int | None, unit: str, since: dt.datetime):
    bucket = _trunc(unit, Job.finished_at)
    stmt = (sa.select(bucket, Job.state, sa.func.count())
            .where(Job.finished_at >= since, Job.state.in_(COUNTED)))
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    return db.session.execute(stmt.group_by(bucket, Job.state)).all()


def _series(rows, start: dt.datetime, step: dt.timedelta, n: int) -> list[dict]:
    slots = {start + i * step: {"completed": 0, "failed": 0} for i in range(n)}
    for at, state, count in rows:
        slot = slots.get(as_datetime(at))
        if slot is not None:
            slot["completed" if state == JobState.SUCCESS.value else "failed"] += int(count)
    return [{"at": at.isoformat() + "Z", **v} for at, v in sorted(slots.items())]


def _hourly(minute_rows) -> list:
    """Per-minute live rows summed into hours, in the rows' (at, state, count) shape."""
    hours: dict = {}
    for at, state, count in minute_rows:
        key = (floor_hour(as_datetime(at)), state)
        hours[key] = hours.get(key, 0) + int(count)
    return [(at, state, count) for (at, state), count in hours.items()]


def throughput(tenant_id: int | None, now: dt.datetime) -> dict:
    """Completed vs failed per minute (last hour) and per hour (last 7 days), plus 24 h totals."""
    ensure_rollups(now)
    live_from = rolled_until(now)
    this_hour = floor_hour(now)
    week_start = this_hour - dt.timedelta(hours=HOURS_KEPT - 1)
    minute_start = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=59)
    # One live count per minute serves both series: the minute chart and the open hours
    # the rollup has not reached yet (the two windows overlap by about an hour).
    live = list(_live_rows(tenant_id, "minute", min(live_from, minute_start)))
    hourly = _series(list(_rollup_rows(tenant_id, week_start, live_from))
                     + _hourly(r for r in live if as_datetime(r[0]) >= live_from),
                     week_start, dt.timedelta(hours=1), HOURS_KEPT)
    minutely = _series(live, minute_start, dt.timedelta(minutes=1), 60)
    day = hourly[-24:]
    succeeded = sum(h["completed"] for h in day)
    failed = sum(h["failed"] for h in day)
    finished = succeeded + failed
    return {"per_minute": minutely, "per_hour": hourly,
            "last_24h": {"succeeded": succeeded, "failed": failed,
                         "error_rate": round(failed / finished, 4) if finished else 0.0}}
