"""The job ledger: create jobs with their work, enqueue after commit, record transitions.

Huey forgets a task once it is dequeued; this ledger does not. Every state change of a
job goes through the functions here, called by the code that enqueues and by the Huey
hooks and signals wired in `huey_app.py`. State changes are conditional updates, so a
job delivered twice runs its effect once.
"""
import datetime as dt
import functools
import json
import logging
import threading
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from huey.api import PeriodicTask

from paydash.clock import utcnow as local_utcnow
from paydash.extensions import db
from paydash.ledger import fencing
from paydash.ledger import outage
from paydash.ledger import writer as ledger_writer
from paydash.ledger.attempt import JobDeadlineExceeded  # noqa: F401  (re-exported, as below)
from paydash.ledger.attempt import LeaseLost  # noqa: F401
from paydash.ledger.attempt import _local
from paydash.ledger.attempt import checkpoint  # noqa: F401
from paydash.ledger.attempt import claim_now  # noqa: F401
from paydash.ledger.attempt import current_task  # noqa: F401
from paydash.ledger.attempt import describe_error
from paydash.ledger.attempt import failure_values
from paydash.ledger.attempt import fence  # noqa: F401
from paydash.ledger.attempt import interrupted_by_shutdown
from paydash.ledger.attempt import lost_its_lease
from paydash.ledger.attempt import outcome_message
from paydash.ledger.attempt import this_attempt
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobEvent
from paydash.ledger.models import JobState
from paydash.ledger.models import PausedTask
from paydash.ledger.models import PeriodicRun
from paydash.ledger.queue import PRIORITIES
from paydash.ledger.queue import task_policy
from paydash.ledger.queue import task_wrapper
from paydash.ledger.views import job_as_dict  # noqa: F401  (re-exported: imported from here)
from paydash.ledger.views import plain_status  # noqa: F401
from paydash.ledger.workers import current_worker_id

logger = logging.getLogger(__name__)

CLAIMABLE = ledger_writer.CLAIMABLE
# Jobs reserved and enqueued per transaction by `dispatch`.
DISPATCH_BATCH = 500


# The host app's callable, under this key in `app.extensions`, told the ids of jobs the
# ledger has just failed for good (so it can release what waited on them).
FAILED_HOOK = "ledger.on_failed"


def huey():
    return current_app.extensions["huey"]


def notify_failed(job_ids: list[str]) -> None:
    """Tell the host app which jobs just failed for good; its errors never stop the ledger."""
    hook = current_app.extensions.get(FAILED_HOOK)
    if hook is None or not job_ids:
        return
    try:
        hook(job_ids)
    except Exception:
        logger.exception("the host's failed-jobs hook failed for %s", job_ids)
        db.session.rollback()


def worker_id() -> str:
    """The consumer process this code runs in, as "host:pid"."""
    return current_worker_id()


def add_event(job_id: str, state: str, message: str = "", worker: str | None = None) -> None:
    db.session.add(JobEvent(job_id=job_id, state=state, message=message[:4000], worker_id=worker))


