"""Queue latency per minute: how long jobs waited between being asked for and first starting.

A job's wait runs from its creation (or from its `eta`, for a job delayed on purpose) to
its first STARTED; it is counted in the minute that start fell in, like Sidekiq's latency
and Oban's queue time. Retries are left out of the wait: a retried job's row carries only
its latest start, so its first one is read from its timeline (`JobEvent`).

No index leads with `started_at`, so the jobs are found through two that exist: finished
since the window began (`ix_job_finished`), or still open (`ix_job_state_created`; open jobs
are the queue, a small set). A job that started in the window has finished since then or
is still open. Closed minutes (older than `GRACE`, which covers the writer's write-behind)
are computed once per process and kept. The last few minutes are read again only when
the timeline has grown (its newest event id, one index probe, has changed): every start
writes a STARTED event in the same transaction as the job row, so while nothing starts
the open minutes cannot have changed (issue 18: the overview is polled every 2 s).
"""
import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState

MINUTES = 60
GRACE = dt.timedelta(minutes=2)
OPEN_STATES = (JobState.PENDING.value, JobState.STARTED.value, JobState.RETRY.value)
EVENT_CHUNK = 500

# (database, tenant) -> {minute: figures}; closed minutes only (see the module's note).
_CLOSED: dict[tuple, dict[dt.datetime, dict]] = {}
# (database, tenant) -> ((first open minute, newest event id), waits of the open minutes).
_OPEN: dict[tuple, tuple] = {}


_NEWEST_EVENT = sa.select(sa.func.max(JobEvent.id))  # built once: every poll runs it


def floor_minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def _nearest_rank(sorted_values: list[float], q: float) -> float:
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def figures(waits: list[float]) -> dict:
    """count, median (p50), p95 and the longest wait, in seconds (None without jobs)."""
    if not waits:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    waits = sorted(waits)
    return {"count": len(waits), "p50": round(_nearest_rank(waits, 50), 3),
            "p95": round(_nearest_rank(waits, 95), 3), "max": round(waits[-1], 3)}


def _first_starts(connection, job_ids: list[str]) -> dict[str, dt.datetime]:
    """Each retried job's first STARTED, from its timeline (index on job_id)."""
    out = {}
    for i in range(0, len(job_ids), EVENT_CHUNK):
        chunk = job_ids[i:i + EVENT_CHUNK]
        rows = connection.execute(
            sa.select(JobEvent.job_id, sa.func.min(JobEvent.at))
            .where(JobEvent.job_id.in_(chunk), JobEvent.state == JobState.STARTED.value)
            .group_by(JobEvent.job_id)).all()
        out.update({job_id: _as_datetime(at) for job_id, at in rows})
    return out


def _as_datetime(value) -> dt.datetime:
    # SQLite hands MIN() of a datetime back as text.
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def waits_by_minute(tenant_id: int | None, since: dt.datetime,
                    until: dt.datetime | None = None) -> dict[dt.datetime, list[float]]:
    """Seconds waited by each job whose first start fell in [since, until), per minute."""
    found = sa.or_(Job.finished_at >= since, Job.state.in_(OPEN_STATES))
    stmt = (sa.select(Job.id, Job.created_at, Job.eta, Job.started_at, Job.attempts)
            .where(found, Job.started_at >= since))
    if until is not None:
        # A retried job's latest start may be after `until` while its first is before it.
        stmt = stmt.where(sa.or_(Job.started_at < until, Job.attempts > 1))
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    connection = db.session.connection()
    rows = connection.execute(stmt).all()
    retried = _first_starts(connection, [r.id for r in rows if (r.attempts or 0) > 1])
    out: dict[dt.datetime, list[float]] = {}
    for row in rows:
        first = retried.get(row.id, row.started_at) if (row.attempts or 0) > 1 else row.started_at
        if first < since or (until is not None and first >= until):
            continue
        ready = row.created_at
        # An eta after the first start belongs to a retry's back-off, not to the job's delay.
        if row.eta is not None and ready < row.eta <= first:
            ready = row.eta
        out.setdefault(floor_minute(first), []).append(max(0.0, (first - ready).total_seconds()))
    return out


def per_minute(tenant_id: int | None, now: dt.datetime) -> list[dict]:
    """The last hour, minute by minute (oldest first): jobs started and their waits' figures."""
    start = floor_minute(now) - dt.timedelta(minutes=MINUTES - 1)
    closed_until = max(start, floor_minute(now - GRACE))
    key = (str(db.engine.url), tenant_id)
    cache = _CLOSED.setdefault(key, {})
    for minute in [m for m in cache if m < start]:
        del cache[minute]
    missing = [m for m in _minutes(start, closed_until) if m not in cache]
    if missing:
        waits = waits_by_minute(tenant_id, missing[0], closed_until)
        cache.update({m: figures(waits.get(m, [])) for m in missing})
    newest_event = db.session.connection().execute(_NEWEST_EVENT).scalar()
    stamp = (closed_until, newest_event)
    kept = _OPEN.get(key)
    if kept is not None and kept[0] == stamp:
        live = kept[1]
    else:
        live = waits_by_minute(tenant_id, closed_until)
        _OPEN[key] = (stamp, live)
    if len(_CLOSED) > 1000 or len(_OPEN) > 1000:
        _CLOSED.clear()
        _OPEN.clear()
    return [{"at": m.isoformat() + "Z",
             **(cache[m] if m < closed_until else figures(live.get(m, [])))}
            for m in _minutes(start, floor_minute(now) + dt.timedelta(minutes=1))]


def _minutes(start: dt.datetime, end: dt.datetime) -> Iterable[dt.datetime]:
    minute = start
    while minute < end:
        yield minute
        minute += dt.timedelta(minutes=1)


def clear_cache() -> None:
    _CLOSED.clear()
    _OPEN.clear()
