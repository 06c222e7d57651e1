"""Retention of the ledger's own history: finished jobs, their events, periodic claims."""
import datetime as dt

import sqlalchemy as sa
from flask import current_app

from paydash.extensions import db
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PeriodicRun


def prune_history(now: dt.datetime | None = None) -> dict:
    """Delete finished jobs past their retention and old periodic claims (the caller commits)."""
    now = now or utcnow()
    cfg = current_app.config
    keep_ok = now - dt.timedelta(days=cfg["JOB_RETENTION_SUCCESS_DAYS"])
    keep_failed = now - dt.timedelta(days=cfg["JOB_RETENTION_FAILURE_DAYS"])
    old_jobs = sa.select(Job.id).where(sa.or_(
        sa.and_(Job.state.in_([JobState.SUCCESS.value, JobState.REVOKED.value]),
                Job.finished_at < keep_ok),
        sa.and_(Job.state == JobState.FAILURE.value, Job.finished_at < keep_failed),
    ))
    events = db.session.execute(sa.delete(JobEvent).where(JobEvent.job_id.in_(old_jobs))).rowcount
    jobs = db.session.execute(sa.delete(Job).where(Job.id.in_(old_jobs))).rowcount
    claims = db.session.execute(sa.delete(PeriodicRun).where(
        PeriodicRun.claimed_at < now - dt.timedelta(days=14))).rowcount
    return {"jobs": jobs, "events": events, "periodic_claims": claims}
