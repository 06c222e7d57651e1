"""What an admin may do to jobs: retry, revoke, pause a task, run a periodic task now.

Every action changes the ledger with a conditional update (so it cannot race the worker
into a wrong state), adds a JobEvent and an audit entry in the same transaction, commits,
and only then talks to the broker: the ledger, not the broker, is the source of truth, and
the worker's claim refuses a job the ledger no longer holds as PENDING or RETRY.
"""
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from paydash.extensions import db
from paydash.ledger import jobs
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask
from paydash.ledger.queue import periodic_task_classes
from paydash.ledger.queue import registered_task_names

logger = logging.getLogger(__name__)

REVOCABLE = (JobState.PENDING.value, JobState.RETRY.value)
BULK_LIMIT = 1000


class ActionRefused(Exception):
    """The action does not apply (wrong state, unknown task); the text says why."""


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit log and the job's timeline."""

    user_id: int | None
    tenant_id: int | None
    label: str
    ip: str | None = None


AUDIT_HOOK = "ledger.audit"


def _audit(actor: Actor, action: str, target: str, tenant_id: int | None = None, **detail) -> None:
    """Hand the action to the host app's audit log, in the action's own transaction.

    The host installs its recorder as `app.extensions["ledger.audit"]` (Paydash: its
    `audit.record`); the ledger knows no audit table of its own.
    """
    record = current_app.extensions.get(AUDIT_HOOK)
    if record is not None:
        record(action, user_id=actor.user_id, tenant_id=tenant_id or actor.tenant_id,
               target=target, detail=detail or None, ip=actor.ip)


def _reset_for_retry(job: Job, actor: Actor, fresh_attempts: int) -> bool:
    """FAILURE → PENDING with `fresh_attempts` more; False when it was not FAILURE any more."""
    previous, trace = job.error, job.traceback or ""
    changed = db.session.execute(
        sa.update(Job).where(Job.id == job.id, Job.state == JobState.FAILURE.value)
        .values(state=JobState.PENDING.value, finished_at=None, eta=None, enqueued_at=None,
                worker_id=None, error=None, traceback=None, result=None,
                max_attempts=Job.attempts + fresh_attempts)
    ).rowcount
    if changed:
        # The timeline keeps what the failed attempts did, including the traceback's end.
        jobs.add_event(job.id, JobState.PENDING.value,
                       f"retry requested by {actor.label}; previous error: {previous}\n{trace[-2500:]}")
        _audit(actor, "job_retry", job.id, job.tenant_id, task=job.task_name)
    return bool(changed)


def retry(job: Job, actor: Actor) -> None:
    """Run a failed job again under its own id, with its task's full retry policy."""
    if job.state != JobState.FAILURE.value:
        raise ActionRefused(f"Only a failed job can be retried; this one is {job.state}.")
    if not _reset_for_retry(job, actor, jobs.max_attempts_for(job.task_name)):
        db.session.rollback()
        raise ActionRefused("The job changed state meanwhile; reload and try again.")
    jobs.commit_and_dispatch(job)
    logger.info("job %s: retry requested by %s", job.id, actor.label)


def bulk_retry(candidates: Iterable[Job], actor: Actor) -> int:
    """Retry every failed job among `candidates` (at most BULK_LIMIT); returns how many."""
    chosen = [j for j in candidates if j.state == JobState.FAILURE.value][:BULK_LIMIT]
    fresh = {name: jobs.max_attempts_for(name) for name in {j.task_name for j in chosen}}
    ids = [j.id for j in chosen if _reset_for_retry(j, actor, fresh[j.task_name])]
    if ids:
        _audit(actor, "job_bulk_retry", f"{len(ids)} jobs", None, ids=ids[:200])
    db.session.commit()
    jobs.dispatch(ids)
    logger.info("bulk retry of %d jobs by %s", len(ids), actor.label)
    return len(ids)


def _revoke_in_ledger(job: Job, actor: Actor, why: str) -> bool:
    changed = db.session.execute(
        sa.update(Job).where(Job.id == job.id, Job.state.in_(REVOCABLE))
        .values(state=JobState.REVOKED.value, finished_at=utcnow(), eta=None)
    ).rowcount
    if changed:
        jobs.add_event(job.id, JobState.REVOKED.value, f"{why} by {actor.label}")
    return bool(changed)


