"""No job lost: find jobs the broker lost or a dead worker dropped, and run them again.

Runs every RECOVERY_INTERVAL seconds on a thread of each consumer (never on its worker
threads, so it never waits behind work), once when a consumer starts, and every minute
from the maintenance task as a backstop:
- the outbox: PENDING jobs never enqueued (the broker was down when they were created);
- expired leases: STARTED jobs whose worker stopped heart-beating;
- broker data loss: PENDING or RETRY jobs the broker should hold but does not.
"""
import datetime as dt
import logging
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
from flask import current_app

from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger import workers
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker
from paydash.ledger.queue import queued_task_ids

logger = logging.getLogger(__name__)

# Recovery works from a snapshot of these columns, never from ORM objects: every transition
# commits, and a commit expires loaded objects, so the next job's state would be re-read as
# it is *now* (say SUCCESS, written meanwhile by a worker) and the conditional transition
# would then match that state instead of the one that made the job a candidate.
_SNAPSHOT = (Job.id, Job.state, Job.attempts, Job.max_attempts, Job.enqueued_at,
             Job.started_at, Job.worker_id, Job.tenant_id,
             Job.last_sign_of_life.label("last_sign_of_life"))


@dataclass
class RecoveryReport:
    enqueued_outbox: list[str] = field(default_factory=list)
    requeued_dead_worker: list[str] = field(default_factory=list)
    failed_dead_worker: list[str] = field(default_factory=list)
    requeued_lost: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: len(v) for k, v in self.__dict__.items()}


def recover_lost_jobs(now: dt.datetime | None = None) -> RecoveryReport:
    """One recovery pass; safe to run concurrently with workers and with itself."""
    now = now or utcnow()
    cfg = current_app.config
    report = RecoveryReport()
    report.enqueued_outbox = drain_outbox(now)
    _expire_leases(now, cfg["LEASE_SECONDS"], report)
    report.requeued_lost = _requeue_lost(now, cfg["ENQUEUE_GRACE_SECONDS"])
    _drop_old_workers(now)
    if any(report.as_dict().values()):
        logger.warning("recovery: %s", report.as_dict())
    return report


# Any fixed number, the same in every process: the key of recovery's advisory lock.
RECOVERY_LOCK_KEY = 7_240_113


def recovery_pass() -> RecoveryReport | None:
    """A pass from a consumer's recovery thread: one at a time across every consumer.

    Each consumer tries every RECOVERY_INTERVAL; on PostgreSQL the one that holds the
    advisory lock runs the pass and the others skip it (None), so ten consumers do not
    make ten times the work. The lock is the session's: a consumer that dies mid-pass
    releases it with its connection.
    """
    if db.engine.dialect.name != "postgresql":
        return recover_lost_jobs()
    with db.engine.connect() as conn:
        if not conn.scalar(sa.select(sa.func.pg_try_advisory_lock(RECOVERY_LOCK_KEY))):
            conn.rollback()
            return None
        conn.commit()
        try:
            return recover_lost_jobs()
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(RECOVERY_LOCK_KEY)))
            conn.commit()


def drain_outbox(now: dt.datetime | None = None) -> list[str]:
    """Enqueue PENDING jobs never enqueued; called every heartbeat, so cheap when empty."""
    now = now or utcnow()
    # A moment of grace: the request that created the job may be enqueueing it now.
    cutoff = now - dt.timedelta(seconds=2)
    ids = list(db.session.scalars(
        sa.select(Job.id).where(Job.state == JobState.PENDING.value,
                                Job.enqueued_at.is_(None), Job.created_at < cutoff)
        .order_by(Job.created_at).limit(5000)))
    if ids and jobs.dispatch(ids, announce=False):
        logger.info("recovery: enqueued %s jobs from the outbox", len(ids))
    return ids


def _expire_leases(now: dt.datetime, lease: float, report: RecoveryReport) -> None:
    """STARTED jobs whose worker is dead go back on the queue, or fail once attempts are spent.

    A worker is dead when it has not heart-beaten for `lease` seconds, or at once when it
    was a process on this host that no longer exists (a consumer restarted by supervisor,
    systemd or a test, after a crash).
    """
    cutoff = now - dt.timedelta(seconds=lease)
    silent_jobs = db.session.execute(
        sa.select(*_SNAPSHOT).where(Job.state == JobState.STARTED.value,
                                    Job.last_sign_of_life < cutoff).limit(5000)
    ).all()
    for job in silent_jobs:
        silent = round((now - job.last_sign_of_life).total_seconds())
        _release(job, now, f"worker {job.worker_id} stopped heart-beating {silent} s ago",
                 report, Job.last_sign_of_life < cutoff)
    for job in _jobs_of_dead_local_workers(cutoff):
        _release(job, now, f"worker {job.worker_id} is no longer running", report)
    if report.requeued_dead_worker:
        jobs.dispatch(report.requeued_dead_worker, announce=False)
    jobs.notify_failed(report.failed_dead_worker)


