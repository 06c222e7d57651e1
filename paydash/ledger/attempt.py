"""One attempt of a job in a worker: its fence, its checkpoints, and how its outcome reads.

The claim (`paydash.ledger.jobs.claim`) records the attempt's start time on the task and keeps
the task in a thread-local; every later write of that attempt matches the job row only
while the row still carries that start time, so an attempt the ledger gave to another
worker can change nothing. Re-exported by `paydash.ledger.jobs`.
"""
import datetime as dt
import threading
import time
import traceback as tb

import sqlalchemy as sa
from huey.exceptions import TaskTimeout

from paydash.extensions import db
from paydash.ledger import writer
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState

_local = threading.local()


class JobDeadlineExceeded(Exception):
    """Raised inside a task (thread workers) when it passes its time limit."""


class LeaseLost(Exception):
    """Raised inside a task whose job was given to another attempt: stop, change nothing."""


def this_attempt(task) -> list:
    """Conditions that match the job row only while this attempt still owns it."""
    started = getattr(task, "ledger_started_at", None)
    conditions = [Job.id == task.id, Job.state == JobState.STARTED.value]
    if started is not None:
        conditions.append(Job.started_at == started)
    return conditions


def current_task():
    return getattr(_local, "task", None)


def fence(session=None) -> None:
    """Inside a task's effect transaction: lock the job row; raise LeaseLost if not ours.

    A task that commits its effect in the same transaction as this call has its effect
    applied only while its attempt still owns the job, so an attempt that recovery or a
    shutdown already gave to another worker cannot add a second effect. Every commit a
    task makes runs this first (`paydash.ledger.fencing`); calling it by hand is optional.
    """
    task = current_task()
    if task is None:
        return
    _make_durable(task)
    owned = (session or db.session).execute(
        sa.update(Job).where(*this_attempt(task)).values(heartbeat_at=utcnow())
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
    _make_durable(task)
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
        owned = conn.execute(sa.update(Job).where(*this_attempt(task)).values(**values)).rowcount
    if not owned:
        raise LeaseLost(f"job {task.id} is no longer owned by this attempt")


def claim_now() -> None:
    """Inside a task: write this attempt's claim now, before the task reads its own job row."""
    task = current_task()
    if task is not None:
        _make_durable(task)


def _make_durable(task) -> None:
    """A claim written behind is written now, before this attempt reports or changes anything."""
    if not writer.make_durable(task):
        raise LeaseLost(f"job {task.id} was not claimed by this attempt")


def describe_error(exception: BaseException) -> str:
    """The error in one line for the ledger and the dashboard."""
    if isinstance(exception, (TaskTimeout, JobDeadlineExceeded)):
        return f"timed out: {exception}"
    text = str(exception) or type(exception).__name__
    return f"{type(exception).__name__}: {text}"[:2000]


_interrupt = threading.Event()


def interrupt_requested() -> None:
    """The consumer asked this process to stop its running tasks now (its interrupt signal)."""
    _interrupt.set()


def interrupted_by_shutdown(exception: BaseException) -> bool:
    """Did the attempt end because the consumer was stopping, whatever the error says?

    Huey interrupts a task with KeyboardInterrupt; a database driver busy at that moment
    often turns it into an error of its own (psycopg: "cannot exit pipeline mode while
    busy"). Any error once this process was told to stop is read as the interruption.
    """
    seen = exception
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return _interrupt.is_set()


def lost_its_lease(exception: BaseException) -> bool:
    """True when the attempt stopped because another attempt owns the job."""
    return isinstance(exception, LeaseLost) or isinstance(exception.__cause__, LeaseLost)


def failure_values(task, exception: BaseException, now: dt.datetime) -> dict:
    """RETRY with its ETA while Huey will retry the task, else FAILURE; with the traceback."""
    error = describe_error(exception)
    trace = "".join(tb.format_exception(type(exception), exception, exception.__traceback__))
    if task.retries:
        eta = now + dt.timedelta(seconds=task.retry_delay or 0)
        return dict(state=JobState.RETRY.value, eta=eta, enqueued_at=now, error=error, traceback=trace)
    return dict(state=JobState.FAILURE.value, finished_at=now, error=error, traceback=trace)


def outcome_message(values: dict, attempts: int) -> str:
    """The timeline event for a finished attempt."""
    if values["state"] == JobState.SUCCESS.value:
        return "done"
    if values["state"] == JobState.RETRY.value:
        return f"attempt {attempts} failed: {values['error']}; retrying at {values['eta']:%H:%M:%S} UTC"
    return f"failed: {values['error']}"
