"""Outages of the database or the broker, logged as events rather than as tracebacks.

A worker retries whatever failed every fraction of a second while the database or Redis
is away; logging a traceback each time wrote 121,580 lines in a one-minute Redis outage.
Each `Outage` logs one warning when it starts, one short line a minute while it lasts,
and one when it ends, whichever thread or loop noticed it.
"""
import logging
import threading
import time

import psycopg
import sqlalchemy as sa

logger = logging.getLogger(__name__)


class Outage:
    """One kind of dependency (the database, the broker) that may stop answering."""

    def __init__(self, what: str, every: float = 60.0, clock=time.monotonic):
        self.what = what
        self.every = every
        self.clock = clock
        self.since: float | None = None
        self._last_line = 0.0
        self._failures = 0
        self._lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, where: str, exc: BaseException) -> None:
        """A call to the dependency failed: log it if the outage starts or a minute passed."""
        now = self.clock()
        with self._lock:
            self._failures += 1
            if self.since is None:
                self.since = self._last_line = now
                self._failures = 1
                logger.warning("%s unreachable (%s: %s: %s); retrying quietly, a line a minute "
                               "until it is back", self.what, where, type(exc).__name__,
                               _first_line(exc))
            elif now - self._last_line >= self.every:
                self._last_line = now
                logger.warning("%s still unreachable after %d s (%d failed calls)",
                               self.what, now - self.since, self._failures)

    def answered(self) -> None:
        """A call succeeded: an ongoing outage ends here (logged once)."""
        if self.since is None:  # The common case, without the lock.
            return
        with self._lock:
            if self.since is None:
                return
            lasted, failures = self.clock() - self.since, self._failures
            self.since = None
        logger.warning("%s is back after %d s (%d failed calls meanwhile)",
                       self.what, lasted, failures)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


DATABASE = Outage("database")
BROKER = Outage("queue broker")


def database_unreachable(where: str, exc: BaseException) -> None:
    DATABASE.failed(where, exc)


def database_answered() -> None:
    DATABASE.answered()


def report(where: str, exc: BaseException) -> bool:
    """Count `exc` against the outage it belongs to; False when it is neither kind."""
    kind = kind_of(exc)
    if kind is None:
        return False
    kind.failed(where, exc)
    return True


def kind_of(exc: BaseException) -> Outage | None:
    """DATABASE for a database error, BROKER for a Redis one, None for anything else."""
    seen = exc
    while seen is not None:
        module = type(seen).__module__
        if isinstance(seen, sa.exc.DBAPIError) or module.startswith(("psycopg", "sqlite3")):
            return DATABASE
        if module.startswith("redis") or isinstance(seen, ConnectionError):
            return BROKER
        seen = seen.__cause__ or seen.__context__
    return None


# SQLSTATEs that mean the connection or the server went away, not that the statement failed:
# class 08 (connection exception), and the server shutting down or starting up.
_GONE_STATES = ("57P01", "57P02", "57P03")
# psycopg raises subclasses named by SQLSTATE (AdminShutdown is an OperationalError): the
# class alone does not tell a lost server from a lock timeout; the state does.
_DRIVER_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` says the database connection was lost (not a failed statement).

    A lock timeout or a constraint violation is the task's own failure and counts; a
    server that restarted, refused the connection or vanished from the network does not.
    """
    seen = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError):
            if seen.connection_invalidated:
                return True
            seen = seen.orig
            continue
        state = getattr(seen, "sqlstate", None)
        if isinstance(seen, _DRIVER_CONNECTION_ERRORS):
            return state is None or state.startswith("08") or state in _GONE_STATES
        seen = seen.__cause__ or seen.__context__
    return False


class QuietWhileAway(logging.Filter):
    """Drops Huey's per-task lines while an outage lasts: each queued job is picked up,
    refused its claim and rescheduled every few seconds until the database is back."""

    NOISY = ("Executing %s", "Task %s cancelled by %s (pre-execute).",
             "Added task %s to schedule, eta %s")

    def filter(self, record: logging.LogRecord) -> bool:
        return not ((DATABASE.ongoing or BROKER.ongoing) and record.msg in self.NOISY)


def quiet_huey_while_away() -> None:
    """Attach `QuietWhileAway` to Huey's logger (once)."""
    huey_logger = logging.getLogger("huey")
    if not any(isinstance(f, QuietWhileAway) for f in huey_logger.filters):
        huey_logger.addFilter(QuietWhileAway())
