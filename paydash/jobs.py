"""The job ledger: create jobs with their work, enqueue after commit, record transitions.

Huey forgets a task once it is dequeued; this ledger does not. Every state change of a
job goes through the functions here, called by the code that enqueues and by the Huey
hooks and signals wired in `huey_app.py`. State changes are conditional updates, so a
job delivered twice runs its effect once.
"""
import datetime as dt
import logging
import threading
import time
import traceback as tb
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from huey.exceptions import TaskTimeout

from paydash.extensions import db
from paydash.models import FINISHED_STATES
from paydash.models import Job
from paydash.models import JobEvent
from paydash.models import JobState
from paydash.models import PausedTask
from paydash.models import PeriodicRun
from paydash.models import utcnow
from paydash.queue import PRIORITIES
from paydash.queue import task_policy
from paydash.queue import task_wrapper
from paydash.workers import current_worker_id

logger = logging.getLogger(__name__)

CLAIMABLE = (JobState.PENDING.value, JobState.RETRY.value)
_local = threading.local()


class JobDeadlineExceeded(Exception):
    """Raised inside a task (thread workers) when it passes its time limit."""


class LeaseLost(Exception):
    """Raised inside a task whose job was given to another attempt: stop, change nothing."""


def huey():
    return current_app.extensions["huey"]


def worker_id() -> str:
    """The consumer process this code runs in, as "host:pid"."""
    return current_worker_id()


def add_event(job_id: str, state: str, message: str = "", worker: str | None = None) -> None:
    db.session.add(JobEvent(job_id=job_id, state=state, message=message[:4000], worker_id=worker))


def create_job(task_name: str, *, args: Iterable = (), queue: str = "maintenance",
               tenant_id: int | None = None, upload_id: int | None = None,
               year: int | None = None, month: int | None = None,
               requested_by_id: int | None = None, max_attempts: int | None = None,
               job_id: str | None = None) -> Job:
    """Add a PENDING job to the session; the caller commits, then calls `dispatch`."""
    max_attempts = max_attempts or max_attempts_for(task_name)
    job = Job(id=job_id or str(uuid.uuid4()), task_name=task_name, queue=queue,
              tenant_id=tenant_id, upload_id=upload_id, year=year, month=month,
              args={"args": list(args)}, requested_by_id=requested_by_id,
              state=JobState.PENDING.value, max_attempts=max_attempts,
              priority=PRIORITIES.get(queue, 0), created_at=utcnow())
    db.session.add(job)
    add_event(job.id, JobState.PENDING.value, "created")
    return job


def commit_and_dispatch(*jobs: Job) -> bool:
    """Commit the session (the outbox), then enqueue; False when the broker was unreachable."""
    ids = [job.id for job in jobs]
    db.session.commit()
    return dispatch(ids)


def dispatch(job_ids: Iterable[str], announce: bool = True) -> bool:
    """Enqueue committed jobs; False when the broker was unreachable (recovery retries).

    Each job is reserved first (enqueued_at set where it was empty), so two processes
    draining the outbox at once enqueue it once. The first broker error stops the pass:
    the jobs not tried stay in the outbox. `announce` adds the "queued" event for the
    person who asked; recovery's repeated attempts during an outage add none.
    """
    for job_id in job_ids:
        reserved = db.session.execute(
            sa.update(Job).where(Job.id == job_id, Job.state.in_(CLAIMABLE),
                                 Job.enqueued_at.is_(None))
            .values(enqueued_at=utcnow())).rowcount
        db.session.commit()
        if not reserved:
            continue
        try:
            enqueue(db.session.get(Job, job_id))
        except Exception as exc:  # Broker down: the committed row is the outbox.
            db.session.rollback()
            logger.warning("job %s: enqueue failed (%s); recovery will enqueue it", job_id, exc)
            db.session.execute(sa.update(Job).where(Job.id == job_id).values(enqueued_at=None))
            if announce:
                add_event(job_id, JobState.PENDING.value,
                          "queued — the worker queue was unreachable; it will run when it is back")
            db.session.commit()
            return False
    return True


def max_attempts_for(task_name: str) -> int:
    """1 + the configured retries of a task."""
    return 1 + task_policy(huey(), task_name, current_app.config)["retries"]


