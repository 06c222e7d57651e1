"""The bridge between Huey and a Flask app, and the hooks that keep the job ledger.

Tasks run inside an app context (a consumer worker thread keeps one); the hooks claim
each attempt before it runs, record its outcome after, and follow Huey's signals. The
Huey instance itself lives in `paydash.broker`, which installs these hooks on it.
"""
import functools
import logging
import os
import signal
import threading

from flask import current_app
from flask import has_app_context
from flask.globals import app_ctx
from huey import signals
from huey.api import PeriodicTask
from huey.exceptions import CancelExecution

from paydash.extensions import db
from paydash.ledger import attempt
from paydash.ledger import fencing
from paydash.ledger import jobs
from paydash.ledger import memory
from paydash.ledger import outage
from paydash.ledger import recovery
from paydash.ledger import workers
from paydash.ledger import writer
from paydash.ledger.queue import backend_name

logger = logging.getLogger(__name__)

_app = None
_app_lock = threading.Lock()
_app_pid = None
_app_factory = None


def set_app_factory(factory) -> None:
    """How this process builds its Flask app when a task first needs one (the consumer's
    entry module passes Paydash's `create_app`)."""
    global _app_factory
    _app_factory = factory


def flask_app():
    """The Flask app this process runs tasks in, built lazily and rebuilt after a fork."""
    global _app, _app_pid
    app = _app
    if app is not None and _app_pid == os.getpid():  # Every task asks: no lock for that.
        return app
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("no Flask app for tasks: call use_app() or set_app_factory()")
            _app = _app_factory()
            _app_pid = os.getpid()
        elif _app_pid != os.getpid():
            # Never carry a pooled connection across a fork.
            with _app.app_context():
                db.engine.dispose(close=False)
            _app_pid = os.getpid()
    return _app


def use_app(app):
    """Run tasks and hooks inside `app` (the web app in immediate mode, and tests); returns
    the app used before, if any, so a caller can put it back."""
    global _app, _app_pid
    with _app_lock:
        previous = _app
        _app, _app_pid = app, os.getpid()
    return previous


_worker = threading.local()


def keep_app_context() -> None:
    """Let this consumer worker thread keep one app context for all its tasks.

    Pushing and tearing down a Flask app context per task cost a no-op task about a
    tenth of its time in the consumer (BENCHMARKS.md, "Ledger cost"). The kept context
    is pushed once; after each task (or hook) the session is removed and `g` emptied, as
    the context's teardown would, so no task sees what the one before it left.
    Called by the startup hook, which Huey runs in each worker thread or process.
    """
    _worker.ctx, _worker.busy, _worker.pid = None, False, os.getpid()


def _in_kept_context(fn, args, kwargs):
    app = flask_app()
    ctx = _worker.ctx
    if ctx is None or ctx.app is not app:
        ctx = _worker.ctx = app.app_context()
        ctx.push()
    _worker.busy = True
    error = None
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # Handed to the teardown functions, as Flask does.
        error = exc
        raise
    finally:
        _worker.busy = False
        try:
            for teardown in reversed(app.teardown_appcontext_funcs):
                teardown(error)
            if vars(ctx.g):
                ctx.g = app.app_ctx_globals_class()
            memory.after_task()
        except Exception:
            # Whatever the failed teardown left (a session, g) must not reach the next
            # task: this context is dropped, and the next call pushes a fresh one.
            logger.exception("tearing down the worker's app context failed; starting anew")
            _worker.ctx = None
            try:
                ctx.pop()
            except Exception:
                logger.debug("popping the failed app context failed too", exc_info=True)


def in_app_context(fn):
    """Run `fn` inside the app context already pushed, the worker thread's kept one, or a
    new one for the call."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        if getattr(_worker, "pid", None) == os.getpid() and not _worker.busy:
            # Only when the kept context is the current one (or none is): inside a context
            # someone else pushed, that one is used and they tear it down.
            current = app_ctx._get_current_object() if has_app_context() else None
            if current is None or current is _worker.ctx:
                return _in_kept_context(fn, args, kwargs)
        if has_app_context():
            return fn(*args, **kwargs)
        with flask_app().app_context():
            return fn(*args, **kwargs)
    return inner


def fenced(fn):
    """Every commit of the task is fenced; one that lost its job stops without a retry."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        try:
            with fencing.task_body():
                return fn(*args, **kwargs)
        except jobs.LeaseLost as exc:
            logger.warning("%s", exc)
            if has_app_context():  # What the lost attempt wrote is dropped here, not later.
                db.session.rollback()
            raise CancelExecution(retry=False) from exc
    return inner