def _jobs_of_dead_local_workers(cutoff: dt.datetime) -> list[sa.Row]:
    """STARTED jobs, not yet silent past the lease, of processes that died on this machine.

    Only workers of this machine, boot and PID namespace are looked up in the process
    table (`workers.process_is_gone`); any other worker keeps its jobs until its lease ends.
    """
    if not workers.MACHINE:
        return []
    running = db.session.execute(
        sa.select(*_SNAPSHOT).where(Job.state == JobState.STARTED.value,
                                    Job.last_sign_of_life >= cutoff,
                                    Job.worker_id != workers.current_worker_id())
        .limit(5000)).all()
    ids = {job.worker_id for job in running if job.worker_id}
    if not ids:
        return []
    local = {w.id: w for w in db.session.scalars(
        sa.select(Worker).where(Worker.id.in_(ids), Worker.machine == workers.MACHINE))}
    gone = {wid for wid, worker in local.items() if workers.process_is_gone(worker)}
    return [job for job in running if job.worker_id in gone]


def _release(job: sa.Row, now: dt.datetime, why: str, report: RecoveryReport, *still) -> None:
    """Re-enqueue or fail one job of a dead worker, unless its attempt moved on meanwhile."""
    same_attempt = (Job.started_at == job.started_at, Job.worker_id == job.worker_id, *still)
    if job.attempts < job.max_attempts:
        if _transition(job.id, JobState.STARTED, JobState.PENDING,
                       f"{why}; re-enqueued (attempt {job.attempts} of {job.max_attempts} used)",
                       same_attempt, enqueued_at=None, worker_id=None):
            report.requeued_dead_worker.append(job.id)
            logger.warning("job %s tenant %s: %s; re-enqueued", job.id, job.tenant_id, why)
    elif _transition(job.id, JobState.STARTED, JobState.FAILURE,
                     f"{why}; all {job.max_attempts} attempts used", same_attempt,
                     finished_at=now, error=f"Worker lost: {why}"):
        report.failed_dead_worker.append(job.id)
        logger.warning("job %s tenant %s: %s; failed, no attempts left", job.id, job.tenant_id, why)


def _requeue_lost(now: dt.datetime, grace: float) -> list[str]:
    cutoff = now - dt.timedelta(seconds=grace)
    candidates = db.session.execute(
        sa.select(*_SNAPSHOT).where(
            sa.or_(
                sa.and_(Job.state == JobState.PENDING.value, Job.enqueued_at < cutoff),
                sa.and_(Job.state == JobState.RETRY.value,
                        sa.func.coalesce(Job.eta, Job.enqueued_at) < cutoff),
            )
        ).limit(5000)
    ).all()
    if not candidates:
        return []
    held = queued_task_ids(jobs.huey())
    lost = [job for job in candidates if job.id not in held]
    requeued = []
    for job in lost:
        if _transition(job.id, JobState(job.state), JobState.PENDING,
                       "the queue no longer held this job (broker data lost); re-enqueued",
                       (Job.enqueued_at == job.enqueued_at,), enqueued_at=None):
            requeued.append(job.id)
            logger.warning("job %s tenant %s: not held by any queue; re-enqueued",
                           job.id, job.tenant_id)
    if requeued:
        jobs.dispatch(requeued, announce=False)
    return requeued


def _transition(job_id: str, old: JobState, new: JobState, message: str,
                conditions: tuple = (), **values) -> bool:
    """Conditional state change with its event; False when someone else changed it first."""
    result = db.session.execute(
        sa.update(Job).where(Job.id == job_id, Job.state == old.value, *conditions)
        .values(state=new.value, **values)
    )
    if result.rowcount:
        jobs.add_event(job_id, new.value, message, jobs.worker_id())
    db.session.commit()
    return bool(result.rowcount)


def _drop_old_workers(now: dt.datetime) -> None:
    # Rows of workers gone for a day are dropped, so the table does not grow.
    db.session.execute(sa.delete(Worker).where(
        Worker.heartbeat_at < now - dt.timedelta(days=1)))
    db.session.commit()
