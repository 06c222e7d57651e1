"""The one Huey instance, the bridge that runs tasks inside a Flask app context, and the
hooks that keep the job ledger. `huey_consumer huey_app.huey` imports this module, and
its last line imports `tasks`, so the consumer registers every task.
"""
import functools
import logging
import os
import threading

from flask import current_app
from flask import has_app_context
from huey import signals
from huey.api import PeriodicTask
from huey.exceptions import CancelExecution

from paydash import jobs
from paydash import ledger_writer
from paydash import recovery
from paydash import workers
from paydash.config import Config
from paydash.extensions import db
from paydash.queue import backend_name
from paydash.queue import make_huey

logger = logging.getLogger(__name__)

huey = make_huey(Config.as_dict())

_app = None
_app_lock = threading.Lock()
_app_pid = None


def flask_app():
    """The Flask app this process runs tasks in, built lazily and rebuilt after a fork."""
    global _app, _app_pid
    with _app_lock:
        if _app is None:
            from app import app  # noqa: PLC0415  (app.py imports this module)
            _app = app
            _app_pid = os.getpid()
        elif _app_pid != os.getpid():
            # Never carry a pooled connection across a fork.
            with _app.app_context():
                db.engine.dispose(close=False)
            _app_pid = os.getpid()
    return _app


def use_app(app) -> None:
    """Run tasks and hooks inside `app` (the web app in immediate mode, and tests)."""
    global _app, _app_pid
    with _app_lock:
        _app, _app_pid = app, os.getpid()


def in_app_context(fn):
    """Run `fn` inside the process's app context (or the one already pushed)."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        with flask_app().app_context():
            return fn(*args, **kwargs)
    return inner


def fenced(fn):
    """A task that lost its job to another attempt stops without a retry of its own."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except jobs.LeaseLost as exc:
            logger.warning("%s", exc)
            raise CancelExecution(retry=False) from exc
    return inner


def task(**settings):
    """`huey.task` whose function runs inside an app context."""
    def decorator(fn):
        return huey.task(**settings)(fenced(in_app_context(fn)))
    return decorator


def periodic_task(validate_datetime, **settings):
    """`huey.periodic_task` whose function runs inside an app context."""
    def decorator(fn):
        return huey.periodic_task(validate_datetime, **settings)(fenced(in_app_context(fn)))
    return decorator


# --- The ledger's hooks ----------------------------------------------------------------------


@huey.on_startup()
@in_app_context
def _on_startup():
    cfg = current_app.config
    workers.register(cfg["WORKER_TYPE"], cfg["WORKERS"], backend_name(huey))
    jobs.start_ledger_writer(flask_app())
    if workers.start_heartbeat(flask_app(), huey, cfg["HEARTBEAT_INTERVAL"],
                               on_beat=recovery.drain_outbox):
        # Once per consumer process: jobs a previous run left behind go back on the queue.
        recovery.recover_lost_jobs()


@huey.on_shutdown()
@in_app_context
def _on_shutdown():
    ledger_writer.stop()
    workers.mark_stopped()


@huey.pre_execute()
def _claim(task):
    if jobs.claim_behind(task):  # The common case: no app context, no database round trip.
        return
    try:
        with flask_app().app_context():
            jobs.claim(task, is_periodic=isinstance(task, PeriodicTask))
    except jobs.Skip as skip:
        with flask_app().app_context():
            jobs.on_skipped(task, skip)
        raise CancelExecution(retry=False) from None
    except Exception:
        # Without a claim the task must not run: try again once the database answers.
        logger.exception("job %s: could not claim it; rescheduled to try again", task.id)
        with flask_app().app_context():
            jobs.on_skipped(task, jobs.Skip("database unreachable", reschedule=True))
        raise CancelExecution(retry=False) from None


@huey.post_execute()
def _finish(task, task_value, exception):
    if not jobs.finish_behind(task, task_value, exception):  # No app context needed for that.
        in_app_context(jobs.finish)(task, task_value, exception)


@huey.signal(signals.SIGNAL_ENQUEUED)
@in_app_context
def _enqueued(signal, task, *args):
    jobs.on_enqueued(task)


@huey.signal(signals.SIGNAL_INTERRUPTED)
@in_app_context
def _interrupted(signal, task, *args):
    jobs.on_interrupted(task)


@huey.signal(signals.SIGNAL_REVOKED, signals.SIGNAL_EXPIRED)
@in_app_context
def _revoked(signal, task, *args):
    jobs.on_revoked(task)


import tasks  # noqa: E402,F401  Last: registers every task with `huey`.