def task(huey, **settings):
    """`huey.task` whose function runs inside an app context."""
    def decorator(fn):
        return huey.task(**settings)(fenced(in_app_context(fn)))
    return decorator


def periodic_task(huey, validate_datetime, **settings):
    """`huey.periodic_task` whose function runs inside an app context."""
    def decorator(fn):
        return huey.periodic_task(validate_datetime, **settings)(fenced(in_app_context(fn)))
    return decorator


def claim_before_running(task) -> None:
    """Claim the task's job, or raise CancelExecution: a task without its claim never runs.

    Any error on the way (a lock timeout reading the paused tasks, a database outage)
    cancels the attempt. The message is put back on the schedule a little later; should
    that fail too (the broker is down as well), the ledger still holds the job PENDING and
    recovery enqueues it again once nothing holds it. Huey's own retries are never used
    for this, so an outage cannot spend a job's attempts or drop its message.
    """
    try:
        if jobs.claim_behind(task):  # The common case: no app context, no database round trip.
            return
        with flask_app().app_context():
            jobs.claim(task, is_periodic=isinstance(task, PeriodicTask))
        return
    except jobs.Skip as skip:
        refused = skip
    except Exception as exc:
        if not outage.report(f"claiming job {task.id}", exc):
            logger.exception("job %s: its claim could not be made; rescheduled", task.id)
        refused = jobs.Skip("its claim could not be made", reschedule=True)
    try:
        with flask_app().app_context():
            jobs.on_skipped(task, refused)
    except Exception as exc:  # The broker is down too: recovery re-enqueues it later.
        logger.warning("job %s: not run and not rescheduled (%s); recovery will enqueue it",
                       task.id, exc)
    raise CancelExecution(retry=False)


def _note_interrupts() -> None:
    """In a process worker, remember the consumer's interrupt signal before Huey acts on it.

    Huey's handler raises KeyboardInterrupt inside the running task; whatever error that
    turns into, the ledger then records an interruption, not a failed attempt. Only the
    main thread of a process can set handlers: thread workers skip this (the consumer
    reports their interrupted tasks itself).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if not callable(previous) or getattr(previous, "notes_interrupts", False):
            continue

        def noting(number, frame, previous=previous):
            attempt.interrupt_requested()
            return previous(number, frame)

        noting.notes_interrupts = True
        signal.signal(signum, noting)


def install_hooks(huey) -> None:
    """Attach the ledger to `huey`: start-up and shutdown of a worker, the claim before
    each task, its outcome after, and the enqueue, interrupt and revoke signals."""
    fencing.install()
    outage.quiet_huey_while_away()
    @huey.on_startup()
    @in_app_context
    def _on_startup():
        cfg = current_app.config
        workers.register(cfg["WORKER_TYPE"], cfg["WORKERS"], backend_name(huey))
        jobs.start_ledger_writer(flask_app())
        workers.die_with_parent()
        _note_interrupts()
        if workers.start_heartbeat(flask_app(), huey, cfg["HEARTBEAT_INTERVAL"],
                                   on_recover=recovery.recovery_pass,
                                   recovery_interval=cfg["RECOVERY_INTERVAL"],
                                   on_beat=jobs.write_deferred):
            # Once per consumer process: jobs a previous run left behind go back on the queue.
            recovery.recover_lost_jobs()
        keep_app_context()  # Last: this hook runs in a context of its own, popped on return.

    @huey.on_shutdown()
    @in_app_context
    def _on_shutdown():
        writer.stop()
        workers.mark_stopped()

    @huey.pre_execute()
    def _claim(task):
        claim_before_running(task)

    @huey.post_execute()
    def _finish(task, task_value, exception):
        try:
            if not jobs.finish_behind(task, task_value, exception):  # No app context needed.
                in_app_context(jobs.finish)(task, task_value, exception)
        except Exception as exc:
            if outage.kind_of(exc) is not outage.DATABASE:
                raise
            # Written by the heartbeat thread once the database answers (`write_deferred`).
            outage.database_unreachable(f"outcome of job {task.id}", exc)
            task.ledger_interrupted = True  # The ledger re-enqueues it, not Huey.
            jobs.defer_outcome(task, task_value, exception)

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