def add_events(job_ids: Iterable[str], state: str, message: str) -> None:
    """The same event for many jobs, in one statement (bulk actions)."""
    rows = [{"job_id": job_id, "state": state, "message": message[:4000], "worker_id": None,
             "at": utcnow()} for job_id in job_ids]
    if rows:
        db.session.execute(ledger_writer.ADD_EVENT, rows)


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

    Jobs are reserved first, a batch in one UPDATE (enqueued_at set where it was empty),
    so two processes draining the outbox at once enqueue each job once. The first broker
    error stops the pass and puts the jobs not enqueued back in the outbox. `announce`
    adds the "queued" event for the person who asked; recovery's repeated attempts during
    an outage add none.
    """
    ids = list(job_ids)
    for start in range(0, len(ids), DISPATCH_BATCH):
        if not _dispatch_batch(ids[start:start + DISPATCH_BATCH], announce):
            return False
    return True


def _dispatch_batch(ids: list[str], announce: bool) -> bool:
    rows = db.session.execute(
        sa.update(Job.__table__)
        .where(Job.id.in_(ids), Job.state.in_(CLAIMABLE), Job.enqueued_at.is_(None))
        .values(enqueued_at=utcnow())
        .returning(Job.id, Job.task_name, Job.args, Job.priority, Job.attempts, Job.max_attempts)
    ).all()
    db.session.commit()
    order = {job_id: n for n, job_id in enumerate(ids)}
    rows.sort(key=lambda row: order[row.id])
    for n, row in enumerate(rows):
        try:
            enqueue(row, reserved=True)
        except Exception as exc:  # Broker down: the committed rows are the outbox.
            if not outage.report(f"enqueueing job {row.id}", exc):
                logger.warning("job %s: enqueue failed (%s); recovery will enqueue it", row.id, exc)
            _release([r.id for r in rows[n:]], announce)
            return False
    return True


def _release(ids: list[str], announce: bool) -> None:
    """Put reserved jobs back in the outbox after a failed enqueue."""
    db.session.rollback()
    db.session.execute(sa.update(Job).where(Job.id.in_(ids)).values(enqueued_at=None))
    if announce:
        for job_id in ids:
            add_event(job_id, JobState.PENDING.value,
                      "queued — the worker queue was unreachable; it will run when it is back")
    db.session.commit()


def max_attempts_for(task_name: str) -> int:
    """1 + the configured retries of a task."""
    return 1 + task_policy(huey(), task_name, current_app.config)["retries"]


def enqueue(job: Job, eta: dt.datetime | None = None, reserved: bool = False) -> None:
    """Put the job's task on the broker under the job's id (raises when the broker is down).

    Retries left, retry delay and time limit come from the app's configuration, so a job
    re-enqueued by recovery keeps only the attempts it has not used. `reserved`: the
    caller has already set enqueued_at, so the ENQUEUED signal need not write it again.
    """
    task_class = task_wrapper(huey(), job.task_name)
    args = tuple((job.args or {}).get("args", ()))
    policy = task_policy(huey(), job.task_name, current_app.config)
    policy["retries"] = max(0, job.max_attempts - job.attempts - 1)
    task = task_class(args, {}, id=job.id, priority=job.priority, eta=eta, **policy)
    task.ledger_reserved = reserved
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
    if getattr(task, "ledger_reserved", False):
        return
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


def ledger_connection() -> sa.Connection:
    """The session's connection for one of the worker's own transitions (claim, finish).

    On PostgreSQL the transaction commits asynchronously: the commit returns before its
    WAL is flushed, which is what made each claim and finish wait on the disk. This is
    safe for exactly-once-in-effect because a crash loses only a suffix of the WAL, in
    order: a lost SUCCESS also loses everything that followed it, and a lost claim or
    finish leaves a job PENDING or STARTED that recovery re-runs (lease, broker check),
    its effects being idempotent upserts fenced by the attempt. A task's own effects and
    every outbox commit (web or worker) keep synchronous commit, so a job row is never
    enqueued before it is durable.
    """
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    return conn


def claim_behind(task) -> bool:
    """Claim without waiting: the process's ledger writer records it with its batch.

    False when the claim must go the synchronous way (`claim`): no writer in this process
    (the web app, tests running tasks in place), a periodic task, a paused task, or a
    writer that cannot reach the database. Needs no app context.
    """
    if isinstance(task, PeriodicTask):
        return False
    writer = ledger_writer.current()
    if writer is None or not writer.accepts(task.name):
        return False
    attempt = writer.start(task, utcnow())
    task.ledger_attempt = attempt
    task.ledger_started_at = attempt.started_at
    _local.task = task
    _local.last_progress = 0.0
    return True


def finish_behind(task, value, exception: BaseException | None) -> bool:
    """Record a success without waiting, for an attempt claimed behind that changed nothing.

    False when the outcome must be written by `finish`: the attempt was claimed
    synchronously, or it failed (before that, the attempt's own claim is written). The
    success of an attempt that made itself durable (progress, an effect) is written here,
    at once.
    """
    attempt = ledger_writer.attempt_of(task)
    if attempt is None:
        return False
    if exception is None and not attempt.durable:
        _local.task = None
        now = utcnow()
        attempt.writer.succeed(attempt, now, (now - attempt.started_at).total_seconds(), value)
        return True
    attempt.durable = True
    _local.task = None  # The attempt's work is over, whatever settling it below does.
    if not attempt.writer.settle(attempt):
        return True  # Refused: another attempt owns the job; this one records nothing.
    if exception is not None:
        return False
    # A durable success is written before the hook returns, as the synchronous path
    # would, but as one statement (with its event) on this thread's own connection.
    now = utcnow()
    try:
        attempt.writer.succeed_at_once(attempt, now, (now - attempt.started_at).total_seconds(),
                                       value)
    except Exception as exc:  # Kept in the writer's list: its thread writes it once it can.
        logger.warning("job %s: its success is not written yet (%s); retrying", task.id, exc)
    return True


def settle_refused(app, attempt, finish: tuple | None) -> None:
    """A claim the writer's batch refused: why, in the synchronous path's words.

    A duplicate delivery or a paused task is skipped (a paused one rescheduled); a job
    the ledger never saw gets its row and is claimed for this attempt. Runs in the
    thread that wrote the batch.
    """
    task = attempt.task
    with app.app_context(), fencing.bookkeeping():
        try:
            _claim_row(task, now=attempt.started_at)
        except Skip as skip:
            on_skipped(task, skip)
            attempt.claimed = False
            # It may have been revoked while it ran: Huey's delete of the flag was skipped
            # for this attempt (see queue.LedgerHuey), so it is done here, even when this
            # runs in the attempt's own thread (a checkpoint, or the hook before a failure).
            huey().forget_revoke_flag(task)
            return
        except Exception:
            logger.exception("job %s: could not claim it after its batch was refused", task.id)
            attempt.claimed = False
            return
        attempt.claimed = True
        if finish is not None:
            attempt.durable = True
            finished_at, runtime, result = finish
            _write_outcome(task, dict(state=JobState.SUCCESS.value, finished_at=finished_at,
                                      result=json.loads(result) if result else None,
                                      error=None, heartbeat_at=finished_at), runtime, None)


def start_ledger_writer(app) -> None:
    """Start this consumer process's ledger writer (from the consumer's startup hook)."""
    cfg = app.config
    if not cfg["LEDGER_WRITE_BEHIND"] or huey().immediate:
        return
    ledger_writer.start(db.engine, worker_id(), functools.partial(settle_refused, app),
                        interval=cfg["LEDGER_FLUSH_SECONDS"], batch=cfg["LEDGER_FLUSH_BATCH"])


def claim(task, is_periodic: bool = False) -> None:
    """Claim the job for this worker with a conditional update, or raise Skip.

    Only a PENDING or RETRY job of a task that is not paused can be claimed, so a second
    delivery of a job that is running or finished, or of a revoked job, does nothing. The
    claim's start time is kept on the task: it fences this attempt's later writes (see
    `fence`). The common case is one UPDATE ... RETURNING and one event insert.
    """
    if is_periodic:
        _claim_periodic_slot(task)
    started = _claim_row(task)
    task.ledger_started_at = started.started_at
    task.ledger_attempt = None
    _local.task = task
    _local.last_progress = 0.0
    logger.info("job %s tenant %s: attempt %s started on %s", task.id, started.tenant_id,
                started.attempts, worker_id())


def _claim_row(task, now: dt.datetime | None = None) -> sa.Row:
    """Claim the job's row for this attempt, or raise Skip saying why not."""
    started = _start_attempt(task, now)
    if started is None:
        _explain_refusal(task)  # Raises Skip, or adds the missing row.
        started = _start_attempt(task, now)
        if started is None:
            raise Skip(f"job {task.id} is not claimable: duplicate delivery ignored")
    return started


