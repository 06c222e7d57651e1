"""Consumer processes in the ledger: registration, heartbeats and leases.

Each consumer process has one Worker row ("host:pid") and one heartbeat thread, which
every HEARTBEAT_INTERVAL seconds refreshes the row and the heartbeat of every job the
process is running. A job whose heartbeat is older than LEASE_SECONDS belongs to a
worker that died; `paydash.recovery` puts it back on the queue.
"""
import datetime as dt
import logging
import multiprocessing
import os
import socket
import threading

import sqlalchemy as sa

from paydash.extensions import db
from paydash.models import Job
from paydash.models import JobState
from paydash.models import Worker
from paydash.models import utcnow

logger = logging.getLogger(__name__)

_started_in_pid: int | None = None
_lock = threading.Lock()


def consumer_pid() -> int:
    """The pid of the consumer: process workers are forked children of it."""
    if multiprocessing.parent_process() is not None:
        return os.getppid()
    return os.getpid()


def current_worker_id() -> str:
    return f"{socket.gethostname()}:{consumer_pid()}"


def register(worker_type: str, concurrency: int, backend: str) -> None:
    """Create or refresh this process's Worker row."""
    wid = current_worker_id()
    now = utcnow()
    row = db.session.get(Worker, wid)
    if row is None:
        host, pid = wid.rsplit(":", 1)
        row = Worker(id=wid, host=host, pid=int(pid), started_at=now)
        db.session.add(row)
    row.worker_type = worker_type
    row.concurrency = concurrency
    row.queue_backend = backend
    row.heartbeat_at = now
    row.stopped_at = None
    db.session.commit()


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


def start_heartbeat(app, huey, interval: float) -> bool:
    """Start this process's heartbeat thread once (a forked child starts its own)."""
    global _started_in_pid
    with _lock:
        if _started_in_pid == os.getpid():
            return False
        _started_in_pid = os.getpid()

    def run():
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                with app.app_context():
                    beat([task.id for task in list(huey._tasks_in_flight)])
            except Exception:  # The database may be briefly unreachable; keep beating.
                logger.exception("worker %s: heartbeat failed", current_worker_id())

    thread = threading.Thread(target=run, name="paydash-heartbeat", daemon=True)
    thread.start()
    return True


def status_of(worker: Worker, lease_seconds: float, now: dt.datetime | None = None) -> str:
    """alive, stale (missed its lease) or stopped."""
    now = now or utcnow()
    if worker.stopped_at is not None:
        return "stopped"
    if (now - worker.heartbeat_at).total_seconds() > lease_seconds:
        return "stale"
    return "alive"
