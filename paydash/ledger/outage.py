"""Outages of the database or the broker, logged as events rather than as tracebacks.

A worker retries whatever failed every fraction of a second while the database or Redis
is away; logging a traceback each time wrote 121,580 lines in a one-minute Redis outage.
Each `Outage` logs one warning when it starts, one short line a minute while it lasts,
and one when it ends, whichever thread or loop noticed it.
"""
import logging
import threading
import time

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