def _start_attempt(task, now: dt.datetime | None = None) -> sa.Row | None:
    """The conditional update that claims the job, committed; None when it matched no row."""
    now = now or utcnow()
    me = worker_id()
    conn = ledger_connection()
    row = conn.execute(ledger_writer.CLAIM, {"job_id": task.id, "paused_name": task.name, "now": now,
                                "worker": me}).one_or_none()
    if row is not None:
        _record_event(conn, task.id, JobState.STARTED.value, f"attempt {row.attempts} started", me, now)
        db.session.commit()
    else:  # Nothing to keep, not even a periodic slot taken for a job that will not run.
        db.session.rollback()
    return row


def _explain_refusal(task) -> None:
    """Why the claim matched no row: paused, duplicate, or a job the ledger never saw."""
    if db.session.get(PausedTask, task.name) is not None:
        raise Skip(f"task {task.name} is paused", reschedule=True)
    state = db.session.scalar(sa.select(Job.state).where(Job.id == task.id))
    if state is not None:
        raise Skip(f"job {task.id} is {state}, not claimable: duplicate delivery ignored")
    on_enqueued(task)


def _record_event(conn: sa.Connection, job_id: str, state: str, message: str,
                  worker: str | None, at: dt.datetime) -> None:
    conn.execute(ledger_writer.ADD_EVENT, {"job_id": job_id, "state": state, "message": message[:4000],
                              "worker_id": worker, "at": at})