def _revoke_in_broker(job_ids: Iterable[str]) -> None:
    """Tell Huey too, so the message is dropped unread; the ledger already refuses it."""
    try:
        for job_id in job_ids:
            jobs.huey().revoke_by_id(job_id, revoke_once=True)
    except Exception as exc:  # Broker down: the claim still refuses a REVOKED job.
        logger.warning("revoke: broker unreachable (%s); the ledger refuses the jobs anyway", exc)


def revoke(job: Job, actor: Actor) -> None:
    """Cancel a pending or scheduled job: it will never run."""
    if job.state not in REVOCABLE:
        raise ActionRefused(f"Only a pending or scheduled job can be revoked; this one is {job.state}.")
    if not _revoke_in_ledger(job, actor, "revoked"):
        db.session.rollback()
        raise ActionRefused("The job started or changed state meanwhile; reload and try again.")
    _audit(actor, "job_revoke", job.id, job.tenant_id, task=job.task_name)
    db.session.commit()
    _revoke_in_broker([job.id])
    logger.info("job %s revoked by %s", job.id, actor.label)


def revoke_pending_of_task(task_name: str, actor: Actor) -> int:
    """Revoke every pending or scheduled job of one task name (operators only)."""
    _check_task(task_name)
    # One statement for all of them (up to 10,000), not an UPDATE and an event per job.
    pending = (sa.select(Job.id).where(Job.task_name == task_name, Job.state.in_(REVOCABLE))
               .limit(10 * BULK_LIMIT).scalar_subquery())
    ids = list(db.session.scalars(
        sa.update(Job.__table__).where(Job.id.in_(pending), Job.state.in_(REVOCABLE))
        .values(state=JobState.REVOKED.value, finished_at=utcnow(), eta=None)
        .returning(Job.id)))
    jobs.add_events(ids, JobState.REVOKED.value, f"all pending {task_name} revoked by {actor.label}")
    _audit(actor, "task_revoke_pending", task_name, None, count=len(ids))
    db.session.commit()
    _revoke_in_broker(ids)
    logger.info("%d pending %s jobs revoked by %s", len(ids), task_name, actor.label)
    return len(ids)


def _check_task(task_name: str) -> None:
    if task_name not in registered_task_names(jobs.huey()):
        raise ActionRefused(f"There is no task named {task_name!r}.")


def is_paused(task_name: str) -> bool:
    return db.session.get(PausedTask, task_name) is not None


def paused_task_names() -> set[str]:
    """Every paused task name, in one query (pages list them all)."""
    return set(db.session.scalars(sa.select(PausedTask.task_name)))


def pause(task_name: str, actor: Actor) -> None:
    """Workers leave a paused task's jobs waiting (the claim reschedules them) until resumed."""
    _check_task(task_name)
    if is_paused(task_name):
        raise ActionRefused(f"{task_name} is already paused.")
    db.session.add(PausedTask(task_name=task_name, paused_by_id=actor.user_id, paused_at=utcnow()))
    _audit(actor, "task_pause", task_name)
    db.session.commit()
    logger.info("task %s paused by %s", task_name, actor.label)


def resume(task_name: str, actor: Actor) -> None:
    _check_task(task_name)
    deleted = db.session.execute(sa.delete(PausedTask).where(PausedTask.task_name == task_name)).rowcount
    if not deleted:
        db.session.rollback()
        raise ActionRefused(f"{task_name} is not paused.")
    _audit(actor, "task_resume", task_name)
    db.session.commit()
    logger.info("task %s resumed by %s", task_name, actor.label)


def periodic_task_names() -> list[str]:
    return [tc.__name__ for tc in periodic_task_classes(jobs.huey())]


def run_periodic_now(task_name: str, actor: Actor) -> Job:
    """Queue one run of a periodic task now; `manual` makes the claim skip the slot check."""
    if task_name not in periodic_task_names():
        raise ActionRefused(f"There is no periodic task named {task_name!r}.")
    job = jobs.create_job(task_name, queue="maintenance", requested_by_id=actor.user_id,
                          max_attempts=1)
    job.args = {"args": [], "manual": True}
    _audit(actor, "periodic_run_now", task_name, None, job_id=job.id)
    jobs.commit_and_dispatch(job)
    logger.info("periodic %s run now by %s as job %s", task_name, actor.label, job.id)
    return job
