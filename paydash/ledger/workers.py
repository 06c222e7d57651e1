"""Consumer processes in the ledger: registration, heartbeats and leases.

Each consumer process has one Worker row ("host:pid") and one heartbeat thread, which
every HEARTBEAT_INTERVAL seconds refreshes the row and the heartbeat of every job the
process is running. A job whose heartbeat is older than LEASE_SECONDS belongs to a
worker that died; `paydash.ledger.recovery` puts it back on the queue.
"""
import datetime as dt
import logging
import multiprocessing
import os
import socket
import threading

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker

logger = logging.getLogger(__name__)

_started_in_pid: int | None = None
# When this consumer started (forked workers inherit it): a job this id claimed before
# then was claimed by an earlier process that had the same pid (a restarted container).
PROCESS_STARTED_AT = utcnow()
_lock = threading.Lock()


def consumer_pid() -> int:
    """The pid of the consumer: process workers are forked children of it."""
    parent = multiprocessing.parent_process()
    # The parent's recorded pid, not getppid(): an orphaned child must keep its identity.
    return parent.pid if parent is not None else os.getpid()


def current_worker_id() -> str:
    return f"{socket.gethostname()}:{consumer_pid()}"


def register(worker_type: str, concurrency: int, backend: str) -> None:
    """Create or refresh this consumer's Worker row.

    Every worker thread or forked worker process of one consumer calls this at start, at
    the same moment, so a lost race to insert the row becomes an update.
    """
    wid = current_worker_id()
    host, pid = wid.rsplit(":", 1)
    now = utcnow()
    values = dict(worker_type=worker_type, concurrency=concurrency, queue_backend=backend,
                  heartbeat_at=now, stopped_at=None)
    if db.session.get(Worker, wid) is None:
        try:
            with db.session.begin_nested():
                db.session.add(Worker(id=wid, host=host, pid=int(pid), started_at=now, **values))
            db.session.commit()
            logger.info("worker %s registered (%s x %s, %s)", wid, concurrency, worker_type, backend)
            return
        except sa.exc.IntegrityError:
            db.session.rollback()
    db.session.execute(sa.update(Worker).where(Worker.id == wid).values(**values))
    db.session.commit()


def process_is_gone(worker_id: str | None) -> bool:
    """True when `worker_id` names a process on this host that no longer exists."""
    if not worker_id or ":" not in worker_id:
        return False
    host, pid = worker_id.rsplit(":", 1)
    if host != socket.gethostname() or not pid.isdigit() or worker_id == current_worker_id():
        return False
    if int(pid) == os.getpid():  # A forked worker checking its own consumer's id.
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # It exists, under another user.
        return False
    return False


def beat(in_flight_ids: list[str]) -> None:
    """One heartbeat: the worker row, and the jobs this process is running."""
    now = utcnow()
    db.session.execute(sa.update(Worker).where(Worker.id == current_worker_id())
                       .values(heartbeat_at=now, stopped_at=None))
    if in_flight_ids:
        db.session.execute(
            sa.update(Job).where(Job.id.in_(in_flight_ids), Job.state == JobState.STARTED.value)
            .values(heartbeat_at=now)
        )
    db.session.commit()


def mark_stopped() -> None:
    db.session.execute(sa.update(Worker).where(Worker.id == current_worker_id())
                       .values(stopped_at=utcnow()))
    db.session.commit()


def start_heartbeat(app, huey, interval: float, on_beat=None) -> bool:
    """Start this process's heartbeat thread once (a forked child starts its own).

    `on_beat` (the outbox drain) runs every interval on a thread of its own: draining a
    backlog after a broker outage can take minutes, and heartbeats must not wait for it,
    or the leases of the jobs running meanwhile expire and they run twice.
    """
    global _started_in_pid
    with _lock:
        if _started_in_pid == os.getpid():
            return False
        _started_in_pid = os.getpid()

    def heartbeat():
        beat([task.id for task in list(huey._tasks_in_flight)])

    _every(interval, app, heartbeat, "paydash-heartbeat")
    if on_beat is not None:
        _every(interval, app, on_beat, "paydash-outbox")
    return True


def _every(interval: float, app, fn, name: str) -> None:
    """Call `fn` in an app context every `interval` seconds on a daemon thread."""
    def run():
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                with app.app_context():
                    fn()
            except Exception:  # The database or broker may be briefly unreachable; go on.
                logger.exception("worker %s: %s failed", current_worker_id(), name)

    threading.Thread(target=run, name=name, daemon=True).start()


def status_of(worker: Worker, lease_seconds: float, now: dt.datetime | None = None) -> str:
    """alive, stale (missed its lease) or stopped."""
    now = now or utcnow()
    if worker.stopped_at is not None:
        return "stopped"
    if (now - worker.heartbeat_at).total_seconds() > lease_seconds:
        return "stale"
    return "alive"
