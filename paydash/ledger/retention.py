"""Retention: no table grows without bound."""
import datetime as dt
import logging

import sqlalchemy as sa
from flask import current_app

from paydash.extensions import db
from paydash.models import Job
from paydash.models import JobEvent
from paydash.models import JobState
from paydash.models import PeriodicRun
from paydash.models import Upload
from paydash.models import UploadStatus
from paydash.models import utcnow

logger = logging.getLogger(__name__)


def prune(now: dt.datetime | None = None) -> dict:
    """Delete finished jobs past their retention, old periodic claims and old workbook bytes."""
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
    # Workbook bytes of uploads that never became (or no longer are) the period's data.
    keep_files = now - dt.timedelta(days=cfg["UPLOAD_RETENTION_DAYS"])
    files = db.session.execute(sa.update(Upload).where(
        Upload.created_at < keep_files, Upload.content.is_not(None),
        Upload.status != UploadStatus.CONFIRMED.value,
    ).values(content=None, staged_rows=None)).rowcount
    db.session.commit()
    summary = {"jobs": jobs, "events": events, "periodic_claims": claims, "workbooks": files}
    logger.info("retention: pruned %s", summary)
    return summary
