"""Consumer processes in the ledger: identity, registration, heartbeats and leases.

Each consumer process has one Worker row and one heartbeat thread, which every
HEARTBEAT_INTERVAL seconds refreshes the row and the heartbeat of every job the process
is running. A job whose heartbeat is older than LEASE_SECONDS belongs to a worker that
died; `paydash.ledger.recovery` puts it back on the queue.

A worker's identity is made once per process start ("host:pid:key", the key random), so
cloned VMs and containers that share a hostname and even PIDs never share a row or judge
each other's jobs. The hostname and pid are for people. Whether a worker's process is
gone is read from the local process table only for workers of this very machine, boot
and PID namespace (`MACHINE`); every other worker is judged by its lease alone.
"""
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import uuid

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker

logger = logging.getLogger(__name__)

_started_in_pid: int | None = None
_lock = threading.Lock()


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def machine_identity() -> str:
    """This machine, boot and PID namespace: where a pid means the same process.

    The machine id alone is shared by cloned VMs and by containers built from one image;
    the boot id tells apart machines (and boots) and the PID namespace containers on one
    kernel. Empty where none of it can be read: such workers are judged by lease only.
    """
    try:
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_namespace = ""
    parts = [_read("/etc/machine-id") or _read("/var/lib/dbus/machine-id"),
             _read("/proc/sys/kernel/random/boot_id"), pid_namespace]
    if not all(parts):
        return ""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


# Made when the consumer process starts (the module is imported before Huey forks its
# process workers, so they inherit the consumer's identity).
MACHINE = machine_identity()
PROCESS_KEY = uuid.uuid4().hex
_identity = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{PROCESS_KEY[:12]}")


def current_worker_id() -> str:
    """This consumer process's worker id, "host:pid:key", unique per process start."""
    return _identity[1]


def new_identity() -> str:
    """Take a new identity (a process that is a new consumer, not a forked worker of one)."""
    global PROCESS_KEY, _identity
    PROCESS_KEY = uuid.uuid4().hex
    _identity = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{PROCESS_KEY[:12]}")
    return _identity[1]


def consumer_pid() -> int:
    """The pid of the consumer this process works for (process workers are its children)."""
    return _identity[0]


def register(worker_type: str, concurrency: int, backend: str) -> None:
    """Create or refresh this consumer's Worker row.

    Every worker thread or forked worker process of one consumer calls this at start, at
    the same moment, so a lost race to insert the row becomes an update.
    """
    wid = current_worker_id()
    now = utcnow()
    values = dict(worker_type=worker_type, concurrency=concurrency, queue_backend=backend,
                  heartbeat_at=now, stopped_at=None)
    if db.session.get(Worker, wid) is None:
        try:
            with db.session.begin_nested():
                db.session.add(Worker(id=wid, host=socket.gethostname(), pid=consumer_pid(),
                                      process_key=PROCESS_KEY, machine=MACHINE or None,
                                      started_at=now, **values))
            db.session.commit()
            logger.info("worker %s registered (%s x %s, %s)", wid, concurrency, worker_type, backend)
            return
        except sa.exc.IntegrityError:
            db.session.rollback()
    db.session.execute(sa.update(Worker).where(Worker.id == wid).values(**values))
    db.session.commit()


def process_is_gone(worker: Worker | None) -> bool:
    """True when `worker` ran on this machine and PID namespace and its process is gone."""
    if worker is None or not MACHINE or worker.machine != MACHINE:
        return False
    if worker.id == current_worker_id() or worker.pid in (os.getpid(), consumer_pid()):
        return False
    try:
        os.kill(worker.pid, 0)
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
