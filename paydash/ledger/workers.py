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
import ctypes
import datetime as dt
import hashlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid

import sqlalchemy as sa

from paydash.extensions import db
from paydash.ledger import outage
from paydash.ledger.dbclock import utcnow
from paydash.ledger.models import Job
from paydash.ledger.models import JobState
from paydash.ledger.models import Worker

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # From <sys/prctl.h>.

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


def start_heartbeat(app, huey, interval: float, on_recover=None,
                    recovery_interval: float = 5.0, on_beat=None) -> bool:
    """Start this process's heartbeat thread once (a forked child starts its own).

    `on_beat` runs after each beat (outcomes held during a database outage).
    `on_recover` (a recovery pass) runs every `recovery_interval` on a thread of its own,
    never on the worker threads: recovery must not queue behind the work it rescues, and
    heartbeats must not wait for it (draining a backlog after a broker outage can take
    minutes), or the leases of the jobs running meanwhile expire and they run twice.
    """
    global _started_in_pid
    with _lock:
        if _started_in_pid == os.getpid():
            return False
        _started_in_pid = os.getpid()

    def heartbeat():
        leave_if_orphaned()
        beat([task.id for task in list(huey._tasks_in_flight)])
        if on_beat is not None:
            on_beat()

    _every(interval, app, heartbeat, "paydash-heartbeat")
    if on_recover is not None:
        _every(recovery_interval, app, on_recover, "paydash-recovery")
    return True


def leave_if_orphaned() -> None:
    """A process worker whose consumer died exits: its jobs are recovered under the lease.

    Left running, an orphan kept taking jobs under the dead consumer's id and kept that
    consumer looking alive. PR_SET_PDEATHSIG (`die_with_parent`) covers Linux; this
    check, each heartbeat, covers the rest.
    """
    if os.getpid() != consumer_pid() and os.getppid() != consumer_pid():
        logger.warning("worker %s: its consumer (pid %s) is gone; this process exits",
                       current_worker_id(), consumer_pid())
        os._exit(70)


def die_with_consumer() -> None:
    """Every process the consumer forks (workers, scheduler) dies with it (call once, in it)."""
    if sys.platform.startswith("linux"):
        os.register_at_fork(after_in_child=die_with_parent)


def die_with_parent() -> None:
    """In a forked process worker: ask Linux to send SIGKILL when the consumer dies."""
    if os.getpid() == consumer_pid() or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError) as exc:
        logger.warning("worker %s: cannot ask to die with the consumer (%s); the heartbeat "
                       "checks instead", current_worker_id(), exc)
        return
    if os.getppid() != consumer_pid():  # The consumer died before the request was made.
        os._exit(70)


def _every(interval: float, app, fn, name: str) -> None:
    """Call `fn` in an app context every `interval` seconds on a daemon thread."""
    def run():
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                with app.app_context():
                    fn()
                outage.DATABASE.answered()
            except Exception as exc:  # The database or broker may be unreachable; go on.
                if not outage.report(f"{name} of worker {current_worker_id()}", exc):
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