def _claim_periodic_slot(task) -> None:
    """Two consumers each enqueue a periodic task: only the first to claim the slot runs it."""
    if db.session.get(PausedTask, task.name) is not None:
        raise Skip(f"task {task.name} is paused", reschedule=True)
    job = db.session.get(Job, task.id)
    if job is None:
        on_enqueued(task)
        job = db.session.get(Job, task.id)
    if (job.args or {}).get("manual"):
        return
    slot = periodic_slot(task, job.enqueued_at or job.created_at)
    try:
        with db.session.begin_nested():
            db.session.add(PeriodicRun(task_name=job.task_name, slot=slot, job_id=job.id))
    except sa.exc.IntegrityError:
        db.session.rollback()
        db.session.execute(sa.update(Job).where(Job.id == job.id, Job.state.in_(CLAIMABLE)).values(
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


def finish(task, value, exception: BaseException | None) -> None:
    """Record the outcome of one attempt (Huey's post-execute hook).

    One conditional UPDATE and its event, fenced by the attempt: an attempt that lost its
    job (interrupted, lease expired and claimed again elsewhere) cannot overwrite the
    newer attempt's state.
    """
    _local.task = None
    if exception is not None and lost_its_lease(exception):
        logger.warning("job %s: attempt abandoned: %s", task.id, describe_error(exception))
        return
    if exception is not None and (interrupted_by_shutdown(exception)
                                  or outage.connection_lost(exception)):
        # Not a failure: the job goes back on the queue and the attempt is not counted.
        task.ledger_interrupted = True  # Huey must not re-enqueue it as a retry too.
        why = ("interrupted by a worker shutdown" if interrupted_by_shutdown(exception)
               else "stopped: the database connection was lost")
        logger.warning("job %s: %s (%s)", task.id, why, describe_error(exception))
        _reset_session()
        on_interrupted(task, why)
        return
    now = utcnow()
    started = getattr(task, "ledger_started_at", None)
    runtime = (now - started).total_seconds() if started else None
    if exception is None:
        values = dict(state=JobState.SUCCESS.value, finished_at=now,
                      result=ledger_writer.result_summary(value),
                      error=None, heartbeat_at=now)
    else:
        values = failure_values(task, exception, now)
    _write_outcome(task, values, runtime, exception)


def _write_outcome(task, values: dict, runtime: float | None,
                   exception: BaseException | None) -> None:
    now = values.get("finished_at") or values.get("enqueued_at")
    conn = ledger_connection()
    row = conn.execute(sa.update(Job.__table__).where(*this_attempt(task))
                       .values(runtime_seconds=runtime, **values)
                       .returning(Job.attempts, Job.tenant_id)).one_or_none()
    if row is None:
        db.session.rollback()
        logger.info("job %s: finished, but the job had been taken over", task.id)
        return
    message = outcome_message(values, row.attempts)
    _record_event(conn, task.id, values["state"], message, worker_id(), now)
    db.session.commit()
    if values["state"] == JobState.FAILURE.value:
        notify_failed([task.id])
    logger.info("job %s tenant %s: %s", task.id, row.tenant_id, message if exception else "SUCCESS")


def _reset_session() -> None:
    """Drop what the interrupted attempt left in the session (its connection may be broken)."""
    try:
        db.session.rollback()
    except Exception:  # A connection left busy by the interruption: a new one is taken.
        logger.debug("rolling back after an interruption failed", exc_info=True)
        db.session.remove()


def on_interrupted(task, why: str = "interrupted by a worker shutdown") -> None:
    """The consumer is shutting down mid-task: put the job back on the queue at once.

    An interrupted attempt does not count against the job's attempts.
    """
    _local.task = None
    attempt = ledger_writer.attempt_of(task)
    if attempt is not None:
        attempt.durable = True
        if not attempt.writer.settle(attempt):
            return
    result = db.session.execute(
        sa.update(Job).where(*this_attempt(task), Job.worker_id == worker_id())
        .values(state=JobState.PENDING.value, attempts=sa.case((Job.attempts > 0, Job.attempts - 1), else_=0),
                enqueued_at=None, worker_id=None)
    )
    if result.rowcount:
        add_event(task.id, JobState.PENDING.value, f"{why}; back on the queue", worker_id())
    db.session.commit()
    if result.rowcount:
        logger.warning("job %s: %s; re-enqueued", task.id, why)
        dispatch([task.id])


# Outcomes the post-execute hook could not write (the database was away), by task id:
# the heartbeat thread writes them once it answers, so those jobs run again within
# seconds of its return instead of waiting for their lease to expire.
_deferred: dict[str, tuple] = {}
_deferred_lock = threading.Lock()


def defer_outcome(task, value, exception: BaseException | None) -> None:
    with _deferred_lock:
        _deferred[task.id] = (task, value, exception)


def write_deferred() -> int:
    """Write the outcomes deferred by an outage (heartbeat thread); how many were written."""
    with _deferred_lock:
        waiting = list(_deferred.values())
    written = 0
    for task, value, exception in waiting:
        _local.task = None
        try:
            finish(task, value, exception)
        except Exception as exc:
            if outage.kind_of(exc) is not outage.DATABASE:
                raise
            _reset_session()
            return written  # Still away: the next beat tries again.
        with _deferred_lock:
            _deferred.pop(task.id, None)
        written += 1
    if written:
        logger.warning("wrote %s job outcome(s) held while the database was away", written)
    return written


def on_revoked(task) -> None:
    db.session.execute(
        sa.update(Job).where(Job.id == task.id, Job.state.in_(CLAIMABLE))
        .values(state=JobState.REVOKED.value, finished_at=utcnow())
    )
    db.session.commit()


def on_skipped(task, skip: Skip) -> None:
    """A claim refused: log it; a paused task goes back on the schedule a little later."""
    # During an outage every queued job passes here every few seconds: the outage's own
    # lines say it (`paydash.ledger.outage`).
    quiet = outage.DATABASE.ongoing or outage.BROKER.ongoing
    logger.log(logging.DEBUG if quiet else logging.INFO, "job %s not run: %s", task.id, skip.reason)
    if skip.reschedule:
        # Huey's scheduler runs on this host's clock, not the database's.
        eta = local_utcnow() + dt.timedelta(seconds=5)
        task.eta = eta
        huey().add_schedule(task)