def enqueue(job: Job, eta: dt.datetime | None = None) -> None:
    """Put the job's task on the broker under the job's id (raises when the broker is down).

    Retries left, retry delay and time limit come from the app's configuration, so a job
    re-enqueued by recovery keeps only the attempts it has not used.
    """
    task_class = task_wrapper(huey(), job.task_name)
    args = tuple((job.args or {}).get("args", ()))
    policy = task_policy(huey(), job.task_name, current_app.config)
    policy["retries"] = max(0, job.max_attempts - job.attempts - 1)
    task = task_class(args, {}, id=job.id, priority=job.priority, eta=eta, **policy)
    if eta is not None:
        huey().add_schedule(task)
        _mark_enqueued(job.id, eta)
    else:
        huey().enqueue(task)


def _mark_enqueued(job_id: str, eta: dt.datetime | None) -> None:
    db.session.execute(sa.update(Job).where(Job.id == job_id).values(enqueued_at=utcnow(), eta=eta))
    db.session.commit()


# --- Transitions, called from Huey signals and hooks (see huey_app.py) --------------------


def on_enqueued(task) -> None:
    """Record that the broker has the task; a task enqueued outside the ledger gets a row."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Job).where(Job.id == task.id)
        .values(enqueued_at=now, eta=task.eta if task.eta else None)
    )
    if result.rowcount == 0:
        queue = queue_of_priority(task.priority)
        job = Job(id=task.id, task_name=task.name, queue=queue, state=JobState.PENDING.value,
                  args={"args": list(task.args)}, priority=task.priority or 0,
                  max_attempts=1 + int(task.retries or 0), created_at=now, enqueued_at=now)
        db.session.add(job)
        add_event(task.id, JobState.PENDING.value, "enqueued by the scheduler", worker_id())
    db.session.commit()


def queue_of_priority(priority: int | None) -> str:
    for label, value in PRIORITIES.items():
        if value == (priority or 0):
            return label
    return "maintenance"


class Skip(Exception):
    """The task must not run now; `reason` says why (duplicate delivery, paused, ...)."""

    def __init__(self, reason: str, reschedule: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.reschedule = reschedule


def claim(task, is_periodic: bool = False) -> Job:
    """Claim the job for this worker with a conditional update, or raise Skip.

    Only a PENDING or RETRY job can be claimed, so a second delivery of a job that is
    running or finished, or of a revoked job, does nothing. The claim's start time is
    kept on the task: it fences this attempt's later writes (see `fence`).
    """
    if db.session.get(PausedTask, task.name) is not None:
        raise Skip(f"task {task.name} is paused", reschedule=True)
    job = db.session.get(Job, task.id)
    if job is None:
        on_enqueued(task)
        job = db.session.get(Job, task.id)
    if is_periodic and not (job.args or {}).get("manual"):
        _claim_periodic_slot(task, job)
    now = utcnow()
    me = worker_id()
    result = db.session.execute(
        sa.update(Job)
        .where(Job.id == task.id, Job.state.in_(CLAIMABLE))
        .values(state=JobState.STARTED.value, started_at=now, heartbeat_at=now,
                worker_id=me, attempts=Job.attempts + 1, finished_at=None,
                progress_done=0, progress_message=None)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Skip(f"job {task.id} is {job.state}, not claimable: duplicate delivery ignored")
    db.session.refresh(job)
    add_event(job.id, JobState.STARTED.value, f"attempt {job.attempts} started", me)
    db.session.commit()
    task.ledger_started_at = job.started_at
    _local.task = task
    _local.last_progress = 0.0
    logger.info("job %s tenant %s: attempt %s started on %s", job.id, job.tenant_id,
                job.attempts, me)
    return job


def _claim_periodic_slot(task, job: Job) -> None:
    """Two consumers each enqueue a periodic task: only the first to claim the slot runs it."""
    slot = periodic_slot(task, job.enqueued_at or job.created_at)
    try:
        with db.session.begin_nested():
            db.session.add(PeriodicRun(task_name=job.task_name, slot=slot, job_id=job.id))
    except sa.exc.IntegrityError:
        db.session.rollback()
        db.session.execute(sa.update(Job).where(Job.id == job.id).values(
            state=JobState.REVOKED.value, finished_at=utcnow(),
            result={"skipped": "another consumer ran this periodic task for " + slot}))
        add_event(job.id, JobState.REVOKED.value,
                  f"skipped: another consumer already ran it for {slot}", worker_id())
        db.session.commit()
        raise Skip("periodic slot already taken") from None


def periodic_slot(task, enqueued_at: dt.datetime) -> str:
    """The scheduled minute a periodic run belongs to, whichever consumer enqueued it.

    Consumers check their schedules at different seconds, and the enqueue is recorded a
    moment after the check, so the slot is the latest minute at or before the enqueue
    that the schedule matches (looking back two minutes), not the enqueue's own minute.
    """
    minute = enqueued_at.replace(second=0, microsecond=0)
    validate = getattr(task, "validate_datetime", None)
    for back in range(3):
        candidate = minute - dt.timedelta(minutes=back)
        if validate is None or validate(candidate):
            return candidate.isoformat()
    return minute.isoformat()


def _this_attempt(task):
    """Conditions that match the job row only while this attempt still owns it."""
    started = getattr(task, "ledger_started_at", None)
    conditions = [Job.id == task.id, Job.state == JobState.STARTED.value]
    if started is not None:
        conditions.append(Job.started_at == started)
    return conditions


def finish(task, value, exception: BaseException | None) -> None:
    """Record the outcome of one attempt (Huey's post-execute hook).

    Fenced by the attempt: an attempt that lost its job (interrupted, lease expired and
    claimed again elsewhere) cannot overwrite the newer attempt's state.
    """
    _local.task = None
    job = db.session.get(Job, task.id)
    if job is None:
        return
    now = utcnow()
    runtime = (now - job.started_at).total_seconds() if job.started_at else None
    me = worker_id()
    if exception is None:
        summary = value if isinstance(value, dict) else ({"value": value} if value is not None else None)
        done = db.session.execute(
            sa.update(Job).where(*_this_attempt(task))
            .values(state=JobState.SUCCESS.value, finished_at=now, runtime_seconds=runtime,
                    result=summary, error=None, heartbeat_at=now)
        ).rowcount
        if done:
            add_event(job.id, JobState.SUCCESS.value, "done", me)
        db.session.commit()
        logger.info("job %s tenant %s: %s", job.id, job.tenant_id,
                    "SUCCESS" if done else "finished, but the job had been taken over")
        return
    _record_failure(task, job, exception, now, runtime)


def _record_failure(task, job: Job, exception: BaseException, now: dt.datetime,
                    runtime: float | None) -> None:
    error = describe_error(exception)
    trace = "".join(tb.format_exception(type(exception), exception, exception.__traceback__))
    if isinstance(exception, LeaseLost) or isinstance(exception.__cause__, LeaseLost):
        logger.warning("job %s tenant %s: attempt abandoned: %s", job.id, job.tenant_id, error)
        return
    if task.retries:
        eta = now + dt.timedelta(seconds=task.retry_delay or 0)
        values = dict(state=JobState.RETRY.value, eta=eta, enqueued_at=now)
        message = f"attempt {job.attempts} failed: {error}; retrying at {eta:%H:%M:%S} UTC"
    else:
        values = dict(state=JobState.FAILURE.value, finished_at=now)
        message = f"failed: {error}"
    changed = db.session.execute(
        sa.update(Job).where(*_this_attempt(task))
        .values(error=error, traceback=trace, runtime_seconds=runtime, **values)
    ).rowcount
    if changed:
        add_event(job.id, values["state"], message, worker_id())
    db.session.commit()
    logger.info("job %s tenant %s: %s: %s", job.id, job.tenant_id, values["state"], error)


def describe_error(exception: BaseException) -> str:
    if isinstance(exception, (TaskTimeout, JobDeadlineExceeded)):
        return f"timed out: {exception}"
    text = str(exception) or type(exception).__name__
    return f"{type(exception).__name__}: {text}"[:2000]


def on_interrupted(task) -> None:
    """The consumer is shutting down mid-task: put the job back on the queue at once.

    An interrupted attempt does not count against the job's attempts.
    """
    _local.task = None
    result = db.session.execute(
        sa.update(Job).where(*_this_attempt(task), Job.worker_id == worker_id())
        .values(state=JobState.PENDING.value, attempts=sa.case((Job.attempts > 0, Job.attempts - 1), else_=0),
                enqueued_at=None, worker_id=None)
    )
    if result.rowcount:
        add_event(task.id, JobState.PENDING.value,
                  "interrupted by a worker shutdown; back on the queue", worker_id())
    db.session.commit()
    if result.rowcount:
        logger.warning("job %s: interrupted by a worker shutdown; re-enqueued", task.id)
        dispatch([task.id])


def on_revoked(task) -> None:
    db.session.execute(
        sa.update(Job).where(Job.id == task.id, Job.state.in_(CLAIMABLE))
        .values(state=JobState.REVOKED.value, finished_at=utcnow())
    )
    db.session.commit()


def on_skipped(task, skip: Skip) -> None:
    """A claim refused: log it; a paused task goes back on the schedule a little later."""
    logger.info("job %s not run: %s", task.id, skip.reason)
    if skip.reschedule:
        eta = utcnow() + dt.timedelta(seconds=5)
        task.eta = eta
        huey().add_schedule(task)


# --- Inside a running task ------------------------------------------------------------------


def current_task():
    return getattr(_local, "task", None)


def fence() -> None:
    """Inside a task's effect transaction: lock the job row; raise LeaseLost if not ours.

    A task that commits its effect in the same transaction as this call has its effect
    applied only while its attempt still owns the job, so an attempt that recovery or a
    shutdown already gave to another worker cannot add a second effect.
    """
    task = current_task()
    if task is None:
        return
    owned = db.session.execute(
        sa.update(Job).where(*_this_attempt(task)).values(heartbeat_at=utcnow())
    ).rowcount
    if not owned:
        raise LeaseLost(f"job {task.id} is no longer owned by this attempt")


def checkpoint(done: int, total: int | None = None, message: str | None = None,
               force: bool = False) -> None:
    """Report progress (throttled to ~4 writes a second) and stop a task past its deadline.

    Thread workers cannot be interrupted by Huey's timeout, so long tasks call this between
    batches of rows; it raises JobDeadlineExceeded once the task's time limit has passed,
    and LeaseLost once the job was given to another attempt.
    """
    task = current_task()
    if task is None:
        return
    if task._deadline and time.monotonic() >= task._deadline:
        raise JobDeadlineExceeded(f"ran past its {task.timeout} s limit")
    now = time.monotonic()
    if not force and now - getattr(_local, "last_progress", 0.0) < 0.25:
        return
    _local.last_progress = now
    values = {"progress_done": done, "heartbeat_at": utcnow()}
    if total is not None:
        values["progress_total"] = total
    if message is not None:
        values["progress_message"] = message[:300]
    # Progress goes through its own connection so it is visible while the task's own
    # transaction is still open.
    with db.engine.begin() as conn:
        owned = conn.execute(sa.update(Job).where(*_this_attempt(task)).values(**values)).rowcount
    if not owned:
        raise LeaseLost(f"job {task.id} is no longer owned by this attempt")


# --- Reading the ledger -----------------------------------------------------------------


def plain_status(job: Job) -> str:
    """The job's state in the words an HR user reads."""
    if job.state == JobState.STARTED.value:
        if job.progress_total:
            verb = job.progress_message or "Working"
            return f"{verb} {job.progress_done:,} of {job.progress_total:,} rows"
        return job.progress_message or "Running"
    if job.state == JobState.PENDING.value:
        return "Waiting for a worker" if job.enqueued_at else "Queued — it will run when the worker is reachable"
    if job.state == JobState.RETRY.value:
        return f"Retrying after an error (attempt {job.attempts} of {job.max_attempts})"
    if job.state == JobState.FAILURE.value:
        return f"Failed: {job.error or 'unknown error'}"
    if job.state == JobState.REVOKED.value:
        return "Cancelled"
    return "Done"


def job_as_dict(job: Job) -> dict:
    def iso(value):
        return value.isoformat() + "Z" if value else None

    return {
        "id": job.id, "task": job.task_name, "queue": job.queue, "state": job.state,
        "status": plain_status(job), "tenant_id": job.tenant_id, "upload_id": job.upload_id,
        "year": job.year, "month": job.month, "attempts": job.attempts,
        "max_attempts": job.max_attempts, "worker": job.worker_id,
        "progress": {"done": job.progress_done, "total": job.progress_total,
                     "message": job.progress_message},
        "created_at": iso(job.created_at), "enqueued_at": iso(job.enqueued_at),
        "eta": iso(job.eta), "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "heartbeat_at": iso(job.heartbeat_at),
        "runtime_seconds": job.runtime_seconds, "result": job.result, "error": job.error,
        "finished": job.state in FINISHED_STATES,
    }

